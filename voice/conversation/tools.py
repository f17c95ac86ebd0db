"""The tool layer: the only way a conversation engine reaches practice data.

Every tool takes plain arguments, returns plain data that is safe to say aloud
with no more PHI than the task needs, and is recorded on the call with its
arguments and result. Both engines (rules and Claude) use exactly these.
Tools are synchronous (they use the ORM); engines call them through `acall`,
which runs them off the event loop.
"""

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable

from channels.db import database_sync_to_async
from django.utils import timezone

from bookings import availability
from bookings.models import Appointment, AppointmentType, Patient, Provider
from bookings.selectors import (
    appointment_list_by_ids,
    availability_calendar,
    patient_appointments_upcoming,
    patient_find_by_name_and_dob,
    patient_find_by_phone,
    type_info,
)
from bookings.services import (
    BookingError,
    PatientInvalid,
    PracticeClosed,
    SlotUnavailable,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    patient_create,
    slot_check,
)
from calls.models import Call
from calls.services import message_create, tool_call_record
from tenants.crypto import InvalidPhoneNumber, normalize_phone
from tenants.models import BusinessHours, Closure, Tenant
from tenants.services import Actor
from voice.conversation.speech import say_date, say_list, say_time, say_when

logger = logging.getLogger(__name__)

PARTS_OF_DAY = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}
# Identity checks a call may fail, and patient records it may create, whatever engine drives it:
# beyond them a caller (or a model talked into it) could guess dates of birth one after another.
MAX_FAILED_VERIFICATIONS = 3
MAX_REGISTRATIONS = 2
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class ToolError(Exception):
    """A tool refused; the message is fit to say to the caller."""


@dataclasses.dataclass
class ToolSession:
    """What the tools remember during one call (saved with the call's state)."""

    caller_patient_ids: list[int] = dataclasses.field(default_factory=list)
    verified_patient_id: int | None = None
    changed_appointment_ids: list[int] = dataclasses.field(default_factory=list)
    # appointment id -> the last thing done to it on this call (booked, rescheduled, cancelled)
    appointment_actions: dict[str, str] = dataclasses.field(default_factory=dict)
    actions: list[str] = dataclasses.field(default_factory=list)
    transferred_to: str | None = None
    message: str | None = None
    ended: bool = False
    failed_verifications: int = 0
    registrations: int = 0


