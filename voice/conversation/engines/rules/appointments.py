"""A caller's own appointments: finding the one they mean, then telling, cancelling or moving it."""

import datetime as dt

from tenants.spoken import say_list
from voice.conversation.engines.rules import phrasing
from voice.conversation.engines.rules.state import Expecting, Intent
from voice.conversation.tools.results import AppointmentView, Cancelled, Rescheduled
from voice.conversation.understanding import Understanding


def matching(appointments: list[AppointmentView], *, type_key: str | None = None, day: dt.date | None = None,
             day_of_month: int | None = None, provider_key: str | None = None,
             time: dt.time | None = None) -> list[AppointmentView]:
    """The appointments that fit everything the caller said about the one they mean.

    A day said as a weekday ("my cleaning on Thursday") is resolved to the next one; when no
    appointment is on that date, the caller may mean a later one on the same weekday.
    """
    found = [
        a for a in appointments
        if (type_key is None or a.type_key == type_key)
        and (provider_key is None or a.provider_key == provider_key)
        and (day_of_month is None or a.day.day == day_of_month)
        and (time is None or a.start.time() == time)
    ]
    if day is None:
        return found
    return [a for a in found if a.day == day] or [a for a in found if a.day.weekday() == day.weekday()]


class AppointmentFlow:
    def remember_appointment_request(self, u: Understanding) -> None:
        """What the caller said describes the appointment to find, and for a move, where it should go."""
        d = self.d
        d.appointment = None
        if u.name and not d.verified:
            d.first_name, d.last_name = u.name
        if u.birth_date and not d.verified:
            d.birth_date = u.birth_date
        d.type_key, d.provider_key, d.date = u.type_key, u.provider_key, u.date
        d.appointment_day_of_month = u.day_of_month
        if d.intent != Intent.RESCHEDULE:
            return
        d.same_time = u.same_time
        if u.new_date or (u.new_time and u.new_time.time):
            # "Move my cleaning on Thursday to Friday at 10": Thursday finds it, Friday at 10 is the wish.
            if u.new_date and u.new_date == u.date:
                d.date = None  # "move it to Friday": the only date named is the new one
            d.new_date = u.new_date
            d.new_time = u.new_time.time if u.new_time else None
        elif u.time and u.time.time:
            d.time = u.time.time

    async def find_appointment(self, verb: str) -> bool:
        """The appointment the caller means; True once it is known. One that fits is taken, never asked about."""
        d = self.d
        if d.appointment:
            return True
        upcoming = (await self.tools.acall("list_appointments")).appointments
        if not upcoming:
            self.say("I don't see any upcoming appointments for you.")
            self.anything_else()
            return False
        described = any(v is not None for v in (d.type_key, d.date, d.appointment_day_of_month, d.provider_key))
        fits = matching(upcoming, type_key=d.type_key, day=d.date, day_of_month=d.appointment_day_of_month,
                        provider_key=d.provider_key) if described else upcoming
        if len(fits) == 1:
            d.appointment = fits[0]
            return True
        d.offered = []
        d.type_key = d.date = d.appointment_day_of_month = d.provider_key = None
        self.ask(phrasing.which_appointment(fits or upcoming, verb), Expecting.WHICH_APPOINTMENT)
        return False

    async def on_which_appointment(self, u: Understanding) -> bool:
        said = {"type_key": u.type_key, "day": u.date, "day_of_month": u.day_of_month, "provider_key": u.provider_key,
                "time": u.time.time if u.time else None}
        if all(v is None for v in said.values()):
            return False
        fits = matching((await self.tools.acall("list_appointments")).appointments, **said)
        if len(fits) != 1:
            return False
        self.d.appointment = fits[0]
        await self.advance()
        return True

    async def tell_appointments(self) -> None:
        if not await self.identify():
            return
        upcoming = (await self.tools.acall("list_appointments")).appointments
        if upcoming:
            self.say(f"You have {say_list([phrasing.appointment_phrase(a, with_provider=True) for a in upcoming], 'and')}.")
        else:
            self.say("I don't see any upcoming appointments for you.")
        self.d.done.append("Told the caller their appointments")
        self.anything_else()

    async def advance_cancel(self) -> None:
        d = self.d
        if not await self.identify() or not await self.find_appointment("cancel"):
            return
        a = d.appointment
        if not d.confirmed:
            self.ask(phrasing.confirm_cancel(a), Expecting.CONFIRM_CANCEL)
            return
        result = await self.tools.acall("cancel_appointment", appointment_id=a.id)
        if isinstance(result, Cancelled):
            self.say(f"Done. Your {a.type.lower()} on {a.spoken} is cancelled.")
            d.done.append(f"Cancelled {phrasing.appointment_phrase(a)}")
        else:
            self.say(result.error)
        self.anything_else()

    async def advance_reschedule(self) -> None:
        d = self.d
        if not await self.identify() or not await self.find_appointment("move"):
            return
        a = d.appointment
        if d.date == a.day and d.time in (None, a.start.time()):
            d.date = d.time = None  # the day they named is the appointment's own, not the new one
        if d.new_date or d.new_time:
            d.date, d.time = d.new_date or a.day, d.new_time
            d.new_date = d.new_time = None
        if d.same_time and d.date and d.time is None:
            d.time = a.start.time()  # "to the tenth, same time"
        if d.slot is None:
            if not d.date and not d.earliest:
                self.ask(f"Your {a.type.lower()} is on {a.spoken}. What day and time would you like instead?",
                         Expecting.DATE_TIME)
                return
            d.type_key = a.type_key
            if not await self.find_slot():
                return
            d.refusals = 0
        if not d.confirmed:
            self.ask(phrasing.confirm_reschedule(a, d.slot), Expecting.CONFIRM_RESCHEDULE)
            return
        result = await self.tools.acall("reschedule_appointment", appointment_id=a.id, start=d.slot.start,
                                        provider=d.slot.provider_key)
        if isinstance(result, Rescheduled):
            moved = result.appointment
            self.say(f"Done. Your {a.type.lower()} is now on {moved.spoken} with {moved.provider}.")
            d.done.append(f"Moved {phrasing.kind_of(a.type)} to {moved.spoken}")
            self.anything_else()
            return
        d.forget_slot()
        self.offer(result.error, result.alternatives)
