import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from tenants.hours import Intervals
from tenants.models import (
    BusinessHours,
    Closure,
    PhoneNumber,
    StaffMembership,
    Tenant,
    WebhookDelivery,
    WebhookEndpoint,
)


def tenant_by_slug(*, slug: str) -> Tenant | None:
    """The active practice with this slug."""
    return Tenant.objects.filter(slug=slug, is_active=True).first()


def practice_number(*, tenant: Tenant) -> str | None:
    """A number callers dial to reach the practice."""
    return PhoneNumber.objects.for_tenant(tenant).order_by("id").values_list("number", flat=True).first()


def tenant_for_number(*, number: str) -> Tenant | None:
    """The active practice a dialled number belongs to."""
    phone = PhoneNumber.objects.select_related("tenant").filter(number=number, tenant__is_active=True).first()
    return phone.tenant if phone else None


def staff_roles_by_tenant(*, user: AbstractBaseUser) -> dict[int, str]:
    """tenant id -> the user's role there."""
    return dict(StaffMembership.objects.filter(user=user).values_list("tenant_id", "role"))


def staff_role(*, user: AbstractBaseUser, tenant: Tenant) -> str | None:
    return StaffMembership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()


def staff_timezones(*, user: AbstractBaseUser) -> set[str]:
    """The time zones of the practices the user works for."""
    return set(StaffMembership.objects.filter(user=user).values_list("tenant__timezone", flat=True))


@dataclass(frozen=True)
class PracticeFacts:
    """What callers ask about a practice: where it is, when it is open, what it accepts."""

    name: str
    address: str
    parking: str
    insurance_accepted: list[str]
    insurance_not_accepted: list[str]
    new_patient_note: str
    week: dict[int, Intervals]  # weekday (Monday = 0) -> opening intervals, in order
    closures: dict[dt.date, str]  # from today on: day -> reason

    def open_at(self, moment: dt.datetime) -> bool:
        """Whether the practice is open at this practice-local moment."""
        intervals, _ = self.hours_on(moment.date())
        return any(opens <= moment.time() < closes for opens, closes in intervals)

    def hours_on(self, day: dt.date) -> tuple[Intervals, str]:
        """The day's opening intervals, and the closure's reason if it is closed for one."""
        if day in self.closures:
            return [], self.closures[day]
        return self.week.get(day.weekday(), []), ""


def business_hours_week(*, tenant: Tenant) -> dict[int, Intervals]:
    """weekday (Monday = 0) -> its opening intervals in order; a closed day is missing."""
    week: dict[int, Intervals] = {}
    for weekday, opens, closes in BusinessHours.objects.for_tenant(tenant).order_by("weekday", "opens").values_list(
        "weekday", "opens", "closes"
    ):
        week.setdefault(weekday, []).append((opens, closes))
    return week


def closures_upcoming(*, tenant: Tenant, today: dt.date) -> list[Closure]:
    """The practice's closures from `today` (practice-local) on, soonest first."""
    return list(Closure.objects.for_tenant(tenant).filter(date__gte=today).order_by("date"))


def practice_facts(*, tenant: Tenant, today: dt.date) -> PracticeFacts:
    week = business_hours_week(tenant=tenant)
    closures = {closure.date: closure.reason for closure in closures_upcoming(tenant=tenant, today=today)}
    return PracticeFacts(
        name=tenant.name,
        address=tenant.address,
        parking=tenant.parking_note,
        insurance_accepted=list(tenant.insurance_accepted),
        insurance_not_accepted=list(tenant.insurance_not_accepted),
        new_patient_note=tenant.new_patient_note,
        week=week,
        closures=closures,
    )


def practices(*, slug: str | None = None) -> list[Tenant]:
    """Every practice, active or not, in slug order; with `slug`, only that one (or none)."""
    tenants = Tenant.objects.order_by("slug")
    return list(tenants.filter(slug=slug) if slug is not None else tenants)


def webhook_endpoint_ids_subscribed(*, tenant: Tenant | int, event_type: str) -> list[int]:
    """The practice's active endpoints that want `event_type`: one indexed query, and no secret decrypted."""
    rows = WebhookEndpoint.objects.for_tenant(tenant).filter(is_active=True).values_list("pk", "event_types")
    return [pk for pk, event_types in rows if event_type in event_types]


def webhook_deliveries_stalled(*, since: dt.datetime) -> QuerySet[WebhookDelivery]:
    """Pending deliveries whose next attempt was due before `since` and has not happened: their task was lost."""
    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lt=since)
