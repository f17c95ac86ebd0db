"""Who is calling the API, for which practice, allowed to do what.

Partners send `Authorization: Bearer rk_...` (an API key of one practice, with its scopes).
Staff send a simplejwt access token; they act for a practice they are a member of (the
`X-Practice` header names it when they belong to several), with the scopes of their role.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from api.models import Scope
from api.services import api_key_actor, api_key_authenticate
from tenants.models import AuditEvent, StaffMembership, Tenant
from tenants.services import Actor, client_ip
from tenants.two_factor import TwoFactorError, two_factor_device, two_factor_required, two_factor_verify

ROLE_SCOPES = {
    StaffMembership.Role.OWNER: frozenset(Scope.values),
    StaffMembership.Role.FRONT_DESK: frozenset(Scope.values),
    StaffMembership.Role.VIEWER: frozenset(s for s in Scope.values if s.endswith(":read")) | {Scope.PATIENTS_DOB},
}


@dataclass(frozen=True)
class ApiClient:
    """`request.auth` for every API request: the practice, what may be done, who to audit."""

    tenant: Tenant
    scopes: frozenset[str]
    actor: Actor
    client_id: str  # keeps idempotency keys and throttles apart between clients


class _KeyUser(AnonymousUser):
    """request.user for a key: authenticated, but nobody's staff account."""

    @property
    def is_authenticated(self):
        return True


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword or not parts[1].startswith(b"rk_"):
            return None  # not a key: a JWT, perhaps
        key = api_key_authenticate(raw=parts[1].decode(errors="replace"))
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid, or was revoked.")
        client = ApiClient(tenant=key.tenant, scopes=frozenset(key.scopes), actor=api_key_actor(key),
                           client_id=f"key:{key.pk}")
        return _KeyUser(), client

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class StaffJWTAuthentication(JWTAuthentication):
    def authenticate(self, request):
        found = super().authenticate(request)
        if found is None:
            return None
        user, _token = found
        memberships = {m.tenant.slug: m for m in StaffMembership.objects.select_related("tenant").filter(
            user=user, tenant__is_active=True)}
        wanted = request.headers.get("X-Practice")
        if wanted:
            membership = memberships.get(wanted)
        elif len(memberships) == 1:
            membership = next(iter(memberships.values()))
        else:
            raise exceptions.AuthenticationFailed(
                "Name the practice in the X-Practice header: you work for " + (", ".join(sorted(memberships)) or "none")
                + ".")
        if membership is None:
            raise exceptions.AuthenticationFailed("You are not a member of that practice.")
        actor = Actor(type=AuditEvent.ActorType.USER, user=user, label=user.get_username())
        return user, ApiClient(tenant=membership.tenant, scopes=ROLE_SCOPES[membership.role], actor=actor,
                               client_id=f"user:{user.pk}")


class HasScopes(BasePermission):
    """The view's `required_scopes` maps HTTP methods to the scope each needs."""

    message = "This key does not have the scope this needs."

    def has_permission(self, request, view):
        client = request.auth
        if not isinstance(client, ApiClient):
            return False
        needed = view.required_scopes.get(request.method)
        if needed is None:
            return False
        if needed not in client.scopes:
            self.message = f"This needs the {needed} scope."
            return False
        return True


class ClientThrottle(SimpleRateThrottle):
    """Per key (or staff user), so one partner's burst slows nobody else."""

    scope = "client"

    def get_rate(self):
        # Read when used, not when the class was made: API_RATE can change without a restart of the tests.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        client = request.auth
        return self.cache_format % {"scope": self.scope, "ident": client.client_id} if client else None


class StaffTokenSerializer(TokenObtainPairSerializer):
    """A staff token for the password, and for staff with an authenticator app (owners must have one) its code
    too: the API reaches the same patient data as the admin, so it asks for the same proof."""

    code = serializers.CharField(required=False, allow_blank=True, write_only=True,
                                 help_text="The 6-digit code of the staff member's authenticator app.")

    def validate(self, attrs):
        tokens = super().validate(attrs)
        device = two_factor_device(user=self.user)
        if device is None and two_factor_required(user=self.user):
            raise exceptions.AuthenticationFailed(
                "Owners sign in with a code: set up two-factor sign-in in the admin first.")
        if device is not None:
            if not attrs.get("code"):
                raise exceptions.AuthenticationFailed("Send the 6-digit code of your authenticator app as `code`.")
            try:
                actor = Actor(type=AuditEvent.ActorType.USER, user=self.user, label=self.user.get_username(),
                              ip=client_ip(self.context["request"]))
                two_factor_verify(device=device, token=attrs["code"], actor=actor)
            except TwoFactorError as error:
                raise exceptions.AuthenticationFailed(str(error)) from None
        return tokens
