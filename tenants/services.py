from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from tenants.models import AuditEvent, Tenant


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
        return cls(type=AuditEvent.ActorType.USER, user=user, label=label, ip=request.META.get("REMOTE_ADDR"))

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(type=AuditEvent.ActorType.SYSTEM, label=label)


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    tenant: Tenant | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor_type=actor.type,
        actor_user=actor.user,
        actor_label=actor.label,
        ip=actor.ip,
        tenant=tenant,
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        detail=detail or {},
    )
