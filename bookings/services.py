"""Booking, rescheduling and cancelling: validate, then save in a transaction.

Every error carries what the caller needs to hear next, and every change is
recorded in the audit trail with who made it.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from bookings import availability, calendars, texts
from bookings.models import (
    Appointment,
    AppointmentType,
    BusyBlock,
    CalendarConflict,
    CalendarFeedToken,
    CalendarLink,
    Patient,
    Provider,
    TextMessage,
    TextOptOut,
)
from bookings.selectors import (
    appointment_calendar_event,
    appointment_ids_upcoming,
    appointments_to_remind,
    availability_calendar,
    calendar_link_enabled_for,
    patient_find_by_name_and_dob,
    patient_find_by_phone,
    patient_next_visit_by_phone,
    patients_inactive,
    text_opted_out,
    type_info,
)
from bookings.sms.base import SmsOutcomeUnknown, SmsRecipientOptedOut, SmsRefused, SmsUnavailable, sms_backend
from tenants.batches import pk_batches
from tenants.crypto import phone_blind_index
from tenants.models import Tenant
from tenants.phones import InvalidPhoneNumber, display_phone, normalize_phone
from tenants.selectors import practice_number
from tenants.services import Actor, audit_record, event_publish
from tenants.spoken import say_time, say_when
from tenants.twilio import sid_required

logger = logging.getLogger(__name__)

ALTERNATIVE_SEARCH_DAYS = 14
# Two bookings inserting overlapping rows can each wait on the other's exclusion-constraint check;
# PostgreSQL then aborts one with deadlock_detected (or serialization_failure). Running the whole
# attempt again lets it see the winner and answer like any other taken slot.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
WRITE_ATTEMPTS = 3
T = TypeVar("T")


class BookingError(Exception):
    """Base of every scheduling refusal; `str()` is a sentence fit to tell a caller."""


class SlotUnavailable(BookingError):
    def __init__(self, message: str, *, alternatives: list[availability.Slot]):
        super().__init__(message)
        self.alternatives = alternatives


class PracticeClosed(SlotUnavailable):
    def __init__(self, message: str, *, reason: str, alternatives: list[availability.Slot]):
        super().__init__(message, alternatives=alternatives)
        self.reason = reason


class OutsideHours(SlotUnavailable):
    pass


class TooSoon(SlotUnavailable):
    pass


class BeyondHorizon(SlotUnavailable):
    pass


class OffGrid(SlotUnavailable):
    """Within opening hours, but not a time appointments start at (a quarter past, with a half-hour grid)."""


class InThePast(BookingError):
    pass


class ProviderCannotPerform(BookingError):
    pass


class PatientDoubleBooked(BookingError):
    def __init__(self, message: str, *, conflict: Appointment):
        super().__init__(message)
        self.conflict = conflict


class AppointmentNotChangeable(BookingError):
    pass


class PatientInvalid(BookingError):
    pass


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def _search_calendar(tenant, appointment_type, requested, ignore_appointment_id=None) -> availability.Calendar:
    """The requested day and the days after it that alternatives may come from."""
    day = requested.astimezone(tenant.tzinfo).date()
    return availability_calendar(
        tenant=tenant,
        start_date=day,
        end_date=day + dt.timedelta(days=ALTERNATIVE_SEARCH_DAYS),
        role=appointment_type.role,
        ignore_appointment_id=ignore_appointment_id,
    )


def _alternatives(calendar, appointment_type, requested, now, provider_id) -> list[availability.Slot]:
    return availability.nearest_alternatives(
        calendar, type_info(appointment_type), requested=requested, now=now, provider_id=provider_id,
        search_days=ALTERNATIVE_SEARCH_DAYS,
    )


def _raced(tenant, appointment_type, start, now, provider, ignore_appointment_id=None) -> SlotUnavailable:
    """Another booking won the race between our check and our write."""
    calendar = _search_calendar(tenant, appointment_type, start, ignore_appointment_id)
    alternatives = _alternatives(calendar, appointment_type, start, now, provider.id if provider else None)
    return SlotUnavailable(f"{say_when(start.astimezone(tenant.tzinfo))} was just taken.", alternatives=alternatives)


def slot_check(
    *,
    tenant: Tenant,
    appointment_type: AppointmentType,
    start: dt.datetime,
    provider: Provider | None,
    now: dt.datetime,
    ignore_appointment_id: int | None = None,
) -> availability.Slot:
    """The open slot at `start` (with `provider`, or the first free one), or the named reason there is none.

    Writes nothing: booking and rescheduling call it inside their transaction,
    and the phone agent calls it to check a time before asking the caller to confirm.
    """
    if start.tzinfo is None:
        raise BookingError("The appointment time must include its time zone.")
    if provider is not None:
        if provider.tenant_id != tenant.id or not provider.is_active:
            raise ProviderCannotPerform(f"{provider.name} does not take appointments here.")
        if provider.role != appointment_type.role:
            raise ProviderCannotPerform(f"{provider.name} does not do {appointment_type.name.lower()} appointments.")
    if start <= now:
        raise InThePast("That time has already passed.")

    provider_id = provider.id if provider else None
    calendar = _search_calendar(tenant, appointment_type, start, ignore_appointment_id)
    info = type_info(appointment_type)
    day = start.astimezone(tenant.tzinfo).date()
    slots = availability.open_slots(calendar, info, start_date=day, end_date=day, now=now, provider_id=provider_id)
    for slot in slots:
        if slot.start == start:
            return slot

    alternatives = _alternatives(calendar, appointment_type, start, now, provider_id)
    when = say_when(start.astimezone(tenant.tzinfo))
    closed = availability.closure_reason(calendar, day)
    if closed is not None:
        raise PracticeClosed(availability.closed_sentence(calendar, day), reason=closed, alternatives=alternatives)
    if start < availability.earliest_start(calendar, info, now):
        raise TooSoon(
            f"{when} is too soon to book; we need {tenant.min_notice_minutes} minutes' notice.",
            alternatives=alternatives,
        )
    if day > now.astimezone(tenant.tzinfo).date() + dt.timedelta(days=tenant.booking_horizon_days):
        raise BeyondHorizon(
            f"We only book up to {tenant.booking_horizon_days} days ahead.", alternatives=alternatives
        )
    if not _within_hours(calendar, info, start, provider_id):
        if _during_break(calendar, info, start):
            raise OutsideHours(f"{when} is during our lunch break.", alternatives=alternatives)
        raise OutsideHours(f"{when} is outside our opening hours.", alternatives=alternatives)
    if not availability.is_grid_start(calendar, info, start, provider_id):
        raise OffGrid(
            f"Appointments start every {tenant.slot_step_minutes} minutes, so I can't book "
            f"{say_time(start.astimezone(tenant.tzinfo))} exactly.",
            alternatives=alternatives,
        )
    who = f" with {provider.name}" if provider else ""
    raise SlotUnavailable(f"{when}{who} is already taken.", alternatives=alternatives)


def _within_hours(calendar, info, start, provider_id) -> bool:
    """Whether the appointment fits inside an opening interval, ignoring what is booked."""
    day = start.astimezone(calendar.tz).date()
    end = start + dt.timedelta(minutes=info.minutes)
    for provider in availability.eligible_providers(calendar, info, provider_id):
        for opens, closes in availability.provider_intervals(calendar, provider, day):
            open_at = availability.local_instant(day, opens, calendar.tz)
            close_at = availability.local_instant(day, closes, calendar.tz)
            if open_at and close_at and open_at <= start and end <= close_at:
                return True
    return False


def _during_break(calendar, info, start) -> bool:
    """Whether the appointment would overlap a gap between two opening intervals of the day."""
    local = start.astimezone(calendar.tz)
    end = (start + dt.timedelta(minutes=info.minutes)).astimezone(calendar.tz)
    intervals = calendar.hours.get(local.weekday(), ())
    return any(
        local.time() < opens and end.time() > closes and end.date() == local.date()
        for (_, closes), (opens, _) in zip(intervals, intervals[1:])
    )


def _check_patient_free(patient: Patient, start, end, ignore_appointment_id=None) -> None:
    conflict = (
        Appointment.objects.filter(
            patient=patient, status__in=Appointment.ACTIVE_STATUSES, start__lt=end, end__gt=start
        )
        .exclude(pk=ignore_appointment_id)
        .select_related("appointment_type")
        .first()
    )
    if conflict:
        raise PatientDoubleBooked(
            f"You already have a {conflict.appointment_type.name.lower()} at that time.", conflict=conflict
        )


def _is_overlap_violation(error: IntegrityError) -> bool:
    return "appointment_no_overlap" in str(error)


def _retrying_deadlocks(attempt: Callable[[], T]) -> T:
    """Run a write transaction, again if the database broke a deadlock by aborting it.

    Inside an outer transaction nothing can be retried: the outer one is already aborted.
    """
    attempts_left = WRITE_ATTEMPTS
    while True:
        attempts_left -= 1
        try:
            return attempt()
        except OperationalError as error:
            retryable = getattr(error.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES
            if not retryable or attempts_left == 0 or transaction.get_connection().in_atomic_block:
                raise


def _tenant_owned(tenant: Tenant, *objects) -> None:
    for obj in objects:
        if obj is not None and obj.tenant_id != tenant.id:
            raise BookingError(f"That {obj._meta.verbose_name} belongs to another practice.")


def _changeable(appointment: Appointment, now: dt.datetime) -> None:
    """Only a booked appointment that has not started can be moved or cancelled."""
    if appointment.status != Appointment.Status.BOOKED:
        raise AppointmentNotChangeable(f"That appointment is already {appointment.get_status_display().lower()}.")
    if appointment.start <= now:
        raise AppointmentNotChangeable("That appointment has already started.")


def _appointment_event(appointment: Appointment, event_type: str, *, tenant: Tenant | None = None) -> None:
    """Tell the practice's partners, once the change commits: ids and times only, never who the patient is."""
    event_publish(tenant=tenant or appointment.tenant, event_type=event_type, data={
        "appointment_id": appointment.pk,
        "provider_id": appointment.provider_id,
        "appointment_type_id": appointment.appointment_type_id,
        "start": appointment.start,
        "end": appointment.end,
        "status": appointment.status,
        "source": appointment.source,
    })


