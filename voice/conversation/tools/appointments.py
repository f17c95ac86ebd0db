"""Open times, and a verified patient's appointments: list, book, move, cancel."""

import datetime as dt
from typing import Literal

from pydantic import Field

from bookings.models import Appointment
from bookings.selectors import patient_appointment, patient_appointments_upcoming, slots_find
from bookings.services import (
    BookingError,
    PracticeClosed,
    SlotUnavailable,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    slot_check,
)
from voice.conversation.tools.context import ReceptionistTools, ToolError
from voice.conversation.tools.identity import NoArguments
from voice.conversation.tools.registry import Arguments, tool
from voice.conversation.tools.results import AppointmentList, Booked, Cancelled, Refused, Rescheduled, SlotSearch

# Practice-local [from, until) of each part of the day.
PARTS_OF_DAY = {"morning": (None, dt.time(12)), "afternoon": (dt.time(12), dt.time(17)), "evening": (dt.time(17), None)}


class FindSlots(Arguments):
    type: str = Field(description="Appointment type key.")
    date: dt.date | None = Field(None, description="YYYY-MM-DD, practice-local.")
    time: dt.time | None = Field(None, description="HH:MM, 24-hour, practice-local: is exactly this time free?")
    provider: str = Field("", description="Provider key, if the caller asked for one.")
    after: dt.time | None = Field(None, description="HH:MM: only times from this one on (\"after 3\").")
    before: dt.time | None = Field(None, description="HH:MM: only times before this one (\"before 10\").")
    part_of_day: Literal["morning", "afternoon", "evening"] | None = None
    limit: int = Field(3, ge=1, le=6)


class BookAppointment(Arguments):
    type: str
    start: dt.datetime = Field(description="ISO date-time with offset, as find_slots returned it.")
    provider: str = ""


class RescheduleAppointment(Arguments):
    appointment_id: int
    start: dt.datetime = Field(description="ISO date-time with offset, as find_slots returned it.")
    provider: str = ""


class CancelAppointment(Arguments):
    appointment_id: int


def _refusal(tools: ReceptionistTools, error: BookingError) -> Refused:
    alternatives = error.alternatives if isinstance(error, SlotUnavailable) else []
    return Refused(error=str(error), alternatives=[tools.slot_offer(s.start, s.provider_id) for s in alternatives],
                   closed_for=error.reason if isinstance(error, PracticeClosed) else "")


def _own_appointment(tools: ReceptionistTools, appointment_id: int) -> Appointment:
    appointment = patient_appointment(tenant=tools.tenant, patient=tools.verified_patient(), appointment_id=appointment_id)
    if appointment is None:
        raise ToolError("I can't find that appointment for you.")
    return appointment


@tool("list_appointments", "The verified patient's upcoming appointments.", NoArguments)
def list_appointments(tools: ReceptionistTools, args: NoArguments) -> AppointmentList:
    upcoming = patient_appointments_upcoming(patient=tools.verified_patient(), now=tools.now())
    return AppointmentList(appointments=[tools.appointment_view(a) for a in upcoming])


@tool("find_slots", "Open appointment times. With date and time: whether exactly that time is free, and if not why "
      "and the nearest alternatives. With a date: open times that day (within after/before or a part of the day). "
      "With no date: the first open times from today.", FindSlots)
def find_slots(tools: ReceptionistTools, args: FindSlots) -> SlotSearch:
    appointment_type = tools.appointment_type(args.type)
    provider = tools.provider(args.provider)
    now = tools.now()
    if args.date and args.time:
        start = dt.datetime.combine(args.date, args.time, tzinfo=tools.tz)
        try:
            slot = slot_check(tenant=tools.tenant, appointment_type=appointment_type, start=start, provider=provider, now=now)
        except BookingError as error:
            refusal = _refusal(tools, error)
            return SlotSearch(available=False, reason=refusal.error, alternatives=refusal.alternatives[:args.limit])
        return SlotSearch(available=True, slot=tools.slot_offer(slot.start, slot.provider_id))
    after, before = PARTS_OF_DAY.get(args.part_of_day or "", (None, None))
    search = slots_find(tenant=tools.tenant, appointment_type=appointment_type, now=now, day=args.date,
                        provider=provider, after=args.after or after, before=args.before or before, limit=args.limit)
    return SlotSearch(
        slots=[tools.slot_offer(s.start, s.provider_id) for s in search.slots],
        reason=search.reason,
        alternatives=[tools.slot_offer(s.start, s.provider_id) for s in search.alternatives],
    )


@tool("book_appointment", "Book for the verified patient, after the caller confirmed. `start` as find_slots returned it.",
      BookAppointment)
def book_appointment(tools: ReceptionistTools, args: BookAppointment) -> Booked | Refused:
    patient = tools.verified_patient()
    try:
        appointment = appointment_book(
            tenant=tools.tenant, patient=patient, appointment_type=tools.appointment_type(args.type),
            start=tools.aware(args.start), provider=tools.provider(args.provider), actor=tools.actor,
            source=Appointment.Source.PHONE, now=tools.now(),
        )
    except BookingError as error:
        return _refusal(tools, error)
    tools.remember_change(appointment, "booked")
    tools.call.patient_id = patient.pk
    return Booked(appointment=tools.appointment_view(appointment))


@tool("reschedule_appointment", "Move one of the verified patient's appointments, after the caller confirmed.",
      RescheduleAppointment)
def reschedule_appointment(tools: ReceptionistTools, args: RescheduleAppointment) -> Rescheduled | Refused:
    appointment = _own_appointment(tools, args.appointment_id)
    try:
        moved = appointment_reschedule(appointment=appointment, new_start=tools.aware(args.start),
                                       provider=tools.provider(args.provider), actor=tools.actor, now=tools.now())
    except BookingError as error:
        return _refusal(tools, error)
    tools.remember_change(moved, "rescheduled")
    return Rescheduled(appointment=tools.appointment_view(moved))


@tool("cancel_appointment", "Cancel one of the verified patient's appointments, after the caller confirmed.",
      CancelAppointment)
def cancel_appointment(tools: ReceptionistTools, args: CancelAppointment) -> Cancelled | Refused:
    appointment = _own_appointment(tools, args.appointment_id)
    try:
        cancelled = appointment_cancel(appointment=appointment, actor=tools.actor, now=tools.now())
    except BookingError as error:
        return Refused(error=str(error))
    tools.remember_change(cancelled, "cancelled")
    return Cancelled(appointment=tools.appointment_view(cancelled))
