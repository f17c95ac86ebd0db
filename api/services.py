"""Partner API keys and idempotent POSTs: validate, then save in a transaction."""

import datetime as dt
import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone

from api import keys
from api.models import ApiKey, IdempotentRequest, Scope
from tenants.models import AuditEvent, Tenant
from tenants.services import Actor, audit_record

LAST_USED_EVERY = dt.timedelta(minutes=1)  # a key in use writes its last use at most this often
IDEMPOTENCY_KEPT = dt.timedelta(days=1)


class InvalidScopes(ValueError):
    pass


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was first sent with a different request."""


class IdempotentRequestInProgress(Exception):
    """The first request with this Idempotency-Key has not finished yet."""


def api_key_issue(*, tenant: Tenant, name: str, scopes: list[str], actor: Actor) -> tuple[ApiKey, str]:
    """A new key for the practice, and the key itself: returned this once, stored only as a hash."""
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise InvalidScopes(f"Unknown scopes: {', '.join(unknown)}. Known: {', '.join(Scope.values)}.")
    if not name.strip():
        raise InvalidScopes("Name the key after who will use it.")
    raw, parsed = keys.key_new()
    with transaction.atomic():
        key = ApiKey.objects.create(tenant=tenant, name=name.strip(), prefix=parsed.prefix,
                                    secret_hash=keys.secret_hash(parsed.secret), scopes=sorted(set(scopes)),
                                    created_by=actor.user)
        audit_record(actor=actor, action="create", object_type="api.ApiKey", object_id=key.pk, tenant=tenant,
                     detail={"scopes": key.scopes})
    return key, raw


def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=key.pk, revoked_at=None).update(revoked_at=timezone.now())
        if updated:
            audit_record(actor=actor, action="revoke", object_type="api.ApiKey", object_id=key.pk,
                         tenant=key.tenant_id)
    key.refresh_from_db()
    return key


def api_key_authenticate(*, raw: str) -> ApiKey | None:
    """The live key this is, or None. A malformed key or a wrong checksum costs no query."""
    parsed = keys.key_parse(raw)
    if parsed is None:
        return None
    key = ApiKey.objects.select_related("tenant").filter(prefix=parsed.prefix, revoked_at=None,
                                                         tenant__is_active=True).first()
    if key is None or not keys.secret_matches(parsed.secret, key.secret_hash):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_actor(key: ApiKey) -> Actor:
    return Actor(type=AuditEvent.ActorType.API_KEY, label=f"{key.name} (rk_{key.prefix})")


def _request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(json.dumps([method, path, body.decode(errors="replace")]).encode()).hexdigest()


def idempotent_request_begin(
    *, tenant: Tenant, client: str, key: str, method: str, path: str, body: bytes
) -> IdempotentRequest | None:
    """The stored answer to replay, or None when this is the first request with the key (now reserved).

    Raises IdempotencyKeyReused for the same key on a different request, and
    IdempotentRequestInProgress while the first is still being answered.
    """
    request_hash = _request_hash(method, path, body)
    IdempotentRequest.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_KEPT).delete()
    try:
        with transaction.atomic():
            IdempotentRequest.objects.create(tenant=tenant, client=client, key=key, request_hash=request_hash)
        return None
    except IntegrityError:
        earlier = IdempotentRequest.objects.get(tenant=tenant, client=client, key=key)
    if earlier.request_hash != request_hash:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
    if earlier.status_code is None:
        raise IdempotentRequestInProgress("A request with this Idempotency-Key is still being answered.")
    return earlier


def idempotent_request_finish(*, tenant: Tenant, client: str, key: str, status_code: int, response) -> None:
    """Keep the answer (JSON-ready data) for retries; a server error frees the key so a retry runs again."""
    rows = IdempotentRequest.objects.filter(tenant=tenant, client=client, key=key)
    if status_code >= 500:
        rows.delete()
        return
    row = rows.first()
    if row is not None:  # saved, not updated in bulk: the field encrypts on save
        row.status_code, row.response = status_code, json.dumps(response, default=str)
        row.save(update_fields=["status_code", "response"])
