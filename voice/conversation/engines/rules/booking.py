"""Booking: what kind of visit, when, which open time, who, a read-back, then the booking. Emergencies too."""

from tenants.spoken import say_list
from voice.conversation.engines.rules import phrasing
from voice.conversation.engines.rules.state import Expecting, Intent
from voice.conversation.engines.rules.wishes import asks_for_a_time
from voice.conversation.tools.results import Booked, SlotOffer
from voice.conversation.understanding import Understanding

MAX_REFUSALS = 3
# "the first one", "the last one": which of the offered times.
ORDINAL_PICKS = (("first", 0), ("earliest", 0), ("second", 1), ("third", 2), ("last", -1), ("latest", -1))


class BookingFlow:
    async def start_emergency(self, u: Understanding) -> None:
        d = self.d
        d.reset_request()
        d.intent = Intent.BOOK
        d.type_key = self.emergency_key
        if u.name and not d.verified:
            d.first_name, d.last_name = u.name
        self.say("I'm sorry you're in pain.")
        if d.type_key is None:
            await self.transfer("dental emergency")
            return
        result = await self.tools.acall("find_slots", type=d.type_key, date=self.tools.today(), limit=1)
        if not result.slots:
            self.say("We have no emergency openings left today, so let me get you to our team right away.")
            await self.transfer("dental emergency, no same-day slot")
            return
        slot = result.slots[0]
        d.date, d.time, d.slot, d.offered = slot.day, slot.start.time(), slot, [slot]
        self.ask(f"Our earliest emergency appointment today is at {slot.time} with {slot.provider}. "
                 "Would you like me to book it?", Expecting.EMERGENCY_OFFER)

    async def advance_booking(self) -> None:
        d = self.d
        if not d.type_key:
            examples = say_list([self.type_names[k].lower() for k in self.common_types[:3]])
            self.ask(f"What kind of appointment would you like? For example, {examples}.", Expecting.TYPE)
            return
        if d.slot is None:
            if not await self.find_slot():
                return
            d.refusals = 0
            if not d.verified and not d.confirmed:
                self.say(f"Great, I can fit you in on {d.slot.spoken} with {d.slot.provider}.")
        if not await self.identify():
            return
        if not d.confirmed:
            self.ask(phrasing.confirm_booking(self.type_names[d.type_key], d.slot), Expecting.CONFIRM_BOOKING)
            return
        result = await self.tools.acall("book_appointment", type=d.type_key, start=d.slot.start, provider=d.slot.provider_key)
        if isinstance(result, Booked):
            self.say(phrasing.booked(result.appointment))
            if d.registered and self.tools.tenant.new_patient_note:
                self.say(self.tools.tenant.new_patient_note)
            d.done.append(f"Booked {phrasing.appointment_phrase(result.appointment, with_provider=True)}")
            self.anything_else()
            return
        d.forget_slot()
        self.offer(result.error, result.alternatives)

    async def find_slot(self) -> bool:
        """Choose the open time the caller asked for, or offer the nearest ones; True once chosen.

        A time is booked only when it is exactly the time the caller said; a window ("after 3",
        "in the morning", "as early as possible") takes its first open time, which the read-back names.
        """
        d = self.d
        if d.date and d.time:
            result = await self.tools.acall("find_slots", type=d.type_key, date=d.date, time=d.time,
                                            provider=d.provider_key or "")
            if result.available:
                d.slot = result.slot
                return True
            self.offer(result.reason or "That time isn't available.", result.alternatives)
            return False
        if not d.date and not d.earliest:
            self.ask(phrasing.WHICH_DAY, Expecting.DATE_TIME)
            return False
        result = await self.tools.acall(
            "find_slots", type=d.type_key, date=d.date, provider=d.provider_key or "", after=d.after, before=d.before,
            part_of_day=d.part_of_day, limit=3,
        )
        if not result.slots:
            self.offer(result.reason or "I don't have anything open then.", result.alternatives)
            return False
        if d.earliest or d.after or d.before:
            d.slot = result.slots[0]
            return True
        d.offered = result.slots
        self.ask(phrasing.offer_day(result.slots), Expecting.ALTERNATIVE)
        return False

    def offer(self, reason: str, alternatives: list[SlotOffer]) -> None:
        d = self.d
        alternatives = alternatives[:3]  # more than three times is hard to hold in mind on the phone
        d.slot, d.offered = None, alternatives
        d.refusals += 1
        if d.refusals >= MAX_REFUSALS:
            # Each answer was understood, but none could be met: the same refusal again helps no one.
            self.say(reason)
            self.escalate()
            return
        if not alternatives:
            self.ask(f"{reason} What other day would work for you?", Expecting.DATE_TIME)
            return
        self.ask(phrasing.offer_alternatives(reason, alternatives), Expecting.ALTERNATIVE)

    async def on_type(self, u: Understanding) -> bool:
        if u.emergency and self.emergency_key:
            u.type_key = self.emergency_key
        if not u.type_key:
            return False
        self.remember(u)
        await self.advance()
        return True

    async def on_date_time(self, u: Understanding) -> bool:
        d = self.d
        if d.expecting == Expecting.ALTERNATIVE and d.offered:
            picked = self.pick_offered(u)
            if picked:
                d.slot, d.date, d.time = picked, picked.day, picked.start.time()
                await self.advance()
                return True
        if u.date or asks_for_a_time(u) or (u.time and u.time.part_of_day) or u.provider_key:
            if u.time and u.time.time and not u.date and d.offered:
                d.date = d.offered[0].day  # "10 then": on the day the offered times were on
            self.remember(u)
            if u.date or (u.time and u.time.time):
                d.offered = []
            await self.advance()
            return True
        if u.yes_no is False:
            self.ask(phrasing.OTHER_DAY_AND_TIME, Expecting.DATE_TIME)
            return True
        if u.yes_no is True and len(d.offered) == 1:
            d.slot = d.offered[0]
            await self.advance()
            return True
        return False

    def pick_offered(self, u: Understanding) -> SlotOffer | None:
        offered = self.d.offered
        lowered = u.text.lower()
        for word, index in ORDINAL_PICKS:
            if f"the {word}" in lowered or f"{word} one" in lowered:
                return offered[index] if -len(offered) <= index < len(offered) else None
        if not (u.time and u.time.time):
            return None
        matches = [o for o in offered if o.start.time() == u.time.time]
        if u.date:
            matches = [o for o in matches if o.day == u.date]
        if u.provider_key:
            matches = [o for o in matches if o.provider_key == u.provider_key] or matches
        return matches[0] if matches else None
