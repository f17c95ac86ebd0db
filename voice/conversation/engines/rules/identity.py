"""Who is calling: caller ID, then a date of birth (and a name when caller ID finds no one), or a new record."""

import datetime as dt

from voice.conversation.engines.rules import phrasing
from voice.conversation.engines.rules.state import Expecting, Intent
from voice.conversation.tools.results import Refused, Verification
from voice.conversation.understanding import Understanding

MAX_VERIFY_ATTEMPTS = 3


class IdentityFlow:
    async def identify(self) -> bool:
        """Make sure we know who the caller is (verified by date of birth); True once we do."""
        d = self.d
        if d.verified:
            return True
        if not d.caller_checked:
            d.caller_matches = (await self.tools.acall("identify_caller")).matches
            d.caller_checked = True
        if d.caller_matches and d.verify_attempts == 0 and not (d.first_name and d.last_name and d.birth_date):
            # Caller ID knows them: the date of birth alone verifies.
            if not d.birth_date:
                thanks = f"Thanks, {d.first_name}. " if d.first_name else ""
                self.ask(f"{thanks}For your security, could you please confirm your date of birth?", Expecting.DOB)
                return False
            result = await self.verify(d.first_name or "", d.last_name or "")
            if result is None:
                return False
            if result.verified:
                return self.verified(result)
            d.birth_date = None
            d.first_name = d.last_name = None
        if not (d.first_name and d.last_name):
            self.ask(phrasing.NAME, Expecting.NAME)
            return False
        if not d.birth_date:
            self.ask("And what is your date of birth?", Expecting.DOB)
            return False
        result = await self.verify(d.first_name, d.last_name)
        if result is None:
            return False
        if result.verified:
            return self.verified(result)
        if d.intent == Intent.BOOK:
            return await self.register()
        if d.verify_attempts >= MAX_VERIFY_ATTEMPTS:
            self.say("I'm sorry, I can't find your record with those details.")
            self.ask(phrasing.TRANSFER_OFFER, Expecting.TRANSFER_OFFER)
            return False
        self.say("I'm sorry, I couldn't find a patient with those details.")
        d.first_name = d.last_name = d.birth_date = None
        self.ask("Could you tell me your first and last name again, please?", Expecting.NAME)
        return False

    async def verify(self, first_name: str, last_name: str) -> Verification | None:
        """The tool's answer, or None when it refuses (no checks left): the front desk is offered."""
        d = self.d
        result = await self.tools.acall("verify_patient", date_of_birth=d.birth_date, first_name=first_name,
                                        last_name=last_name)
        d.verify_attempts += 1
        if isinstance(result, Refused):
            self.say(result.error)
            self.ask(phrasing.TRANSFER_OFFER, Expecting.TRANSFER_OFFER)
            return None
        return result

    def verified(self, result: Verification) -> bool:
        d = self.d
        d.verified = True
        d.first_name, _, d.last_name = result.full_name.partition(" ")
        return True

    async def register(self) -> bool:
        """A caller no record matches, booking: a new patient."""
        d = self.d
        result = await self.tools.acall("register_patient", first_name=d.first_name, last_name=d.last_name,
                                        date_of_birth=d.birth_date)
        if isinstance(result, Refused):
            self.say(result.error)
            d.first_name = d.last_name = d.birth_date = None
            self.ask(phrasing.NAME, Expecting.NAME)
            return False
        d.verified, d.registered = True, result.registered
        return True

    async def keyed_birth_date(self, digits: str) -> None:
        """A date of birth entered on the keypad: month, day and year as eight digits."""
        try:
            born = dt.date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
        except ValueError:
            born = None
        if born is None or not dt.date(1900, 1, 1) <= born < self.tools.today():
            self.repair()
            return
        self.d.birth_date = born
        self.d.misunderstood = 0
        await self.advance()

    async def on_name(self, u: Understanding) -> bool:
        if not u.name:
            return False
        self.remember(u)
        await self.advance()
        return True

    async def on_birth_date(self, u: Understanding) -> bool:
        if not u.birth_date:
            return False
        self.remember(u)
        await self.advance()
        return True
