"""Reads for scheduling. Each loads what it needs in a fixed number of queries."""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Value

from bookings import calendars
from bookings.availability import (
    Calendar,
    ProviderInfo,
    Slot,
    TypeInfo,
    closed_sentence,
    distinct_times,
    nearest_alternatives,
    open_slots,
)
from bookings.models import (
    Appointment,
    AppointmentType,
    BusyBlock,
    CalendarFeedToken,
    CalendarLink,
    Patient,
    Provider,
    ProviderHours,
    ProviderTimeOff,
    TextOptOut,
)
from tenants.crypto import identity_blind_index, phone_blind_index
from tenants.models import REMINDER_HOURS_MAX, BusinessHours, Closure, Tenant
from tenants.spoken import say_article, say_date, say_time


class EpochSeconds(Func):
    """A timestamp column, moved by some minutes, as whole seconds since 1970 UTC, computed by the database.

    A search loads thousands of appointment edges; turning each into a Python
    datetime costs more than the whole availability computation, and so does
    any per-row converter, so the shift happens in SQL and the result needs none.
    Starts round down and ends round up, so a busy block never shrinks.
    """

    output_field = IntegerField()

    def __init__(self, column, shift_minutes=Value(0), *, round_up: bool = False):
        super().__init__(column, shift_minutes)
        self.round_up = round_up

    def _compiled(self, compiler):
        (column, column_params), (shift, shift_params) = (compiler.compile(e) for e in self.source_expressions)
        return column, shift, [*column_params, *shift_params]

    def as_postgresql(self, compiler, connection, **extra):
        column, shift, params = self._compiled(compiler)
        rounding = "CEIL" if self.round_up else "FLOOR"
        return f"({rounding}(EXTRACT(EPOCH FROM {column}))::int8 + ({shift}) * 60)", params

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores UTC datetimes in SQLite as text; 2440587.5 is the Julian day of 1970-01-01.
        # julianday's float error is rounded away at the millisecond; integer division then rounds.
        column, shift, params = self._compiled(compiler)
        millis = f"CAST(ROUND((julianday({column}) - 2440587.5) * 86400000.0) AS INTEGER)"
        seconds = f"(({millis} + 999) / 1000)" if self.round_up else f"({millis} / 1000)"
        return f"({seconds} + ({shift}) * 60)", params

    def get_db_converters(self, connection):
        return []  # both databases already return an integer


def _busy_rows(queryset, before=Value(0), after=Value(0)):
    """(provider id, start, end) in epoch seconds, widened by the buffers (in minutes)."""
    return (
        queryset.annotate(_s=EpochSeconds(F("start"), -before), _e=EpochSeconds(F("end"), after, round_up=True))
        .order_by()
        .values_list("provider_id", "_s", "_e")
    )


def type_info(appointment_type: AppointmentType) -> TypeInfo:
    return TypeInfo(
        id=appointment_type.id,
        key=appointment_type.key,
        name=appointment_type.name,
        minutes=appointment_type.minutes,
        role=appointment_type.role,
        buffer_before=appointment_type.buffer_before_minutes,
        buffer_after=appointment_type.buffer_after_minutes,
        is_emergency=appointment_type.is_emergency,
    )


def _weekly(rows) -> dict:
    hours: dict[int, list] = {}
    for weekday, opens, closes in rows:
        hours.setdefault(weekday, []).append((opens, closes))
    return {weekday: tuple(sorted(intervals)) for weekday, intervals in hours.items()}


