import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants import hours, webhooks
from tenants.models import (
    AuditEvent,
    BusinessHours,
    Closure,
    StaffMembership,
    Tenant,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenants.selectors import (
    business_hours_week,
    staff_role,
    staff_roles_by_tenant,
    webhook_deliveries_stalled,
    webhook_endpoint_ids_subscribed,
)
from tenants.spoken import say_date

logger = logging.getLogger(__name__)

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
OWNER_ROLES = frozenset({StaffMembership.Role.OWNER})


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
        actor_role_check(actor=actor, tenant=tenant, roles=OWNER_ROLES, doing=f"change {', '.join(owner_only)}")
    for field, value in changes.items():
        setattr(tenant, field, value)
    tenant.full_clean()
    with transaction.atomic():
        tenant.save()
        audit_record(actor=actor, action="change", object_type="tenants.Tenant", object_id=tenant.pk,
                     tenant=tenant, detail={"fields": sorted(changes)})
    return tenant


# Opening hours and closures. Nothing keeps a copy of them: every call and availability search reads the
# rows (tenants.selectors.practice_facts, bookings.selectors.availability_calendar), so a saved change is what
# the next caller hears and is offered.


class HoursInvalid(ValueError):
    """The week cannot be saved as typed; `problems` names what is wrong, day by day (Monday = 0), in plain words."""

    def __init__(self, problems: dict[int, list[str]]):
        super().__init__(" ".join(message for weekday in sorted(problems) for message in problems[weekday]))
        self.problems = problems


class ClosureInvalid(ValueError):
    """The closure cannot be added; the message is for the front desk, `field` ("date" or "reason") is what to fix."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


class ClosureExists(ClosureInvalid):
    """The practice is already closed that day."""


class ClosureInPast(ClosureInvalid):
    """The day has gone by: no caller can ask about it or book it, so closing it would change nothing."""


def business_hours_replace(*, tenant: Tenant, week: dict[int, list[hours.Slot]], actor: Actor) -> list[int]:
    """Make `week` the practice's opening hours (weekday, Monday = 0 -> intervals; a day left out is closed).

    Every day is checked before anything is saved: HoursInvalid names each day's problems and nothing changes.
    Returns the weekdays whose hours changed, recorded before and after in one audit event; none, no event.
    """
    actor_role_check(actor=actor, tenant=tenant, roles=WRITE_ROLES, doing="change the practice's hours")
    if not set(week) <= set(range(7)):
        raise ValueError(f"Weekdays are 0 (Monday) to 6 (Sunday), not {sorted(set(week) - set(range(7)))}.")
    problems = hours.week_problems(week)
    if problems:
        raise HoursInvalid(problems)
    after: dict[int, hours.Intervals] = {weekday: sorted(week[weekday]) for weekday in week if week[weekday]}
    with transaction.atomic():
        # Two people saving at once save one after the other, each against the hours the other left.
        Tenant.objects.select_for_update().only("pk").get(pk=tenant.pk)
        before = business_hours_week(tenant=tenant)
        changed = [weekday for weekday in range(7) if before.get(weekday, []) != after.get(weekday, [])]
        if not changed:
            return []
        BusinessHours.objects.for_tenant(tenant).filter(weekday__in=changed).delete()
        BusinessHours.objects.bulk_create(
            BusinessHours(tenant=tenant, weekday=weekday, opens=opens, closes=closes)
            for weekday in changed for opens, closes in after.get(weekday, [])
        )
        audit_record(actor=actor, action="change", object_type="tenants.BusinessHours", tenant=tenant,
                     detail={"before": hours.week_for_record(before, changed),
                             "after": hours.week_for_record(after, changed)})
    return changed


def _closure_record(closure: Closure) -> dict[str, str]:
    return {"date": closure.date.isoformat(), "reason": closure.reason}


def closure_add(*, tenant: Tenant, date: dt.date, reason: str, actor: Actor, today: dt.date | None = None) -> Closure:
    """Close the practice all day on `date` (practice-local), telling callers `reason`.

    Today is allowed (a snow day); a day gone by is refused with ClosureInPast: the receptionist never offers or
    talks about past days, so such a closure would change nothing callers hear, only clutter the list.
    """
    actor_role_check(actor=actor, tenant=tenant, roles=WRITE_ROLES, doing="close the practice for a day")
    today = today or timezone.localdate(timezone=tenant.tzinfo)
    reason = " ".join(reason.split())
    if date < today:
        raise ClosureInPast(f"{say_date(date)}, {date.year} has already passed: close today or a day to come.",
                            field="date")
    if not reason:
        raise ClosureInvalid("Give a reason: callers are told why the practice is closed.", field="reason")
    longest = Closure._meta.get_field("reason").max_length
    if len(reason) > longest:
        raise ClosureInvalid(f"Keep the reason to {longest} characters (this one has {len(reason)}): "
                             f"callers hear it read out.", field="reason")
    try:
        with transaction.atomic():
            closure = Closure.objects.create(tenant=tenant, date=date, reason=reason)
            audit_record(actor=actor, action="create", object_type="tenants.Closure", object_id=closure.pk,
                         tenant=tenant, detail={"before": None, "after": _closure_record(closure)})
    except IntegrityError:
        existing = Closure.objects.for_tenant(tenant).filter(date=date).first()
        if existing is None:
            raise
        raise ClosureExists(f"{say_date(date)} is already closed: {existing.reason}.", field="date") from None
    return closure


def closure_remove(*, tenant: Tenant, closure_id: int, actor: Actor) -> Closure | None:
    """Open the practice again on a closure's day; None if the practice has no such closure (already removed)."""
    actor_role_check(actor=actor, tenant=tenant, roles=WRITE_ROLES, doing="remove closures")
    with transaction.atomic():
        closure = Closure.objects.for_tenant(tenant).select_for_update().filter(pk=closure_id).first()
        if closure is None:
            return None
        audit_record(actor=actor, action="delete", object_type="tenants.Closure", object_id=closure.pk,
                     tenant=tenant, detail={"before": _closure_record(closure), "after": None})
        closure.delete()
    return closure


# Webhooks to partners (see tenants/webhooks.py for the signature and what is retried). A delivery is a row
# first, made in the transaction of the change it reports, so a rolled-back booking tells nobody; a task
# POSTs it once that change is committed.

# A pending delivery whose attempt is this overdue lost its task (a worker gone, the broker down at commit).
STALLED_AFTER = dt.timedelta(minutes=10)
STALLED_BATCH = 500


class WebhookNotDelivered(Exception):
    """The endpoint may take the event later (a 5xx, 408, 429, no answer): the task tries again in `retry_in` s."""

    def __init__(self, message: str, *, retry_in: int):
        super().__init__(message)
        self.retry_in = retry_in


def _deliver_on_commit(delivery_id: int) -> None:
    from tenants.tasks import webhook_deliver  # the tasks module imports this one

    # robust: the change stands whatever the broker does; the stalled-delivery sweep queues it again.
    transaction.on_commit(lambda: webhook_deliver.delay(delivery_id), robust=True)


def event_publish(*, tenant: Tenant, event_type: str, data: dict) -> list[WebhookDelivery]:
    """Queue the event for each of the practice's active endpoints that want it, once this transaction commits.

    Call it inside the change's transaction. `data` is ids and the minimum needed, never PHI: no names, phone
    numbers, dates of birth or what was said. One indexed query when the practice has no endpoint for it.
    """
    if event_type not in webhooks.EVENT_TYPES:
        raise ValueError(f"{event_type!r} is not an event: {', '.join(webhooks.EVENT_TYPES)}.")
    endpoint_ids = webhook_endpoint_ids_subscribed(tenant=tenant, event_type=event_type)
    if not endpoint_ids:
        return []
    now = timezone.now()
    event_id = uuid.uuid4()
    payload = webhooks.event_payload(event_id=str(event_id), event_type=event_type, practice=tenant.slug,
                                     created=now, data=data)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(tenant=tenant, endpoint_id=endpoint_id, event_type=event_type, event_id=event_id,
                        payload=payload, queued_at=now, next_attempt_at=now)
        for endpoint_id in endpoint_ids
    )
    for delivery in deliveries:
        _deliver_on_commit(delivery.pk)
    return deliveries


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """POST a pending delivery once and record the attempt; a delivered or failed one is left as it is.

    Raises WebhookNotDelivered when the endpoint may take it later and this round's MAX_ATTEMPTS are not
    used up: the delivery stays pending, due again at next_attempt_at. No row is locked during the POST.
    """
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint")
                    .filter(pk=delivery_id).first())
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return delivery
        if not delivery.endpoint.is_active:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
            delivery.last_error = "The endpoint was revoked before the event was delivered."
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return delivery
        started = timezone.now()
        # Not due while this attempt runs, so the stalled-delivery sweep leaves it alone.
        delivery.next_attempt_at = started + dt.timedelta(seconds=2 * webhooks.TIMEOUT_SECONDS)
        delivery.save(update_fields=["next_attempt_at"])
    endpoint = delivery.endpoint
    result = webhooks.webhook_post(url=endpoint.url, body=webhooks.body_encode(delivery.payload),
                                   secret=endpoint.secret, event_type=delivery.event_type,
                                   event_id=str(delivery.event_id))
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.attempt_count += 1
        WebhookAttempt.objects.create(
            tenant_id=delivery.tenant_id, delivery=delivery, number=delivery.attempt_count, at=started,
            status_code=result.status_code, error=result.error, duration_ms=result.duration_ms,
        )
        delivery.last_status_code, delivery.last_error = result.status_code, result.error
        retry_in = None
        if delivery.status != WebhookDelivery.Status.PENDING:
            pass  # another attempt of the same delivery (a duplicate task) settled it meanwhile
        elif result.outcome is webhooks.Outcome.DELIVERED:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.DELIVERED, timezone.now(), None)
        else:
            in_round = delivery.attempts.filter(at__gte=delivery.queued_at).count()
            if result.outcome is webhooks.Outcome.RETRY and in_round < webhooks.MAX_ATTEMPTS:
                retry_in = webhooks.retry_delay(in_round)
                delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=retry_in)
            else:
                delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
                logger.warning("webhook delivery %s failed after %s attempt(s): %s", delivery.pk, in_round,
                               result.error)
        delivery.save(update_fields=["attempt_count", "last_status_code", "last_error", "status", "delivered_at",
                                     "next_attempt_at"])
    if retry_in is not None:
        raise WebhookNotDelivered(f"delivery {delivery.pk}: {result.error}", retry_in=retry_in)
    return delivery


