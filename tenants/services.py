from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from tenants.models import AuditEvent, StaffMembership, Tenant
from tenants.selectors import staff_role, staff_roles_by_tenant

# Settings that change what callers hear, where their calls go, or how long their data is
# kept: the practice's owner decides them, not everyone at the front desk.
OWNER_ONLY_FIELDS = frozenset({
    "slug",
    "is_active",
    "transfer_number",
    "record_calls",
    "recording_consent",
    "retention_call_audio_days",
    "retention_transcript_days",
    "retention_inactive_patient_days",
})


WRITE_ROLES = frozenset({StaffMembership.Role.OWNER, StaffMembership.Role.FRONT_DESK})


class RoleRequired(PermissionDenied):
    """The acting staff member's role in this practice does not allow the change."""


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, which only a trusted proxy may have rewritten (see asgi.py)."""
    return request.META.get("REMOTE_ADDR")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user, an API key, the system, or the phone agent on a call."""

    type: str
    user: AbstractBaseUser | None = None
    label: str = ""
    ip: str | None = None

    @classmethod
    def from_request(cls, request) -> "Actor":
        user = request.user if request.user.is_authenticated else None
        label = user.get_username() if user else "anonymous"
        return cls(type=AuditEvent.ActorType.USER, user=user, label=label, ip=client_ip(request))

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(type=AuditEvent.ActorType.SYSTEM, label=label)


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    tenant: Tenant | int | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor_type=actor.type,
        actor_user=actor.user,
        actor_label=actor.label,
        ip=actor.ip,
        tenant_id=tenant.pk if isinstance(tenant, Tenant) else tenant,
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        detail=detail or {},
    )


def audit_record_for_staff(*, actor: Actor, user: AbstractBaseUser | None, action: str, detail: dict | None = None) -> None:
    """An event about a staff member (a login, a lockout), filed under each of their practices."""
    tenant_ids = sorted(staff_roles_by_tenant(user=user)) if user is not None else []
    for tenant_id in tenant_ids or [None]:
        audit_record(actor=actor, action=action, object_type="auth.User",
                     object_id=user.pk if user is not None else None, tenant=tenant_id, detail=detail)


def actor_role_check(*, actor: Actor, tenant: Tenant, roles: frozenset[str], doing: str) -> None:
    """Refuse a staff member whose role in `tenant` is not one of `roles`.

    Only people have roles: the system (an operator's command) and the phone agent act for
    the practice itself, and an API key's scopes are checked where the key is.
    """
    if actor.type != AuditEvent.ActorType.USER:
        return
    if actor.user is not None and actor.user.is_superuser:
        return
    role = staff_role(user=actor.user, tenant=tenant) if actor.user is not None else None
    if role not in roles:
        raise RoleRequired(f"Your role at {tenant.name} does not allow you to {doing}.")


def practice_update(*, tenant: Tenant, changes: dict[str, Any], actor: Actor) -> Tenant:
    """Change a practice's settings; some of them only its owner may change."""
    actor_role_check(actor=actor, tenant=tenant, roles=WRITE_ROLES, doing="change the practice's settings")
    owner_only = sorted(set(changes) & OWNER_ONLY_FIELDS)
    if owner_only:
        actor_role_check(actor=actor, tenant=tenant, roles=frozenset({StaffMembership.Role.OWNER}),
                         doing=f"change {', '.join(owner_only)}")
    for field, value in changes.items():
        setattr(tenant, field, value)
    tenant.full_clean()
    with transaction.atomic():
        tenant.save()
        audit_record(actor=actor, action="change", object_type="tenants.Tenant", object_id=tenant.pk,
                     tenant=tenant, detail={"fields": sorted(changes)})
    return tenant