def availability_calendar(
    *,
    tenant: Tenant,
    start_date: dt.date,
    end_date: dt.date,
    role: str | None = None,
    ignore_appointment_id: int | None = None,
) -> Calendar:
    """Everything an availability search from start_date to end_date needs: seven queries, however long the range."""
    tz = tenant.tzinfo
    # A day's edge in any zone, plus room for buffers.
    window_start = dt.datetime.combine(start_date, dt.time.min, tzinfo=tz) - dt.timedelta(days=1)
    window_end = dt.datetime.combine(end_date, dt.time.max, tzinfo=tz) + dt.timedelta(days=1)

    providers_qs = Provider.objects.for_tenant(tenant).filter(is_active=True).order_by("id")
    if role:
        providers_qs = providers_qs.filter(role=role)
    provider_rows = list(providers_qs.values_list("id", "key", "name", "role"))
    provider_ids = [row[0] for row in provider_rows]

    own_hours: dict[int, list] = {}
    for provider_id, weekday, opens, closes in ProviderHours.objects.filter(provider_id__in=provider_ids).values_list(
        "provider_id", "weekday", "opens", "closes"
    ):
        own_hours.setdefault(provider_id, []).append((weekday, opens, closes))

    busy: dict[int, list] = {pid: [] for pid in provider_ids}
    appointments = Appointment.objects.filter(
        provider_id__in=provider_ids,
        status__in=Appointment.ACTIVE_STATUSES,
        start__lt=window_end,
        end__gt=window_start,
    )
    if ignore_appointment_id is not None:
        appointments = appointments.exclude(pk=ignore_appointment_id)
    for provider_id, start, end in _busy_rows(
        appointments, F("appointment_type__buffer_before_minutes"), F("appointment_type__buffer_after_minutes")
    ):
        busy[provider_id].append((start, end))
    time_off = ProviderTimeOff.objects.filter(provider_id__in=provider_ids, start__lt=window_end, end__gt=window_start)
    for provider_id, start, end in _busy_rows(time_off):
        busy[provider_id].append((start, end))
    practice_busy = []
    blocks = BusyBlock.objects.for_tenant(tenant).filter(
        Q(provider_id__in=provider_ids) | Q(provider__isnull=True), start__lt=window_end, end__gt=window_start
    )
    for provider_id, start, end in _busy_rows(blocks):
        (busy[provider_id] if provider_id else practice_busy).append((start, end))

    return Calendar(
        tz=tz,
        hours=_weekly(BusinessHours.objects.for_tenant(tenant).values_list("weekday", "opens", "closes")),
        closures=dict(
            Closure.objects.for_tenant(tenant)
            .filter(date__gte=start_date, date__lte=end_date)
            .values_list("date", "reason")
        ),
        providers=[
            ProviderInfo(
                id=pid, key=key, name=name, role=prole, hours=_weekly(own_hours[pid]) if pid in own_hours else None
            )
            for pid, key, name, prole in provider_rows
        ],
        slot_step=tenant.slot_step_minutes,
        min_notice=tenant.min_notice_minutes,
        horizon_days=tenant.booking_horizon_days,
        busy=busy,
        practice_busy=practice_busy,
    )


def patient_find_by_phone(*, tenant: Tenant, phone: str) -> list[Patient]:
    """Patients whose phone is this number (a family may share one), by the blind index."""
    return list(Patient.objects.for_tenant(tenant).filter(phone_index=phone_blind_index(phone)))


def patient_find_by_name_and_dob(
    *, tenant: Tenant, first_name: str, last_name: str, date_of_birth: dt.date
) -> Patient | None:
    """The patient with this name and birthday; the first name is compared after decryption."""
    index = identity_blind_index(last_name, date_of_birth)
    if not index:
        return None
    wanted = first_name.casefold().strip()
    for patient in Patient.objects.for_tenant(tenant).filter(identity_index=index):
        if patient.first_name.casefold().strip() == wanted:
            return patient
    return None


def patient_appointments_upcoming(*, patient: Patient, now: dt.datetime) -> list[Appointment]:
    return list(
        Appointment.objects.filter(patient=patient, status=Appointment.Status.BOOKED, start__gte=now)
        .select_related("provider", "appointment_type")
        .order_by("start")
    )


def appointment_list_by_ids(*, tenant: Tenant, ids: list[int]) -> list[Appointment]:
    """The practice's appointments with these ids, in the order they were made."""
    return list(
        Appointment.objects.for_tenant(tenant)
        .filter(pk__in=ids)
        .select_related("appointment_type", "provider", "patient")
        .order_by("pk")
    )


SEARCH_DAYS = 14  # how far past the asked-for day the first open times and alternatives may come from


@dataclass(frozen=True)
class SlotSearch:
    """Open times for a request; when there are none, why, and the nearest other times."""

    slots: list[Slot]
    reason: str = ""
    alternatives: list[Slot] = field(default_factory=list)


def _window_phrase(after: dt.time | None, before: dt.time | None) -> str:
    if after and before:
        return f"between {say_time(after)} and {say_time(before)}"
    if after:
        return f"after {say_time(after)}"
    return f"before {say_time(before)}" if before else ""