def webhook_delivery_retry(*, delivery: WebhookDelivery, actor: Actor) -> bool:
    """Queue a failed delivery again, with a fresh round of attempts; False if it was not failed."""
    actor_role_check(actor=actor, tenant=delivery.tenant, roles=WRITE_ROLES, doing="send webhooks again")
    with transaction.atomic():
        current = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        if current.status != WebhookDelivery.Status.FAILED:
            return False
        now = timezone.now()
        current.status, current.queued_at, current.next_attempt_at = WebhookDelivery.Status.PENDING, now, now
        current.save(update_fields=["status", "queued_at", "next_attempt_at"])
        audit_record(actor=actor, action="retry", object_type="tenants.WebhookDelivery", object_id=current.pk,
                     tenant=current.tenant_id)
        _deliver_on_commit(current.pk)
    return True


def webhook_deliveries_requeue_stalled(*, now: dt.datetime | None = None) -> int:
    """Queue again the pending deliveries whose task was lost; how many. Safe to run as often as wanted."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(webhook_deliveries_stalled(since=now - STALLED_AFTER).select_for_update(skip_locked=True)
                   .order_by("next_attempt_at").values_list("pk", flat=True)[:STALLED_BATCH])
        # Due now: if this task is lost too, the next sweep finds it again.
        WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now)
        for delivery_id in ids:
            _deliver_on_commit(delivery_id)
    if ids:
        logger.warning("queued %s stalled webhook delivery(ies) again", len(ids))
    return len(ids)


def webhook_endpoint_create(
    *, tenant: Tenant, url: str, event_types: Iterable[str], actor: Actor, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint, and its signing secret: returned this once (the admin shows it once), stored encrypted."""
    actor_role_check(actor=actor, tenant=tenant, roles=OWNER_ROLES, doing="add webhook endpoints")
    secret = webhooks.secret_new()
    endpoint = WebhookEndpoint(tenant=tenant, url=url.strip(), event_types=list(event_types),
                               description=description.strip(), secret=secret)
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save()
        audit_record(actor=actor, action="create", object_type="tenants.WebhookEndpoint", object_id=endpoint.pk,
                     tenant=tenant, detail={"event_types": endpoint.event_types})
    return endpoint, secret