class ReceptionistTools:
    def __init__(self, *, call: Call, tenant: Tenant, now: Callable[[], dt.datetime] | None = None,
                 session: ToolSession | None = None):
        self.call = call
        self.tenant = tenant
        self.tz = tenant.tzinfo
        self._now = now or timezone.now
        self.session = session or ToolSession()
        self.actor = Actor(type="agent", label=f"call {call.pk}")
        self._types = {t.key: t for t in AppointmentType.objects.for_tenant(tenant).filter(is_active=True)}
        self._providers = {p.key: p for p in Provider.objects.for_tenant(tenant).filter(is_active=True)}

    # -- plumbing -----------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self._now()

    def today(self) -> dt.date:
        return self.now().astimezone(self.tz).date()

    @property
    def appointment_types(self) -> dict[str, AppointmentType]:
        return self._types

    @property
    def providers(self) -> dict[str, Provider]:
        return self._providers

    def call_tool(self, tool: str, /, **arguments) -> dict:
        """Run a tool by name and record it on the call; a refusal comes back as {"error": ...}."""
        method = getattr(self, f"tool_{tool}", None)
        if method is None:
            result, ok = {"error": f"There is no tool called {tool}."}, False
        else:
            started = time.perf_counter()
            try:
                result, ok = method(**arguments), True
            except ToolError as error:
                result, ok = {"error": str(error)}, False
            except TypeError as error:  # wrong arguments from an engine (Claude may guess)
                result, ok = {"error": f"Bad arguments for {tool}: {error}"}, False
        duration = 0 if method is None else int((time.perf_counter() - started) * 1000)
        tool_call_record(call=self.call, name=tool, arguments=arguments, result=result, ok=ok, duration_ms=duration)
        return result

    async def acall(self, tool: str, /, **arguments) -> dict:
        return await database_sync_to_async(self.call_tool)(tool, **arguments)

    def _local(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(self.tz)

    def _parse_start(self, start: str) -> dt.datetime:
        try:
            value = dt.datetime.fromisoformat(start)
        except (TypeError, ValueError):
            raise ToolError("I need the time as an ISO date and time, like 2026-12-08T15:00.") from None
        return value.replace(tzinfo=self.tz) if value.tzinfo is None else value

    def _parse_date(self, day: str) -> dt.date:
        try:
            return dt.date.fromisoformat(day)
        except (TypeError, ValueError):
            raise ToolError("I need the date as YYYY-MM-DD.") from None

    def _type(self, key: str) -> AppointmentType:
        if key not in self._types:
            raise ToolError(f"We don't have an appointment type called {key!r}; we offer "
                            + say_list([t.name.lower() for t in self._types.values()], "and") + ".")
        return self._types[key]

    def _provider(self, key: str | None) -> Provider | None:
        if not key:
            return None
        if key not in self._providers:
            raise ToolError(f"No provider called {key!r} works here.")
        return self._providers[key]

    def _slot(self, slot: availability.Slot) -> dict:
        provider = next(p for p in self._providers.values() if p.id == slot.provider_id)
        local = self._local(slot.start)
        return {
            "start": local.isoformat(),
            "spoken": say_when(local),
            "time": say_time(local),
            "provider": provider.name,
            "provider_key": provider.key,
        }

    def _appointment(self, appointment: Appointment) -> dict:
        local = self._local(appointment.start)
        return {
            "id": appointment.pk,
            "type": appointment.appointment_type.name,
            "type_key": appointment.appointment_type.key,
            "provider": appointment.provider.name,
            "provider_key": appointment.provider.key,
            "start": local.isoformat(),
            "spoken": say_when(local),
            "status": appointment.status,
        }

    def _verified_patient(self) -> Patient:
        if self.session.verified_patient_id is None:
            raise ToolError("I need to verify who I'm speaking with first: name and date of birth.")
        return Patient.objects.get(pk=self.session.verified_patient_id, tenant=self.tenant)

    def _remember_change(self, appointment: Appointment, action: str) -> None:
        if appointment.pk not in self.session.changed_appointment_ids:
            self.session.changed_appointment_ids.append(appointment.pk)
        previous = self.session.appointment_actions.get(str(appointment.pk))
        # Moving an appointment booked on this same call leaves it a booking.
        self.session.appointment_actions[str(appointment.pk)] = "booked" if (previous, action) == ("booked", "rescheduled") else action

    # -- identity -------------------------------------------------------------------

    def tool_identify_caller(self) -> dict:
        """Patients on file for the caller's number: how many, never who."""
        if not self.call.caller_number:
            return {"matches": 0}
        try:
            patients = patient_find_by_phone(tenant=self.tenant, phone=self.call.caller_number)
        except InvalidPhoneNumber:
            patients = []
        self.session.caller_patient_ids = [p.pk for p in patients]
        return {"matches": len(patients)}

    def _identity_checks_left(self) -> None:
        if self.session.failed_verifications >= MAX_FAILED_VERIFICATIONS:
            raise ToolError("For your security I can't check any more details on this call; "
                            "our front desk can help you.")

    def tool_verify_patient(self, date_of_birth: str, first_name: str = "", last_name: str = "") -> dict:
        """Verify by name and date of birth, or by date of birth alone among the caller ID's patients."""
        self._identity_checks_left()
        dob = self._parse_date(date_of_birth)
        patient = None
        if first_name and last_name:
            patient = patient_find_by_name_and_dob(
                tenant=self.tenant, first_name=first_name, last_name=last_name, date_of_birth=dob
            )
        if patient is None and self.session.caller_patient_ids:
            matches = [
                p for p in Patient.objects.filter(pk__in=self.session.caller_patient_ids, tenant=self.tenant)
                if p.date_of_birth == dob
            ]
            patient = matches[0] if len(matches) == 1 else None
        if patient is None:
            self.session.failed_verifications += 1
            return {"verified": False, "attempts_left": MAX_FAILED_VERIFICATIONS - self.session.failed_verifications}
        self.session.verified_patient_id = patient.pk
        return {"verified": True, "first_name": patient.first_name, "full_name": patient.full_name}

    def tool_register_patient(self, first_name: str, last_name: str, date_of_birth: str, phone: str = "") -> dict:
        """Create a new patient record (the caller is then verified as that patient)."""
        self._identity_checks_left()
        if self.session.registrations >= MAX_REGISTRATIONS:
            raise ToolError("I can't open any more new patient records on this call; our front desk can help you.")
        dob = self._parse_date(date_of_birth)
        number = phone or self.call.caller_number
        try:
            number = normalize_phone(number) if number else ""
        except InvalidPhoneNumber:
            number = ""
        existing = patient_find_by_name_and_dob(
            tenant=self.tenant, first_name=first_name, last_name=last_name, date_of_birth=dob
        )
        if existing is not None:
            self.session.verified_patient_id = existing.pk
            return {"registered": False, "existing": True, "full_name": existing.full_name}
        try:
            patient = patient_create(
                tenant=self.tenant, first_name=first_name, last_name=last_name, date_of_birth=dob,
                phone=number, actor=self.actor, now=self.now(),
            )
        except PatientInvalid as error:
            raise ToolError(str(error)) from None
        self.session.registrations += 1
        self.session.verified_patient_id = patient.pk
        return {"registered": True, "full_name": patient.full_name}

    # -- appointments -------------------------------------------------------------------

    def tool_list_appointments(self) -> dict:
        patient = self._verified_patient()
        upcoming = patient_appointments_upcoming(patient=patient, now=self.now())
        return {"appointments": [self._appointment(a) for a in upcoming]}

    def tool_find_slots(self, type: str, date: str = "", time: str = "", provider: str = "",
                        limit: int = 3, part_of_day: str = "") -> dict:
        """Open slots. With date and time: is it free, and if not why and the nearest alternatives.
        With a date: open times that day. With neither: the first open times from today on."""
        kind = self._type(type)
        chosen = self._provider(provider)
        provider_id = chosen.id if chosen else None
        now = self.now()
        limit = max(1, min(int(limit), 6))
        if date and time:
            start = self._parse_start(f"{date}T{time}")
            try:
                slot = slot_check(tenant=self.tenant, kind=kind, start=start, provider=chosen, now=now)
            except SlotUnavailable as error:
                alternatives = [self._slot(s) for s in error.alternatives[:limit]]
                return {"available": False, "reason": str(error), "alternatives": alternatives}
            except BookingError as error:
                return {"available": False, "reason": str(error), "alternatives": []}
            return {"available": True, "slot": self._slot(slot)}
        first_day = self._parse_date(date) if date else self.today()
        last_day = first_day if date else first_day + dt.timedelta(days=14)
        # Two weeks loaded either way: a day with nothing open needs the following days for alternatives.
        calendar = availability_calendar(
            tenant=self.tenant, start_date=first_day, end_date=first_day + dt.timedelta(days=14), role=kind.role
        )
        slots = availability.distinct_times(
            availability.open_slots(calendar, type_info(kind), start_date=first_day, end_date=last_day,
                                    now=now, provider_id=provider_id)
        )
        hours = PARTS_OF_DAY.get(part_of_day)
        if hours:
            slots = [s for s in slots if hours[0] <= self._local(s.start).hour < hours[1]] or slots
        result = {"slots": [self._slot(s) for s in slots[:limit]]}
        if date and not slots:
            result["reason"] = availability.closed_sentence(calendar, first_day) or (
                f"We have nothing open for a {kind.name.lower()} on {say_date(first_day)}."
            )
            later = availability.nearest_alternatives(
                calendar,
                type_info(kind),
                requested=dt.datetime.combine(first_day, dt.time(9), tzinfo=self.tz),
                now=now, provider_id=provider_id, limit=limit,
            )
            result["alternatives"] = [self._slot(s) for s in later]
        return result

    def _start_and_provider(self, start: str, provider: str):
        return self._parse_start(start), self._provider(provider)

    def tool_book_appointment(self, type: str, start: str, provider: str = "") -> dict:
        patient = self._verified_patient()
        kind = self._type(type)
        when, chosen = self._start_and_provider(start, provider)
        try:
            appointment = appointment_book(
                tenant=self.tenant, patient=patient, appointment_type=kind, start=when, provider=chosen,
                actor=self.actor, source=Appointment.Source.PHONE, now=self.now(),
            )
        except BookingError as error:
            return self._refusal(error)
        self._remember_change(appointment, "booked")
        self.call.patient_id = patient.pk
        return {"booked": True, "appointment": self._appointment(appointment)}

    def _refusal(self, error: BookingError) -> dict:
        result = {"error": str(error)}
        if isinstance(error, SlotUnavailable):
            result["alternatives"] = [self._slot(s) for s in error.alternatives]
        if isinstance(error, PracticeClosed):
            result["closed_for"] = error.reason
        return result

    def _own_appointment(self, appointment_id) -> Appointment:
        patient = self._verified_patient()
        try:
            return Appointment.objects.select_related("appointment_type", "provider", "tenant").get(
                pk=int(appointment_id), patient=patient, tenant=self.tenant
            )
        except (Appointment.DoesNotExist, TypeError, ValueError):
            raise ToolError("I can't find that appointment for you.") from None

    def tool_reschedule_appointment(self, appointment_id: int, start: str, provider: str = "") -> dict:
        appointment = self._own_appointment(appointment_id)
        when, chosen = self._start_and_provider(start, provider)
        try:
            moved = appointment_reschedule(
                appointment=appointment, new_start=when, provider=chosen, actor=self.actor, now=self.now()
            )
        except BookingError as error:
            return self._refusal(error)
        self._remember_change(moved, "rescheduled")
        return {"rescheduled": True, "appointment": self._appointment(moved)}

    def tool_cancel_appointment(self, appointment_id: int) -> dict:
        appointment = self._own_appointment(appointment_id)
        try:
            cancelled = appointment_cancel(appointment=appointment, actor=self.actor, now=self.now())
        except BookingError as error:
            return {"error": str(error)}
        self._remember_change(cancelled, "cancelled")
        return {"cancelled": True, "appointment": self._appointment(cancelled)}

    # -- the practice -------------------------------------------------------------------

    def _hours_on(self, day: dt.date, hours, closures) -> dict:
        if day in closures:
            return {"date": day.isoformat(), "spoken_date": say_date(day), "open": False, "reason": closures[day]}
        intervals = hours.get(day.weekday(), [])
        if not intervals:
            return {"date": day.isoformat(), "spoken_date": say_date(day), "open": False,
                    "reason": f"we are closed on {WEEKDAY_NAMES[day.weekday()]}s"}
        return {
            "date": day.isoformat(),
            "spoken_date": say_date(day),
            "open": True,
            "intervals": [[o.strftime("%H:%M"), c.strftime("%H:%M")] for o, c in intervals],
            "spoken": say_list([f"{say_time(o)} to {say_time(c)}" for o, c in intervals], "and"),
            "opens": say_time(intervals[0][0]),
            "closes": say_time(intervals[-1][1]),
        }

    def tool_practice_info(self, date: str = "") -> dict:
        """Hours (today's, a given day's and the week's), closures, address, parking, insurance, new patients."""
        hours: dict[int, list] = {}
        for weekday, opens, closes in BusinessHours.objects.for_tenant(self.tenant).values_list("weekday", "opens", "closes"):
            hours.setdefault(weekday, []).append((opens, closes))
        for intervals in hours.values():
            intervals.sort()
        today = self.today()
        closures = dict(
            Closure.objects.for_tenant(self.tenant).filter(date__gte=today).values_list("date", "reason")
        )
        info = {
            "practice": self.tenant.name,
            "address": self.tenant.address,
            "parking": self.tenant.parking_note,
            "insurance_accepted": self.tenant.insurance_accepted,
            "insurance_not_accepted": self.tenant.insurance_not_accepted,
            "new_patient_note": self.tenant.new_patient_note,
            "today": self._hours_on(today, hours, closures),
            "week": {
                WEEKDAY_NAMES[d]: (
                    say_list([f"{say_time(o)} to {say_time(c)}" for o, c in hours[d]], "and") if hours.get(d) else "closed"
                )
                for d in range(7)
            },
            "upcoming_closures": [
                {"date": d.isoformat(), "spoken_date": say_date(d), "reason": r}
                for d, r in sorted(closures.items())[:5]
            ],
        }
        if date:
            info["day"] = self._hours_on(self._parse_date(date), hours, closures)
        return info

    def tool_check_insurance(self, name: str) -> dict:
        wanted = " ".join(name.casefold().split())
        for plan in self.tenant.insurance_accepted:
            if plan.casefold() in wanted or wanted in plan.casefold():
                return {"plan": plan, "accepted": True}
        for plan in self.tenant.insurance_not_accepted:
            if plan.casefold() in wanted or wanted in plan.casefold():
                return {"plan": plan, "accepted": False}
        return {"plan": name, "accepted": None, "accepted_plans": self.tenant.insurance_accepted}

    # -- handing over -------------------------------------------------------------------

    def tool_transfer_to_human(self, reason: str = "") -> dict:
        number = self.tenant.transfer_number
        if not number:
            raise ToolError("There is no one to transfer to right now; I can take a message instead.")
        self.session.transferred_to = number
        self.session.actions.append("transferred")
        return {"transfer_to": number}

    def tool_take_message(self, about: str, caller_name: str = "", callback_number: str = "", for_whom: str = "") -> dict:
        number = callback_number or self.call.caller_number
        try:
            number = normalize_phone(number) if number else ""
        except InvalidPhoneNumber:
            raise ToolError("That callback number doesn't look right.") from None
        try:
            message = message_create(
                tenant=self.tenant, call=self.call, about=about, caller_name=caller_name,
                callback_number=number, for_whom=for_whom, actor=self.actor,
            )
        except ValueError as error:
            raise ToolError(str(error)) from None
        self.session.message = message.about
        self.session.actions.append("message_taken")
        return {"message_taken": True}

    def tool_end_call(self) -> dict:
        self.session.ended = True
        return {"ended": True}

    # -- for the call record -------------------------------------------------------------

    def changed_appointments(self) -> list[Appointment]:
        return appointment_list_by_ids(tenant=self.tenant, ids=self.session.changed_appointment_ids)

    def outcome(self, *, caller_spoke: bool) -> str:
        """What the call achieved, judged by where each appointment it touched ended up."""
        final = set(self.session.appointment_actions.values()) | set(self.session.actions)
        for outcome in ["booked", "rescheduled", "cancelled", "transferred", "message_taken"]:
            if outcome in final:
                return outcome
        return Call.Outcome.ANSWERED if caller_spoke else Call.Outcome.ABANDONED

    def state(self) -> dict:
        return dataclasses.asdict(self.session)