def _in_window(slots: list[Slot], tz, after: dt.time | None, before: dt.time | None) -> list[Slot]:
    return [
        s for s in slots
        if (after is None or s.start.astimezone(tz).time() >= after)
        and (before is None or s.start.astimezone(tz).time() < before)
    ]


def slots_open(
    *,
    tenant: Tenant,
    appointment_type: AppointmentType,
    now: dt.datetime,
    start_date: dt.date,
    end_date: dt.date,
    provider: Provider | None = None,
    after: dt.time | None = None,
    before: dt.time | None = None,
) -> list[Slot]:
    """Every open time from `start_date` to `end_date` (inclusive), practice-local, as the receptionist offers them."""
    calendar = availability_calendar(tenant=tenant, start_date=start_date, end_date=end_date,
                                     role=appointment_type.role)
    slots = distinct_times(open_slots(calendar, type_info(appointment_type), start_date=start_date, end_date=end_date,
                                      now=now, provider_id=provider.id if provider else None))
    return _in_window(slots, tenant.tzinfo, after, before)


def slots_find(
    *,
    tenant: Tenant,
    appointment_type: AppointmentType,
    now: dt.datetime,
    day: dt.date | None = None,
    provider: Provider | None = None,
    after: dt.time | None = None,
    before: dt.time | None = None,
    limit: int = 3,
) -> SlotSearch:
    """Open times on `day` (or the first ones from today), from `after` and before `before`, practice-local.

    With none in that window: the reason, and the open times nearest to it.
    """
    tz = tenant.tzinfo
    first_day = day or now.astimezone(tz).date()
    last_day = first_day if day else first_day + dt.timedelta(days=SEARCH_DAYS)
    # Two weeks loaded either way: an empty day needs the following days for alternatives.
    calendar = availability_calendar(
        tenant=tenant, start_date=first_day, end_date=first_day + dt.timedelta(days=SEARCH_DAYS),
        role=appointment_type.role,
    )
    info = type_info(appointment_type)
    provider_id = provider.id if provider else None
    slots = distinct_times(
        open_slots(calendar, info, start_date=first_day, end_date=last_day, now=now, provider_id=provider_id)
    )
    in_window = _in_window(slots, tz, after, before)
    if in_window:
        return SlotSearch(slots=in_window[:limit])
    requested = dt.datetime.combine(first_day, after or before or dt.time(9), tzinfo=tz)
    alternatives = nearest_alternatives(calendar, info, requested=requested, now=now, provider_id=provider_id,
                                        limit=limit, search_days=SEARCH_DAYS)
    name = appointment_type.name.lower()
    if day is None:
        reason = f"We have nothing open for {say_article(name)} {name} in the next two weeks."
    elif slots:
        reason = f"I have nothing {_window_phrase(after, before)} on {say_date(day)}."
    else:
        reason = closed_sentence(calendar, day) or f"We have nothing open for {say_article(name)} {name} on {say_date(day)}."
    return SlotSearch(slots=[], reason=reason, alternatives=alternatives)


def appointment_types_bookable(*, tenant: Tenant) -> dict[str, AppointmentType]:
    """key -> the practice's active appointment types."""
    return {t.key: t for t in AppointmentType.objects.for_tenant(tenant).filter(is_active=True)}


def providers_bookable(*, tenant: Tenant) -> dict[str, Provider]:
    """key -> the practice's active providers."""
    return {p.key: p for p in Provider.objects.for_tenant(tenant).filter(is_active=True)}


def patients_by_ids(*, tenant: Tenant, ids: list[int]) -> list[Patient]:
    return list(Patient.objects.for_tenant(tenant).filter(pk__in=ids))


def patient_appointment(*, tenant: Tenant, patient: Patient, appointment_id: int) -> Appointment | None:
    """One of the patient's own appointments, or None."""
    return (
        Appointment.objects.select_related("appointment_type", "provider", "tenant")
        .filter(pk=appointment_id, patient=patient, tenant=tenant)
        .first()
    )


def patients_inactive(*, tenant: Tenant, now: dt.datetime) -> QuerySet[Patient]:
    """The practice's patients inactive for longer than retention_inactive_patient_days.

    Inactive: no appointment (of any status) ending in that period or later, so none in the
    future either, and the record itself neither created nor changed in that period.
    """
    cutoff = now - dt.timedelta(days=tenant.retention_inactive_patient_days)
    recent = Appointment.objects.filter(patient=OuterRef("pk"), end__gte=cutoff)
    return Patient.objects.for_tenant(tenant).filter(created_at__lt=cutoff, updated_at__lt=cutoff).exclude(Exists(recent))