WEBHOOK_ENDPOINT_EDITABLE = ("description", "url", "event_types")


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, changes: dict[str, Any], actor: Actor) -> WebhookEndpoint:
    """Change where an endpoint is or what it wants; its secret stays (a new secret is a new endpoint)."""
    actor_role_check(actor=actor, tenant=endpoint.tenant, roles=OWNER_ROLES, doing="change webhook endpoints")
    unknown = sorted(set(changes) - set(WEBHOOK_ENDPOINT_EDITABLE))
    if unknown:
        raise ValueError(f"Not changeable here: {', '.join(unknown)}.")
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save(update_fields=sorted(changes))
        audit_record(actor=actor, action="change", object_type="tenants.WebhookEndpoint", object_id=endpoint.pk,
                     tenant=endpoint.tenant_id, detail={"fields": sorted(changes)})
    return endpoint


def webhook_endpoint_revoke(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """The endpoint gets nothing more, for good, including deliveries still pending; revoking again changes nothing."""
    actor_role_check(actor=actor, tenant=endpoint.tenant, roles=OWNER_ROLES, doing="revoke webhook endpoints")
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if current.is_active:
            current.is_active = False
            current.save(update_fields=["is_active"])
            audit_record(actor=actor, action="revoke", object_type="tenants.WebhookEndpoint", object_id=current.pk,
                         tenant=current.tenant_id)
    return current