def appointment_book_check(
    *,
    tenant: Tenant,
    patient: Patient,
    appointment_type: AppointmentType,
    start: dt.datetime,
    provider: Provider | None = None,
    now: dt.datetime | None = None,
) -> availability.Slot:
    """The slot a booking would take, or the named reason it cannot. Writes nothing (forms check with it first)."""
    now = _now(now)
    _tenant_owned(tenant, patient, appointment_type, provider)
    slot = slot_check(tenant=tenant, appointment_type=appointment_type, start=start, provider=provider, now=now)
    _check_patient_free(patient, slot.start, slot.end)
    return slot


def appointment_book(
    *,
    tenant: Tenant,
    patient: Patient,
    appointment_type: AppointmentType,
    start: dt.datetime,
    actor: Actor,
    provider: Provider | None = None,
    source: str = Appointment.Source.ADMIN,
    notes: str = "",
    now: dt.datetime | None = None,
) -> Appointment:
    now = _now(now)

    @transaction.atomic
    def write() -> Appointment:
        slot = appointment_book_check(tenant=tenant, patient=patient, appointment_type=appointment_type, start=start,
                                      provider=provider, now=now)
        appointment = Appointment.objects.create(
            tenant=tenant,
            patient=patient,
            provider_id=slot.provider_id,
            appointment_type=appointment_type,
            start=slot.start,
            end=slot.end,
            source=source,
            notes=notes,
        )
        audit_record(
            actor=actor, action="create", object_type="bookings.Appointment", object_id=appointment.pk,
            tenant=tenant, detail={"via": "appointment_book", "source": source},
        )
        appointment_text_queue(appointment=appointment, kind=TextMessage.Kind.BOOKED)
        _calendar_push_on_commit(appointment)
        _appointment_event(appointment, "appointment.booked")
        return appointment

    try:
        return _retrying_deadlocks(write)
    except IntegrityError as error:
        if not _is_overlap_violation(error):
            raise
        raise _raced(tenant, appointment_type, start, now, provider) from None