def patients_inactive_counts(*, tenant: Tenant, now: dt.datetime) -> dict[str, int]:
    """What `patients_inactive_purge` would delete now: counts only."""
    patients = patients_inactive(tenant=tenant, now=now)
    return {
        "patients": patients.count(),
        "appointments": Appointment.objects.filter(patient__in=patients).count(),
    }


def text_opted_out(*, tenant: Tenant, phone: str) -> bool:
    """Whether this number texted STOP to the practice (and not START since)."""
    return TextOptOut.objects.for_tenant(tenant).filter(phone_index=phone_blind_index(phone)).exists()


def appointments_to_remind(*, now: dt.datetime) -> QuerySet[Appointment]:
    """Booked visits, at practices that send reminders, near enough that one of their reminders may be due.

    A reminder at 8 PM the evening before (instead of at night) is at most a day earlier than its offset.
    """
    latest = now + dt.timedelta(hours=REMINDER_HOURS_MAX + 24)
    return (
        Appointment.objects.filter(status=Appointment.Status.BOOKED, start__gt=now, start__lte=latest,
                                   tenant__is_active=True, tenant__texts_enabled=True)
        .exclude(tenant__reminder_hours=[])
        .exclude(patient__phone_index="")
        .select_related("tenant", "patient", "provider")
        .order_by("start")
    )


def patient_next_visit_by_phone(*, tenant: Tenant, phone: str, now: dt.datetime) -> Appointment | None:
    """The soonest booked visit of any patient with this number."""
    return (
        Appointment.objects.for_tenant(tenant)
        .filter(patient__phone_index=phone_blind_index(phone), status=Appointment.Status.BOOKED, start__gt=now)
        .select_related("patient", "provider", "tenant")
        .order_by("start")
        .first()
    )
FEED_PAST_DAYS = 30  # how far back a subscribed feed still shows appointments


def appointment_get(*, appointment_id: int) -> Appointment | None:
    return Appointment.objects.select_related("tenant").filter(pk=appointment_id).first()


def appointment_calendar_event(appointment: Appointment) -> calendars.AppointmentEvent:
    """The appointment as calendars see it: a time and an id, nothing about the patient or the visit."""
    return calendars.AppointmentEvent(
        uid=calendars.appointment_uid(appointment_id=appointment.pk, tenant_slug=appointment.tenant.slug),
        start=appointment.start,
        end=appointment.end,
        sequence=appointment.calendar_sequence,
        stamp=appointment.updated_at,
    )


def calendar_link_get(*, link_id: int) -> CalendarLink | None:
    return CalendarLink.objects.select_related("tenant", "provider").filter(pk=link_id).first()


def appointment_ids_upcoming(*, provider: Provider, now: dt.datetime) -> list[int]:
    """The provider's booked appointments that have not ended, soonest first."""
    return list(Appointment.objects.filter(provider=provider, status=Appointment.Status.BOOKED, end__gt=now)
                .order_by("start").values_list("pk", flat=True))


def calendar_link_enabled_for(*, provider_id: int) -> CalendarLink | None:
    return CalendarLink.objects.filter(provider_id=provider_id, is_enabled=True).first()


def calendar_link_ids_enabled() -> list[int]:
    return list(CalendarLink.objects.filter(is_enabled=True).order_by("pk").values_list("pk", flat=True))


def calendar_feed_by_token(*, token: str) -> CalendarFeedToken | None:
    """The live feed this raw token opens, found by its hash (no comparison of secrets), or None."""
    return (
        CalendarFeedToken.objects.select_related("provider", "tenant")
        .filter(token_hash=calendars.feed_token_hash(token), revoked_at__isnull=True)
        .first()
    )


def calendar_feed_events(*, provider: Provider, now: dt.datetime) -> list[calendars.AppointmentEvent]:
    """The provider's appointments from FEED_PAST_DAYS ago on; a cancelled one leaves the feed."""
    appointments = (
        Appointment.objects.select_related("tenant")
        .filter(provider=provider, end__gte=now - dt.timedelta(days=FEED_PAST_DAYS))
        .exclude(status=Appointment.Status.CANCELLED)
        .order_by("start", "pk")
    )
    return [appointment_calendar_event(appointment) for appointment in appointments]