def appointment_reschedule(
    *,
    appointment: Appointment,
    new_start: dt.datetime,
    actor: Actor,
    provider: Provider | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Move an appointment; the old time is freed and the new one taken together, or nothing changes."""
    now = _now(now)
    tenant = appointment.tenant
    _tenant_owned(tenant, provider)

    @transaction.atomic
    def write() -> Appointment:
        current = Appointment.objects.select_for_update().select_related("appointment_type").get(pk=appointment.pk)
        _changeable(current, now)
        appointment_type = current.appointment_type
        slot = slot_check(
            tenant=tenant, appointment_type=appointment_type, start=new_start, provider=provider, now=now,
            ignore_appointment_id=current.pk,
        )
        _check_patient_free(current.patient, slot.start, slot.end, ignore_appointment_id=current.pk)
        old = {"start": current.start.isoformat(), "provider_id": current.provider_id}
        current.start, current.end, current.provider_id = slot.start, slot.end, slot.provider_id
        current.calendar_sequence += 1
        current.save(update_fields=["start", "end", "provider", "calendar_sequence", "updated_at"])
        audit_record(
            actor=actor, action="reschedule", object_type="bookings.Appointment", object_id=current.pk,
            tenant=tenant, detail={"from": old, "to": {"start": slot.start.isoformat(), "provider_id": slot.provider_id}},
        )
        appointment_text_queue(appointment=current, kind=TextMessage.Kind.MOVED)
        _calendar_push_on_commit(current, previous_provider_id=old["provider_id"])
        _appointment_event(current, "appointment.rescheduled", tenant=tenant)
        return current

    try:
        return _retrying_deadlocks(write)
    except IntegrityError as error:
        if not _is_overlap_violation(error):
            raise
        raise _raced(tenant, appointment.appointment_type, new_start, now, provider, appointment.pk) from None


def appointment_cancel(
    *, appointment: Appointment, actor: Actor, reason: str = "", now: dt.datetime | None = None
) -> Appointment:
    now = _now(now)
    with transaction.atomic():
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        _changeable(current, now)
        current.status = Appointment.Status.CANCELLED
        current.calendar_sequence += 1
        current.save(update_fields=["status", "calendar_sequence", "updated_at"])
        audit_record(
            actor=actor, action="cancel", object_type="bookings.Appointment", object_id=current.pk,
            tenant=current.tenant, detail={"reason": reason} if reason else {},
        )
        appointment_text_queue(appointment=current, kind=TextMessage.Kind.CANCELLED)
        _calendar_push_on_commit(current)
        _appointment_event(current, "appointment.cancelled")
    return current


@dataclass(frozen=True)
class AppointmentChange:
    """What an update of an appointment amounts to."""

    cancel: bool = False
    status: str | None = None  # completed or no-show
    move_to: availability.Slot | None = None
    notes: str | None = None


def appointment_update_check(
    *,
    appointment: Appointment,
    status: str | None = None,
    start: dt.datetime | None = None,
    provider: Provider | None = None,
    notes: str | None = None,
    now: dt.datetime | None = None,
) -> AppointmentChange:
    """What changing these fields of `appointment` would do, or the named reason it cannot. Writes nothing."""
    now = _now(now)
    current = Appointment.objects.select_related("appointment_type", "patient", "tenant").get(pk=appointment.pk)
    _tenant_owned(current.tenant, provider)
    new_notes = notes if notes is not None and notes != current.notes else None
    if status is not None and status != current.status:
        if current.status == Appointment.Status.CANCELLED:
            raise AppointmentNotChangeable("A cancelled appointment cannot be restored; book a new one instead.")
        if status == Appointment.Status.CANCELLED:
            _changeable(current, now)
            return AppointmentChange(cancel=True, notes=new_notes)
        return AppointmentChange(status=status, notes=new_notes)
    moving = (start is not None and start != current.start) or (provider is not None and provider.pk != current.provider_id)
    if not moving:
        return AppointmentChange(notes=new_notes)
    _changeable(current, now)
    slot = slot_check(tenant=current.tenant, appointment_type=current.appointment_type, start=start or current.start,
                      provider=provider, now=now, ignore_appointment_id=current.pk)
    _check_patient_free(current.patient, slot.start, slot.end, ignore_appointment_id=current.pk)
    return AppointmentChange(move_to=slot, notes=new_notes)


def appointment_update(
    *,
    appointment: Appointment,
    actor: Actor,
    status: str | None = None,
    start: dt.datetime | None = None,
    provider: Provider | None = None,
    notes: str | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Change an appointment as staff do: cancel it, mark it completed or a no-show, move it, or edit its notes.

    Every change goes through the rule it needs (a cancelled appointment stays cancelled;
    only a booked one that has not started moves or is cancelled) and is audited.
    """
    now = _now(now)
    change = appointment_update_check(appointment=appointment, status=status, start=start, provider=provider,
                                      notes=notes, now=now)
    if change.notes is not None:
        with transaction.atomic():
            current = Appointment.objects.select_for_update().get(pk=appointment.pk)
            current.notes = change.notes
            current.save(update_fields=["notes", "updated_at"])
            audit_record(actor=actor, action="change", object_type="bookings.Appointment", object_id=current.pk,
                         tenant=current.tenant, detail={"fields": ["notes"]})
    if change.cancel:
        return appointment_cancel(appointment=appointment, actor=actor, now=now)
    if change.status is not None:
        with transaction.atomic():
            current = Appointment.objects.select_for_update().get(pk=appointment.pk)
            current.status = change.status
            current.save(update_fields=["status", "updated_at"])
            audit_record(actor=actor, action="change", object_type="bookings.Appointment", object_id=current.pk,
                         tenant=current.tenant, detail={"fields": ["status"], "status": change.status})
        return current
    if change.move_to is not None:
        return appointment_reschedule(appointment=appointment, new_start=start or appointment.start, provider=provider,
                                      actor=actor, now=now)
    return Appointment.objects.get(pk=appointment.pk)


def patient_create(
    *,
    tenant: Tenant,
    first_name: str,
    last_name: str,
    actor: Actor,
    date_of_birth: dt.date | None = None,
    phone: str = "",
    email: str = "",
    now: dt.datetime | None = None,
) -> Patient:
    first_name, last_name = first_name.strip(), last_name.strip()
    if not first_name or not last_name:
        raise PatientInvalid("A patient needs a first and a last name.")
    today = _now(now).astimezone(tenant.tzinfo).date()
    if date_of_birth is not None and not (dt.date(1900, 1, 1) <= date_of_birth <= today):
        raise PatientInvalid("That date of birth is not possible.")
    if date_of_birth is not None and patient_find_by_name_and_dob(
        tenant=tenant, first_name=first_name, last_name=last_name, date_of_birth=date_of_birth
    ):
        raise PatientInvalid("A patient with that name and date of birth already exists.")
    patient = Patient(
        tenant=tenant, first_name=first_name, last_name=last_name, date_of_birth=date_of_birth, phone=phone, email=email
    )
    try:
        with transaction.atomic():
            patient.save()
            audit_record(actor=actor, action="create", object_type="bookings.Patient", object_id=patient.pk, tenant=tenant)
    except InvalidPhoneNumber as error:
        raise PatientInvalid(f"That phone number is not valid ({error}).") from None
    return patient


def patients_inactive_purge(*, tenant: Tenant, now: dt.datetime, batch_size: int = 500) -> dict[str, int]:
    """Delete the practice's patients inactive past retention_inactive_patient_days; counts by kind.

    A deleted patient's appointments are deleted with them: they are all in the past (an
    appointment ending in the retention period or later keeps its patient), a dated visit of a
    named patient is PHI, and `Appointment.patient` is required and protected, so it cannot
    outlive its patient. Their calls stay, unlinked (`Call.patient` is SET_NULL): the call's own
    retention decides what it keeps of the conversation. Each batch is its own transaction; the
    patients are locked and read again in it, so one who booked meanwhile is kept, and a future
    appointment is never deleted (had one slipped in, PROTECT would refuse the whole batch).
    """
    counts = {"patients": 0, "appointments": 0}
    for ids in pk_batches(patients_inactive(tenant=tenant, now=now), batch_size=batch_size):
        with transaction.atomic():
            list(Patient.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
            ids = list(patients_inactive(tenant=tenant, now=now).filter(pk__in=ids).values_list("pk", flat=True))
            counts["appointments"] += Appointment.objects.filter(patient_id__in=ids).delete()[0]
            deleted = Patient.objects.filter(pk__in=ids).delete()[1]
            counts["patients"] += deleted.get(Patient._meta.label, 0)
    return counts


# Texts to patients. Each is a row first (made in the transaction of the change it reports, so a
# rolled-back booking texts nobody), then a task that sends it once the change is committed.

class TextNotSent(Exception):
    """The SMS provider was unreachable; the text is waiting again and its task retries."""


def _visit(appointment: Appointment) -> texts.Visit:
    tenant = appointment.tenant
    number = practice_number(tenant=tenant)
    return texts.Visit(
        first_name=appointment.patient.first_name, start=appointment.start, provider=appointment.provider.name,
        practice=tenant.name, practice_phone=display_phone(number) if number else "", timezone=tenant.tzinfo,
    )


def _send_on_commit(text: TextMessage) -> None:
    from bookings.tasks import text_send  # the tasks module imports this one

    text_id = text.pk
    # robust: the booking stands whatever the broker does; the text waits in the admin as not sent.
    transaction.on_commit(lambda: text_send.delay(text_id), robust=True)


def _text_make(*, appointment: Appointment, kind: str, key: str, body: str) -> TextMessage:
    text, created = TextMessage.objects.get_or_create(
        tenant=appointment.tenant, key=key,
        defaults={"patient": appointment.patient, "appointment": appointment, "kind": kind,
                  "phone": appointment.patient.phone, "body": body},
    )
    if created:
        _send_on_commit(text)
    return text


_CHANGE_TEXTS = {
    TextMessage.Kind.BOOKED: texts.booked_text,
    TextMessage.Kind.MOVED: texts.moved_text,
    TextMessage.Kind.CANCELLED: texts.cancelled_text,
}


def appointment_text_queue(*, appointment: Appointment, kind: str) -> TextMessage | None:
    """Text the patient that their visit was booked, moved or cancelled, once this transaction commits.

    None when the practice does not text or the patient has no phone. Call it inside the change's transaction.
    """
    appointment = Appointment.objects.select_related("tenant", "patient", "provider").get(pk=appointment.pk)
    if not appointment.tenant.texts_enabled or not appointment.patient.phone:
        return None
    # A visit moved twice to the same time is two moves, and two texts.
    key = f"{kind}:{appointment.pk}" if kind != TextMessage.Kind.MOVED else (
        f"{kind}:{appointment.pk}:{appointment.updated_at.timestamp():.6f}")
    return _text_make(appointment=appointment, kind=kind, key=key, body=_CHANGE_TEXTS[kind](_visit(appointment)))


def _reminder_key(appointment: Appointment, hours: int) -> str:
    # The start is part of it: a visit moved after its reminder gets reminded of the new time.
    return f"reminder:{appointment.pk}:{hours}:{appointment.start:%Y%m%dT%H%MZ}"


def reminders_queue_due(*, now: dt.datetime | None = None) -> int:
    """Make and queue every reminder whose time has come; how many were made. Safe to run as often as wanted."""
    now = _now(now)
    made = 0
    for appointment in appointments_to_remind(now=now):
        tenant = appointment.tenant
        for hours in tenant.reminder_hours:
            send_at = texts.reminder_send_at(start=appointment.start, hours_before=hours, timezone=tenant.tzinfo)
            if not texts.reminder_due(send_at=send_at, start=appointment.start, booked_at=appointment.created_at,
                                      now=now, timezone=tenant.tzinfo):
                continue
            key = _reminder_key(appointment, hours)
            with transaction.atomic():
                if TextMessage.objects.filter(tenant=tenant, key=key).exists():
                    continue
                _text_make(appointment=appointment, kind=TextMessage.Kind.REMINDER, key=key,
                           body=texts.reminder_text(_visit(appointment)))
                made += 1
    return made


def _still_worth_sending(text: TextMessage) -> bool:
    if text.kind != TextMessage.Kind.REMINDER:
        return True
    appointment = text.appointment
    return (appointment is not None and appointment.status == Appointment.Status.BOOKED
            and text.key.endswith(f":{appointment.start:%Y%m%dT%H%MZ}"))


def _opt_out_record(*, tenant: Tenant, phone: str, now: dt.datetime) -> None:
    TextOptOut.objects.get_or_create(tenant=tenant, phone_index=phone_blind_index(phone),
                                     defaults={"opted_out_at": now})


def text_send(*, text_id: int) -> TextMessage | None:
    """Send a waiting text through SMS_BACKEND, at most once.

    The row is marked sending (and committed) before the provider is asked, so a worker that
    dies mid-send, or a task delivered twice, never sends it again. Raises TextNotSent when the
    provider could not be reached: the text waits again and the task retries.
    """
    with transaction.atomic():
        text = (TextMessage.objects.select_for_update(of=("self",))
                .select_related("tenant", "appointment").filter(pk=text_id).first())
        if text is None or text.status != TextMessage.Status.PENDING:
            return text
        if text_opted_out(tenant=text.tenant, phone=text.phone):
            text.status = TextMessage.Status.OPTED_OUT
        elif not _still_worth_sending(text):
            text.status = TextMessage.Status.SKIPPED
        else:
            text.status = TextMessage.Status.SENDING
        text.save(update_fields=["status", "updated_at"])
    if text.status != TextMessage.Status.SENDING:
        return text
    sender = practice_number(tenant=text.tenant) or ""
    status_callback = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("twilio-sms-status")
    try:
        sent = sms_backend().send(to=text.phone, sender=sender, body=text.body, status_callback=status_callback)
    except SmsUnavailable as error:
        TextMessage.objects.filter(pk=text.pk).update(status=TextMessage.Status.PENDING)
        raise TextNotSent(str(error)) from error
    except SmsRecipientOptedOut as error:
        _opt_out_record(tenant=text.tenant, phone=text.phone, now=timezone.now())
        text.status, text.error_code = TextMessage.Status.OPTED_OUT, error.code
    except SmsRefused as error:
        logger.warning("text %s refused by the SMS provider (code %s)", text.pk, error.code)
        text.status, text.error_code = TextMessage.Status.FAILED, error.code
    except SmsOutcomeUnknown:
        logger.warning("text %s: the SMS provider did not answer; not sending it again", text.pk)
        text.status = TextMessage.Status.UNKNOWN
    else:
        text.message_sid, text.status, text.sent_at = sent.sid, sent.status, timezone.now()
    text.save(update_fields=["message_sid", "status", "error_code", "sent_at", "updated_at"])
    return text


# Twilio's callbacks can arrive out of order (a late "sent" after "delivered"): a status never moves back.
_STATUS_RANK = {
    TextMessage.Status.PENDING: 0, TextMessage.Status.SENDING: 1, TextMessage.Status.UNKNOWN: 1,
    TextMessage.Status.QUEUED: 2, TextMessage.Status.SENT: 3, TextMessage.Status.FAILED: 4,
    TextMessage.Status.UNDELIVERED: 4, TextMessage.Status.DELIVERED: 4, TextMessage.Status.READ: 5,
}
# Twilio's other names for the same steps.
_TWILIO_STATUSES = {"accepted": TextMessage.Status.QUEUED, "scheduled": TextMessage.Status.QUEUED,
                    "sending": TextMessage.Status.QUEUED, "canceled": TextMessage.Status.FAILED}


def text_status_update(*, message_sid: str, status: str, error_code: str = "") -> TextMessage | None:
    """Record what Twilio says became of a text; None for a text we never sent."""
    message_sid = sid_required(message_sid, "MessageSid")
    status = _TWILIO_STATUSES.get(status, status)
    if status not in _STATUS_RANK:
        raise UnknownTextStatus(f"{status!r} is not a status Twilio reports for a text.")
    with transaction.atomic():
        text = TextMessage.objects.select_for_update().filter(message_sid=message_sid).first()
        if text is None or _STATUS_RANK.get(text.status, 0) > _STATUS_RANK[status]:
            return text
        text.status, text.error_code = status, error_code or text.error_code
        text.save(update_fields=["status", "error_code", "updated_at"])
        return text


class UnknownTextStatus(ValueError):
    pass


def text_receive(*, tenant: Tenant, message_sid: str, phone: str, body: str, now: dt.datetime | None = None) -> str:
    """Act on a patient's text to the practice; what to answer ("" for nothing).

    STOP and its synonyms opt the number out of every later text, START opts it back in (Twilio
    itself answers both); C confirms their next visit, R gives the number to call. Anything else
    is kept for the staff. Twilio retries webhooks: a text seen before gets the same answer.
    """
    now = _now(now)
    message_sid = sid_required(message_sid, "MessageSid")
    try:
        phone = normalize_phone(phone)
    except InvalidPhoneNumber:
        return ""  # a short code or a sender name: no patient, and nobody to answer
    with transaction.atomic():
        patients = patient_find_by_phone(tenant=tenant, phone=phone)
        received, created = TextMessage.objects.get_or_create(
            tenant=tenant, key=f"inbound:{message_sid}",
            defaults={"kind": TextMessage.Kind.INBOUND, "phone": phone, "body": body, "message_sid": message_sid,
                      "status": TextMessage.Status.RECEIVED, "patient": patients[0] if len(patients) == 1 else None},
        )
        if not created:
            earlier = TextMessage.objects.filter(tenant=tenant, key=f"reply:{message_sid}").first()
            return earlier.body if earlier else ""
        reply = _reply_to(tenant=tenant, phone=phone, intent=texts.reply_read(body), now=now)
        if reply:
            TextMessage.objects.create(
                tenant=tenant, key=f"reply:{message_sid}", kind=TextMessage.Kind.REPLY, phone=phone, body=reply,
                patient=received.patient, status=TextMessage.Status.QUEUED, sent_at=now,
            )
    return reply


def _reply_to(*, tenant: Tenant, phone: str, intent: texts.Reply, now: dt.datetime) -> str:
    actor = Actor.system("text from the patient")
    if intent is texts.Reply.OPT_OUT:
        _opt_out_record(tenant=tenant, phone=phone, now=now)
        audit_record(actor=actor, action="opt_out", object_type="bookings.TextOptOut", tenant=tenant)
        return ""  # Twilio has answered already, and a reply to a number that just opted out is blocked
    if intent is texts.Reply.OPT_IN:
        TextOptOut.objects.for_tenant(tenant).filter(phone_index=phone_blind_index(phone)).delete()
        audit_record(actor=actor, action="opt_in", object_type="bookings.TextOptOut", tenant=tenant)
        return ""
    if text_opted_out(tenant=tenant, phone=phone):
        return ""
    number = practice_number(tenant=tenant)
    practice_phone = display_phone(number) if number else ""
    if intent is texts.Reply.HELP:
        return texts.help_reply(practice=tenant.name, practice_phone=practice_phone)
    if intent is texts.Reply.RESCHEDULE:
        return texts.reschedule_reply(practice=tenant.name, practice_phone=practice_phone)
    if intent is texts.Reply.CONFIRM:
        visit = patient_next_visit_by_phone(tenant=tenant, phone=phone, now=now)
        if visit is None:
            return texts.nothing_to_confirm_reply(practice=tenant.name, practice_phone=practice_phone)
        Appointment.objects.filter(pk=visit.pk, confirmed_by_patient_at=None).update(confirmed_by_patient_at=now)
        audit_record(actor=actor, action="confirm", object_type="bookings.Appointment", object_id=visit.pk,
                     tenant=tenant)
        return texts.confirmed_reply(_visit(visit))
    return texts.kept_for_staff_reply(practice=tenant.name, practice_phone=practice_phone)
def _calendar_push_on_commit(appointment: Appointment, *, previous_provider_id: int | None = None) -> None:
    """Once the change commits, have the worker write it to the provider's calendar (and off the old one).

    One indexed query when no calendar is linked, so the booking path stays as it was. `robust`: a broker
    that cannot be reached is logged, and the booking the caller just heard confirmed still stands.
    """
    provider_ids = {appointment.provider_id, previous_provider_id} - {None}
    if not CalendarLink.objects.filter(provider_id__in=provider_ids, is_enabled=True).exists():
        return
    from bookings.tasks import appointment_calendar_push_task  # the tasks module imports this one

    moved_from = previous_provider_id if previous_provider_id != appointment.provider_id else None
    transaction.on_commit(partial(appointment_calendar_push_task.delay, appointment.pk, moved_from), robust=True)


def _calendar_busy_pull_on_commit(link: CalendarLink) -> None:
    from bookings.tasks import calendar_busy_pull_task  # the tasks module imports this one

    transaction.on_commit(partial(calendar_busy_pull_task.delay, link.pk), robust=True)


def _calendar_access(link: CalendarLink) -> calendars.CalendarAccess:
    return calendars.CalendarAccess(url=link.url, username=link.username, password=link.password)


def _calendar_call(link: CalendarLink, action: Callable[[calendars.CalendarAccess], T], now: dt.datetime) -> T | None:
    """Run `action` on the link's calendar; a failure is written on the link, where the admin shows it.

    Only CalendarUnavailable is raised on, for the task to try again later; a refusal (wrong password,
    no such calendar) would be refused again, so it waits on the link for staff to fix it.
    """
    try:
        result = action(_calendar_access(link))
    except calendars.CalendarError as error:
        CalendarLink.objects.filter(pk=link.pk).update(last_error=str(error)[:300], last_error_at=now)
        logger.warning("calendar link %s: %s", link.pk, error)
        if isinstance(error, calendars.CalendarUnavailable):
            raise
        return None
    if link.last_error:
        CalendarLink.objects.filter(pk=link.pk).update(last_error="", last_error_at=None)
    return result


def appointment_calendar_push(
    *, appointment: Appointment, previous_provider_id: int | None = None, now: dt.datetime | None = None
) -> None:
    """Make the provider's calendar show the appointment as it is now; safe to run any number of times.

    The event's UID is derived from the appointment, so a push overwrites the event it pushed before; a
    cancelled appointment's event is deleted. Moved to another provider, it also leaves the old one's calendar.
    """
    now = _now(now)
    event = appointment_calendar_event(appointment)
    if previous_provider_id is not None and previous_provider_id != appointment.provider_id:
        previous = calendar_link_enabled_for(provider_id=previous_provider_id)
        if previous is not None:
            _calendar_call(previous, lambda access: calendars.event_delete(access, event.uid), now)
    link = calendar_link_enabled_for(provider_id=appointment.provider_id)
    if link is None:
        return
    if appointment.status == Appointment.Status.CANCELLED:
        _calendar_call(link, lambda access: calendars.event_delete(access, event.uid), now)
    else:
        _calendar_call(link, lambda access: calendars.event_put(access, event), now)


def calendar_busy_pull(*, link: CalendarLink, now: dt.datetime | None = None) -> int:
    """Replace the link's busy blocks with its calendar's busy time from today to the booking horizon.

    The practice's own pushed appointments are not busy time. A booked appointment that an event now
    overlaps is recorded as a CalendarConflict, once however many syncs see it. Returns the blocks stored.
    """
    now = _now(now)
    tenant = link.tenant
    tz = tenant.tzinfo
    today = now.astimezone(tz).date()
    window_start = dt.datetime.combine(today, dt.time.min, tzinfo=tz)
    window_end = dt.datetime.combine(today + dt.timedelta(days=tenant.booking_horizon_days + 1), dt.time.min, tzinfo=tz)
    events = _calendar_call(
        link,
        lambda access: calendars.busy_events(access, start=window_start, end=window_end, tz=tz,
                                             skip_uid_suffix=calendars.own_uid_suffix(tenant.slug)),
        now,
    )
    if events is None:
        return 0
    with transaction.atomic():
        # Locked so that two syncs of one calendar (the periodic one and a save's) take turns.
        CalendarLink.objects.select_for_update().filter(pk=link.pk).first()
        BusyBlock.objects.filter(calendar_link=link).delete()
        BusyBlock.objects.bulk_create(
            BusyBlock(tenant=tenant, provider_id=link.provider_id, calendar_link=link, start=event.start,
                      end=event.end, source=link.busy_source, external_uid=event.uid)
            for event in events
        )
        CalendarLink.objects.filter(pk=link.pk).update(last_synced_at=now)
        _calendar_conflicts_record(link, events, now)
    return len(events)


def _calendar_conflicts_record(link: CalendarLink, events: list[calendars.BusyEvent], now: dt.datetime) -> None:
    if not events:
        return
    booked = Appointment.objects.filter(
        provider_id=link.provider_id, status=Appointment.Status.BOOKED,
        start__lt=max(event.end for event in events), end__gt=max(now, min(event.start for event in events)),
    ).values_list("pk", "start", "end")
    found = {
        (appointment_id, event.uid): event
        for appointment_id, start, end in booked
        for event in events if event.start < end and event.end > start
    }
    known = set(
        CalendarConflict.objects.filter(appointment_id__in={key[0] for key in found})
        .values_list("appointment_id", "external_uid")
    )
    new = [
        CalendarConflict(tenant_id=link.tenant_id, appointment_id=appointment_id, external_uid=uid,
                         external_start=event.start, external_end=event.end)
        for (appointment_id, uid), event in found.items() if (appointment_id, uid) not in known
    ]
    if new:
        CalendarConflict.objects.bulk_create(new, ignore_conflicts=True)
        logger.warning("calendar link %s: an event now overlaps booked appointment(s) %s",
                       link.pk, sorted({conflict.appointment_id for conflict in new}))


def calendar_conflicts_resolve(*, conflicts: QuerySet[CalendarConflict], actor: Actor,
                               now: dt.datetime | None = None) -> int:
    """Mark conflicts dealt with (the appointment moved, or the event was meant); returns how many were open."""
    now = _now(now)
    with transaction.atomic():
        open_ones = list(conflicts.filter(resolved_at__isnull=True).select_for_update(of=("self",)))
        for conflict in open_ones:
            conflict.resolved_at, conflict.resolved_by = now, actor.user
            conflict.save(update_fields=["resolved_at", "resolved_by"])
            audit_record(actor=actor, action="resolve", object_type="bookings.CalendarConflict",
                         object_id=conflict.pk, tenant=conflict.tenant_id)
    return len(open_ones)


def calendar_link_save(
    *,
    provider: Provider,
    url: str,
    username: str,
    actor: Actor,
    password: str = "",
    is_enabled: bool = True,
    now: dt.datetime | None = None,
) -> CalendarLink:
    """Link the provider's calendar, or change the link; a blank password keeps the stored one.

    An enabled link is read at once; a disabled one stops blocking the provider's time. A calendar
    newly linked, switched on or moved gets the provider's upcoming appointments written to it, not
    only those booked from now on.
    """
    link = CalendarLink.objects.filter(provider=provider).first() or CalendarLink(tenant_id=provider.tenant_id,
                                                                                 provider=provider)
    creating = link.pk is None
    changes = {"url": url.strip(), "username": username.strip(), "is_enabled": is_enabled}
    if password:
        changes["password"] = password
    changed = sorted(name for name, value in changes.items() if creating or getattr(link, name) != value)
    for name, value in changes.items():
        setattr(link, name, value)
    if not link.password:
        raise ValidationError({"password": "The calendar needs a password (often an app-specific one)."})
    link.full_clean()
    with transaction.atomic():
        link.save()
        if not link.is_enabled:
            BusyBlock.objects.filter(calendar_link=link).delete()
        audit_record(actor=actor, action="create" if creating else "change", object_type="bookings.CalendarLink",
                     object_id=link.pk, tenant=link.tenant_id, detail={"fields": changed})
        if link.is_enabled:
            _calendar_busy_pull_on_commit(link)
            if creating or {"is_enabled", "url"} & set(changed):
                from bookings.tasks import appointment_calendar_push_task  # the tasks module imports this one

                for appointment_id in appointment_ids_upcoming(provider=provider, now=_now(now)):
                    transaction.on_commit(partial(appointment_calendar_push_task.delay, appointment_id), robust=True)
    return link


def calendar_link_delete(*, link: CalendarLink, actor: Actor) -> None:
    """Unlink the calendar; the busy time read from it goes with it (the events in it stay)."""
    with transaction.atomic():
        audit_record(actor=actor, action="delete", object_type="bookings.CalendarLink", object_id=link.pk,
                     tenant=link.tenant_id, detail={"provider_id": link.provider_id})
        link.delete()


def calendar_feed_token_issue(*, provider: Provider, actor: Actor) -> tuple[CalendarFeedToken, str]:
    """A new feed for the provider, and its secret token: returned this once, stored only as a hash."""
    token = calendars.feed_token_new()
    with transaction.atomic():
        feed = CalendarFeedToken.objects.create(
            tenant_id=provider.tenant_id, provider=provider, token_hash=calendars.feed_token_hash(token)
        )
        audit_record(actor=actor, action="create", object_type="bookings.CalendarFeedToken", object_id=feed.pk,
                     tenant=feed.tenant_id, detail={"provider_id": provider.pk})
    return feed, token


def calendar_feed_token_revoke(*, feed: CalendarFeedToken, actor: Actor, now: dt.datetime | None = None) -> CalendarFeedToken:
    """The feed's URL stops working for good; calendars subscribed to it keep what they last fetched."""
    with transaction.atomic():
        feed = CalendarFeedToken.objects.select_for_update().get(pk=feed.pk)
        if feed.revoked_at is None:
            feed.revoked_at = _now(now)
            feed.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action="revoke", object_type="bookings.CalendarFeedToken", object_id=feed.pk,
                         tenant=feed.tenant_id)
    return feed
