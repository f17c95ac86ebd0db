"""The offline receptionist: intents and slots by rule, decisions by the tools.

It needs no network and no key. It keeps the whole conversation in one
`Dialogue` that is saved after every turn and restored on demand. It never
decides availability itself: every time it offers, checks or books goes
through the tool layer and so through the scheduling engine.
"""

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator

from voice.conversation.engines.base import ConversationEngine
from voice.frames import AgentSentence, CallerText, CallStarted, DtmfDigits, EndCall, Event, Output, SilenceTimeout, TransferCall
from voice.conversation.speech import say_date, say_list
from voice.conversation.understanding import Choice, Understanding, provider_choices, understand

ANYTHING_ELSE = "Is there anything else I can help you with?"
MAX_CALLER_TURNS = 40
ACTION_INTENTS = ("cancel", "reschedule", "book", "my_appointments")
INFO_INTENTS = ("hours", "location", "insurance", "new_patient_info")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


@dataclasses.dataclass
class Dialogue:
    """The conversation so far: what the caller wants, what is known, what was last asked."""

    intent: str | None = None
    expecting: str | None = None
    last_question: str = ""
    type_key: str | None = None
    provider_key: str | None = None
    date: str | None = None  # ISO date, practice-local
    time: str | None = None  # HH:MM, practice-local
    earliest: bool = False
    part_of_day: str | None = None
    offered: list[dict] = dataclasses.field(default_factory=list)
    slot: dict | None = None
    confirmed: bool = False
    appointment: dict | None = None
    new_date: str | None = None  # where a reschedule should go, when said with the request
    new_time: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: str | None = None
    caller_checked: bool = False
    caller_matches: int = 0
    verified: bool = False
    verify_attempts: int = 0
    registered: bool = False
    message_for: str = ""
    misunderstood: int = 0
    repeats: int = 0
    caller_turns: int = 0
    silences: int = 0
    done: list[str] = dataclasses.field(default_factory=list)
    ended: bool = False


class RulesEngine(ConversationEngine):
    name = "rules"

    def __init__(self, *, tools, state: dict | None = None):
        super().__init__(tools=tools, state=state)
        self.d = Dialogue(**(state or {}))
        self._out: list[Output] = []
        kinds = tools.appointment_types.values()
        self._types = [Choice(key=t.key, name=t.name, words=list(t.synonyms)) for t in kinds]
        self._type_names = {t.key: t.name for t in kinds}
        self._emergency_key = next((t.key for t in kinds if t.is_emergency), None)
        # Examples to offer: the routine types callers have most words for.
        self._common_types = [
            t.key for t in sorted(kinds, key=lambda t: (-len(t.synonyms), t.name)) if not t.is_emergency
        ]
        providers = tools.providers.values()
        self._providers = provider_choices([(p.key, p.name, p.role) for p in providers])
        self._provider_names = {p.key: p.name for p in providers}
        tenant = tools.tenant
        self._insurers = [*tenant.insurance_accepted, *tenant.insurance_not_accepted]

    # -- the contract ------------------------------------------------------------------

    async def respond(self, event: Event) -> AsyncIterator[Output]:
        self._out = []
        if isinstance(event, CallStarted):
            await self._greet()
        elif isinstance(event, CallerText):
            await self._caller_said(event.text)
        elif isinstance(event, DtmfDigits):
            await self._digits(event.digits)
        elif isinstance(event, SilenceTimeout):
            self._silence(event.count)
        for output in self._out:
            yield output

    def state(self) -> dict:
        return dataclasses.asdict(self.d)

    def listening_for(self) -> str:
        return {
            "dob": "dob",
            "name": "name",
            "message_name": "name",
            "confirm_booking": "yes_no",
            "confirm_cancel": "yes_no",
            "confirm_reschedule": "yes_no",
            "emergency_offer": "yes_no",
            "transfer_offer": "yes_no",
            "message_offer": "yes_no",
            "date_time": "date_time",
            "alternative": "date_time",
        }.get(self.d.expecting or "", "free")

    async def summarize(self) -> str:
        parts = list(self.d.done) or ["Answered questions" if self.d.caller_turns else "Caller said nothing"]
        who = f"{self.d.first_name} {self.d.last_name}" if self.d.first_name and self.d.last_name else "unidentified caller"
        status = "new patient" if self.d.registered else ("verified patient" if self.d.verified else "not verified")
        return f"{'; '.join(parts)}. Caller: {who} ({status})."

    # -- output helpers ----------------------------------------------------------------

    def say(self, *sentences: str) -> None:
        self._out.extend(AgentSentence(s) for s in sentences if s)

    def ask(self, question: str, expecting: str) -> None:
        d = self.d
        # Never loop: the same question a third time in a row becomes an offer of a person or a message.
        d.repeats = d.repeats + 1 if question == d.last_question else 0
        # "Anything else?" after each answered question is progress, not a loop.
        if d.repeats >= 2 and expecting not in ("repair_choice", "anything_else", "request"):
            d.misunderstood = max(d.misunderstood, 2)
            self._repair()
            return
        self.say(question)
        d.expecting = expecting
        d.last_question = question

    def _anything_else(self) -> None:
        self.d.intent = None
        self._reset_request()
        self.ask(ANYTHING_ELSE, "anything_else")

    def _reset_request(self) -> None:
        d = self.d
        d.type_key = d.provider_key = d.date = d.time = d.part_of_day = None
        d.earliest = d.confirmed = False
        d.offered, d.slot, d.appointment = [], None, None
        d.new_date = d.new_time = None

    def _goodbye(self) -> None:
        self.say(f"Thank you for calling {self.tools.tenant.name}. Goodbye!")
        self.d.ended = True
        self.d.expecting = None
        self._out.append(EndCall())

    async def _transfer(self, reason: str) -> None:
        result = await self.tools.acall("transfer_to_human", reason=reason)
        if "transfer_to" in result:
            self.say("Of course. I'm transferring you to our front desk now, please hold.")
            self.d.done.append("Transferred to the front desk")
            self.d.ended = True
            self.d.expecting = None
            self._out.append(TransferCall(result["transfer_to"]))
        else:
            self.say("I'm sorry, there's no one available to take your call right now.")
            self._offer_message()

    def _offer_message(self) -> None:
        self.ask("Would you like to leave a message so someone can call you back?", "message_offer")

    # -- events -------------------------------------------------------------------------

    async def _greet(self) -> None:
        tenant = self.tools.tenant
        self.say(tenant.greeting or f"Thank you for calling {tenant.name}. This is the virtual receptionist.")
        self.ask("How can I help you today?", "request")

    async def _digits(self, digits: str) -> None:
        if "0" in digits:
            await self._transfer("caller pressed 0")
        else:
            self.ask("Sorry, I can't use the keypad for that. " + (self.d.last_question or "How can I help you?"),
                     self.d.expecting or "request")

    def _silence(self, count: int) -> None:
        if count >= 3:
            self.say("I haven't heard anything for a while, so I'll end the call now.")
            self._goodbye()
        elif count == 2:
            self.ask("Are you still there? " + (self.d.last_question or "How can I help you today?"),
                     self.d.expecting or "request")
        else:
            self.ask(self.d.last_question or "How can I help you today?", self.d.expecting or "request")

    async def _caller_said(self, text: str) -> None:
        d = self.d
        d.caller_turns += 1
        if d.caller_turns > MAX_CALLER_TURNS:
            self.say("I'm sorry we couldn't sort this out on this call. Please call back and ask for the front desk.")
            self._goodbye()
            return
        tools = self.tools
        u = understand(
            text,
            today=tools.today(),
            types=self._types,
            providers=self._providers,
            insurers=self._insurers,
            expecting=d.expecting,
        )
        if u.airway:
            self.say("If the swelling is making it hard to breathe or swallow, please hang up and call 911 right away.")
            self.ask("Otherwise, would you like me to connect you to our team now?", "transfer_offer")
            d.misunderstood = 0
            return
        if "human" in u.intents and d.expecting != "message_text":
            await self._transfer("caller asked for a person")
            return
        if d.expecting and await self._answer(u):
            d.misunderstood = 0
            return
        if await self._new_request(u):
            d.misunderstood = 0
            return
        self._repair()

    # -- understanding what was asked for -------------------------------------------------

    def _remember(self, u: Understanding) -> None:
        """Keep every slot the caller gives, whatever was asked: never ask again for what was said."""
        d = self.d
        if u.type_key == "exam" and re.search(r"\bnew patient\b|\bfirst (visit|time)\b", u.text, re.I):
            if "new_patient_exam" in self._type_names:
                u.type_key = "new_patient_exam"
        if u.type_key and d.intent not in ("cancel", "reschedule"):
            if u.type_key != d.type_key:
                d.slot, d.offered, d.confirmed = None, [], False
            d.type_key = u.type_key
        if u.provider_key:
            d.provider_key = u.provider_key
        if u.date and d.intent != "cancel":
            if d.date != u.date.isoformat():
                d.slot, d.confirmed = None, False
            d.date = u.date.isoformat()
        if u.time and u.time.time and d.intent != "cancel":
            d.time = u.time.time.strftime("%H:%M")
            d.slot, d.confirmed = None, False
        if u.time and u.time.earliest:
            d.earliest = True
        if u.time and u.time.part_of_day:
            d.part_of_day = u.time.part_of_day
        if u.name and not d.verified:
            d.first_name, d.last_name = u.name
        if u.birth_date and not d.verified:
            d.birth_date = u.birth_date.isoformat()

    async def _answer(self, u: Understanding) -> bool:
        """Use the caller's words as the answer to the last question; False if they are not one."""
        d = self.d
        expecting = d.expecting
        if expecting == "anything_else":
            if u.intents & {*ACTION_INTENTS, *INFO_INTENTS, "message"} or u.emergency or u.type_key:
                return False  # a new request: handled as one
            if u.yes_no is False or "goodbye" in u.intents:
                self._goodbye()
                return True
            if u.yes_no is True:
                self.ask("Sure, what can I help you with?", "request")
                return True
            return False
        if expecting in ("confirm_booking", "confirm_cancel", "confirm_reschedule", "emergency_offer"):
            if u.yes_no is None:
                if u.date or (u.time and (u.time.time or u.time.earliest)):
                    self._remember(u)
                    d.slot, d.confirmed = None, False
                    await self._advance()
                    return True
                return False
            if u.yes_no:
                d.confirmed = True
                await self._advance()
            elif expecting == "confirm_cancel":
                self.say("Okay, I'll leave that appointment as it is.")
                self._anything_else()
            else:
                self._remember(u)
                d.slot, d.offered, d.confirmed, d.time = None, [], False, None
                if expecting == "confirm_reschedule" or d.intent == "book":
                    self.ask("No problem. What day and time would suit you better?", "date_time")
                else:
                    self._anything_else()
            return True
        if expecting == "transfer_offer":
            if u.yes_no is True:
                await self._transfer("caller accepted a transfer")
                return True
            if u.yes_no is False:
                self._anything_else()
                return True
            return False
        if expecting == "repair_choice":
            if "message" in u.intents or "message" in u.text.lower():
                await self._start_message()
                return True
            if u.yes_no is not None or "transfer" in u.text.lower() or "person" in u.text.lower():
                if u.yes_no is False and "transfer" not in u.text.lower():
                    self._goodbye()
                else:
                    await self._transfer("repeated misunderstanding")
                return True
            return False
        if expecting == "message_offer":
            if u.yes_no is True or "message" in u.intents:
                await self._start_message()
                return True
            if u.yes_no is False:
                self._anything_else()
                return True
            return False
        if expecting == "message_name":
            if u.name:
                d.first_name, d.last_name = u.name
            else:
                d.first_name, d.last_name = u.text.strip(" .!?,"), ""
            self.ask("What would you like the message to say?", "message_text")
            return True
        if expecting == "message_text":
            await self._take_message(u.text)
            return True
        if expecting == "name":
            if u.name:
                self._remember(u)
                await self._advance()
                return True
            return False
        if expecting == "dob":
            if u.birth_date:
                self._remember(u)
                await self._advance()
                return True
            return False
        if expecting == "which_appointment":
            return await self._choose_appointment(u)
        if expecting == "type":
            if u.emergency and self._emergency_key:
                u.type_key = self._emergency_key
            if u.type_key:
                self._remember(u)
                await self._advance()
                return True
            return False
        if expecting in ("date_time", "alternative"):
            return await self._date_time_answer(u)
        return False

    async def _date_time_answer(self, u: Understanding) -> bool:
        d = self.d
        if d.expecting == "alternative" and d.offered:
            picked = self._pick_offered(u)
            if picked:
                d.slot = picked
                d.date, d.time = picked["start"][:10], picked["start"][11:16]
                d.provider_key = d.provider_key or None
                await self._advance()
                return True
        if u.date or (u.time and (u.time.time or u.time.earliest or u.time.part_of_day)) or u.provider_key:
            if u.time and u.time.time and not u.date and d.offered:
                d.date = d.offered[0]["start"][:10]
            self._remember(u)
            d.offered = [] if (u.date or (u.time and u.time.time)) else d.offered
            await self._advance()
            return True
        if u.yes_no is False:
            self.ask("No problem. What day and time would suit you better?", "date_time")
            return True
        if u.yes_no is True and len(d.offered) == 1:
            d.slot = d.offered[0]
            await self._advance()
            return True
        return False

    def _pick_offered(self, u: Understanding) -> dict | None:
        offered = self.d.offered
        lowered = u.text.lower()
        for word, index in (("first", 0), ("earliest", 0), ("second", 1), ("third", 2), ("last", -1), ("latest", -1)):
            if f"the {word}" in lowered or f"{word} one" in lowered:
                try:
                    return offered[index]
                except IndexError:
                    return None
        if not (u.time and u.time.time):
            return None
        wanted = u.time.time.strftime("%H:%M")
        matches = [o for o in offered if o["start"][11:16] == wanted]
        if u.date:
            matches = [o for o in matches if o["start"][:10] == u.date.isoformat()]
        if u.provider_key:
            matches = [o for o in matches if o["provider_key"] == u.provider_key] or matches
        return matches[0] if matches else None

    async def _new_request(self, u: Understanding) -> bool:
        d = self.d
        intents = set(u.intents)
        if u.emergency and not intents & {"cancel", "reschedule"}:
            await self._start_emergency(u)
            return True
        if "my_appointments" in intents and not intents & {"cancel", "reschedule"}:
            self._begin("my_appointments", u)
        elif "cancel" in intents:
            self._begin("cancel", u)
        elif "reschedule" in intents:
            self._begin("reschedule", u)
        elif "message" in intents:
            await self._start_message()
            return True
        elif self._wants_booking(u):
            self._begin("book", u)
        elif d.intent in ACTION_INTENTS and (u.date or u.time or u.type_key or u.provider_key or u.name or u.birth_date):
            self._remember(u)  # more detail for the request in progress
        else:
            answered = await self._answer_questions(u)
            if answered:
                self._anything_else()
                return True
            if "goodbye" in intents or (u.yes_no is False and d.expecting in ("request", None)):
                self._goodbye()
                return True
            return False
        # "Book me in, and do you take Cigna?" gets both (the new-patient note comes with the booking).
        await self._answer_questions(u, skip={"new_patient_info"})
        await self._advance()
        return True

    def _wants_booking(self, u: Understanding) -> bool:
        text = u.text.lower()
        strong = any(
            w in text for w in ("book", "schedule", "appointment", "come in", "get in", "make an", "set up", "see the",
                                "see a", "see dr", "visit", "available", "availability", "opening", "free slot",
                                "anything free")
        )
        return strong or (u.type_key is not None and not u.intents & set(INFO_INTENTS) - {"new_patient_info"})

    def _begin(self, intent: str, u: Understanding) -> None:
        d = self.d
        if d.intent != intent:
            self._reset_request()
            d.intent = intent
        if intent in ("cancel", "reschedule", "my_appointments"):
            # The type and date said now describe the appointment to find, not a new one.
            d.appointment = None
            if u.name and not d.verified:
                d.first_name, d.last_name = u.name
            if u.birth_date and not d.verified:
                d.birth_date = u.birth_date.isoformat()
            d.type_key = u.type_key
            d.date = u.date.isoformat() if u.date else None
            if intent == "reschedule" and (u.new_date or (u.new_time and u.new_time.time)):
                # "Move my cleaning on Thursday to Friday at 10": Thursday finds it, Friday at 10 is the wish.
                if u.new_date and u.new_date == u.date:
                    d.date = None  # "move it to Friday": the only date named is the new one
                d.new_date = u.new_date.isoformat() if u.new_date else None
                d.new_time = u.new_time.time.strftime("%H:%M") if u.new_time and u.new_time.time else None
            elif intent == "reschedule" and u.time and u.time.time:
                d.time = u.time.time.strftime("%H:%M")
        else:
            self._remember(u)

    # -- answering questions -------------------------------------------------------------

    async def _answer_questions(self, u: Understanding, skip: frozenset | set = frozenset()) -> bool:
        intents = (u.intents & set(INFO_INTENTS)) - set(skip)
        if u.insurance:
            intents.add("insurance")
        if not intents:
            return False
        info = await self.tools.acall("practice_info", date=u.date.isoformat() if u.date else "")
        if "hours" in intents:
            self.say(self._hours_sentence(u, info))
        if "location" in intents:
            self.say(f"We're at {info['address']}.", f"{info['parking']}." if info["parking"] else "")
        if "insurance" in intents:
            await self._insurance(u, info)
        if "new_patient_info" in intents and info["new_patient_note"] and not u.intents & {"hours", "insurance", "location"}:
            self.say(info["new_patient_note"])
        self.d.done.append("Answered a question")
        return True

    def _hours_sentence(self, u: Understanding, info: dict) -> str:
        day = info.get("day")
        if day is None and u.weekday_asked is not None:
            weekday = list(info["week"])[u.weekday_asked]
            hours = info["week"][weekday]
            if hours == "closed":
                return f"We're closed on {weekday}s."
            return f"On {weekday}s we're open {hours}."
        if day is not None:
            if not day["open"]:
                reason = day["reason"]
                return f"We're closed on {day['spoken_date']}" + (f" for {reason}." if not reason.startswith("we are") else ".")
            return f"On {day['spoken_date']} we're open {day['spoken']}."
        today = info["today"]
        opening = f"Today we're open {today['spoken']}." if today["open"] else "We're closed today."
        return opening + " " + self._week_sentence(info["week"])

    def _week_sentence(self, week: dict) -> str:
        groups: list[tuple[list[str], str]] = []
        for day, hours in week.items():
            if groups and groups[-1][1] == hours:
                groups[-1][0].append(day)
            else:
                groups.append(([day], hours))
        parts = []
        for days, hours in groups:
            label = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
            parts.append(f"{label} closed" if hours == "closed" else f"{label} {hours}")
        return "Our hours are: " + "; ".join(parts) + "."

    async def _insurance(self, u: Understanding, info: dict) -> None:
        accepted = say_list(info["insurance_accepted"], "and")
        if u.insurance:
            result = await self.tools.acall("check_insurance", name=u.insurance)
            if result.get("accepted") is True:
                self.say(f"Yes, we accept {result['plan']}.")
            elif result.get("accepted") is False:
                self.say(f"I'm sorry, we don't accept {result['plan']}.", f"We do accept {accepted}.")
            else:
                self.say(f"I don't see {u.insurance} on our list. We accept {accepted}.",
                         "Our front desk can check your specific plan for you.")
        else:
            refused = say_list(info["insurance_not_accepted"], "or")
            self.say(f"We accept {accepted}." + (f" We don't accept {refused}." if refused else ""))

    # -- the request flows ----------------------------------------------------------------

    async def _advance(self) -> None:
        intent = self.d.intent
        if intent == "book":
            await self._advance_booking()
        elif intent == "cancel":
            await self._advance_cancel()
        elif intent == "reschedule":
            await self._advance_reschedule()
        elif intent == "my_appointments":
            await self._tell_appointments()
        else:
            self.ask("How can I help you today?", "request")

    async def _start_emergency(self, u: Understanding) -> None:
        d = self.d
        self._reset_request()
        d.intent = "book"
        d.type_key = self._emergency_key
        if u.name and not d.verified:
            d.first_name, d.last_name = u.name
        self.say("I'm sorry you're in pain.")
        if d.type_key is None:
            await self._transfer("dental emergency")
            return
        today = self.tools.today()
        result = await self.tools.acall("find_slots", type=d.type_key, date=today.isoformat(), limit=1)
        if not result.get("slots"):
            self.say("We have no emergency openings left today, so let me get you to our team right away.")
            await self._transfer("dental emergency, no same-day slot")
            return
        slot = result["slots"][0]
        d.date, d.time, d.slot, d.offered = slot["start"][:10], slot["start"][11:16], slot, [slot]
        self.ask(
            f"Our earliest emergency appointment today is at {slot['time']} with {slot['provider']}. "
            "Would you like me to book it?",
            "emergency_offer",
        )

    async def _advance_booking(self) -> None:
        d = self.d
        if not d.type_key:
            names = say_list([self._type_names[k].lower() for k in self._common_types[:3]])
            self.ask(f"What kind of appointment would you like? For example, {names}.", "type")
            return
        if d.slot is None:
            if not await self._find_slot():
                return
            if not d.verified and not d.confirmed:
                self.say(f"Great, I can fit you in on {d.slot['spoken']} with {d.slot['provider']}.")
        if not await self._identify():
            return
        if not d.confirmed:
            kind = self._type_names[d.type_key].lower()
            self.ask(
                f"Shall I book {_article(kind)} {kind} with {d.slot['provider']} on {d.slot['spoken']}?",
                "confirm_booking",
            )
            return
        result = await self.tools.acall(
            "book_appointment", type=d.type_key, start=d.slot["start"], provider=d.slot["provider_key"]
        )
        if result.get("booked"):
            appointment = result["appointment"]
            kind = appointment["type"].lower()
            self.say(f"You're all set: {_article(kind)} {kind} with {appointment['provider']} on {appointment['spoken']}.")
            if d.registered and self.tools.tenant.new_patient_note:
                self.say(self.tools.tenant.new_patient_note)
            d.done.append(f"Booked {_article(kind)} {kind} with {appointment['provider']} on {appointment['spoken']}")
            self._anything_else()
            return
        d.slot, d.confirmed = None, False
        self._offer(result.get("error", "That time is no longer free."), result.get("alternatives", []))

    async def _find_slot(self) -> bool:
        """Choose an open slot for the request, or ask the caller to pick one; True once chosen."""
        d = self.d
        today = self.tools.today()
        if d.date and d.time:
            result = await self.tools.acall(
                "find_slots", type=d.type_key, date=d.date, time=d.time, provider=d.provider_key or ""
            )
            if result.get("available"):
                d.slot = result["slot"]
                return True
            self._offer(result.get("reason", "That time isn't available."), result.get("alternatives", []))
            return False
        if not d.date and not d.earliest:
            self.ask("What day would you like to come in?", "date_time")
            return False
        result = await self.tools.acall(
            "find_slots", type=d.type_key, date=d.date or "", provider=d.provider_key or "", limit=3,
            part_of_day=d.part_of_day or "",
        )
        slots = result.get("slots", [])
        if not slots:
            self._offer(result.get("reason") or "I don't have anything open then.", result.get("alternatives", []))
            return False
        if d.earliest:
            d.slot = slots[0]
            return True
        offered = slots[:3]
        d.offered = offered
        day = dt.date.fromisoformat(d.date) if d.date else today
        self.ask(
            f"On {say_date(day)} I have {say_list([s['time'] for s in offered])} available. Which time would you like?",
            "alternative",
        )
        return False

    def _offer(self, reason: str, alternatives: list[dict]) -> None:
        d = self.d
        alternatives = alternatives[:3]  # more than three times is hard to hold in mind on the phone
        d.slot, d.offered = None, alternatives
        if not alternatives:
            self.ask(f"{reason} What other day would work for you?", "date_time")
            return
        days = {a["start"][:10] for a in alternatives}
        if len(days) == 1:
            day = dt.date.fromisoformat(alternatives[0]["start"][:10])
            options = f"{say_list([a['time'] for a in alternatives])} on {say_date(day)}"
        else:
            options = say_list([a["spoken"] for a in alternatives])
        self.ask(f"{reason} The nearest times I have available are {options}. Would one of those work for you?", "alternative")

    async def _identify(self) -> bool:
        """Make sure we know who the caller is (verified by date of birth); True once we do."""
        d = self.d
        if d.verified:
            return True
        if not d.caller_checked:
            result = await self.tools.acall("identify_caller")
            d.caller_checked = True
            d.caller_matches = result.get("matches", 0)
        if d.caller_matches and d.verify_attempts == 0 and not (d.first_name and d.last_name and d.birth_date):
            if not d.birth_date:
                thanks = f"Thanks, {d.first_name}. " if d.first_name else ""
                self.ask(f"{thanks}For your security, could you please confirm your date of birth?", "dob")
                return False
            result = await self._verify(d.first_name or "", d.last_name or "")
            if result is None:
                return False
            if result.get("verified"):
                return self._verified(result)
            d.birth_date = None
            d.first_name = d.last_name = None
        if not (d.first_name and d.last_name):
            self.ask("Could I have your first and last name, please?", "name")
            return False
        if not d.birth_date:
            self.ask("And what is your date of birth?", "dob")
            return False
        result = await self._verify(d.first_name, d.last_name)
        if result is None:
            return False
        if result.get("verified"):
            return self._verified(result)
        if d.intent == "book":
            registered = await self.tools.acall(
                "register_patient", first_name=d.first_name, last_name=d.last_name, date_of_birth=d.birth_date
            )
            if "error" in registered:
                self.say(registered["error"])
                d.first_name = d.last_name = d.birth_date = None
                self.ask("Could I have your first and last name, please?", "name")
                return False
            d.verified, d.registered = True, bool(registered.get("registered"))
            return True
        if d.verify_attempts >= 3:
            self.say("I'm sorry, I can't find your record with those details.")
            self.ask("Would you like me to connect you to our front desk?", "transfer_offer")
            return False
        self.say("I'm sorry, I couldn't find a patient with those details.")
        d.first_name = d.last_name = d.birth_date = None
        self.ask("Could you tell me your first and last name again, please?", "name")
        return False

    async def _verify(self, first_name: str, last_name: str) -> dict | None:
        """The tool's answer, or None when it refuses (no checks left): the front desk is offered."""
        d = self.d
        result = await self.tools.acall(
            "verify_patient", date_of_birth=d.birth_date, first_name=first_name, last_name=last_name
        )
        d.verify_attempts += 1
        if "error" in result:
            self.say(result["error"])
            self.ask("Would you like me to connect you to our front desk?", "transfer_offer")
            return None
        return result

    def _verified(self, result: dict) -> bool:
        d = self.d
        d.verified = True
        d.first_name, _, d.last_name = result.get("full_name", "").partition(" ")
        return True

    async def _target_appointment(self, verb: str) -> bool:
        """Find the appointment the caller means; True once chosen."""
        d = self.d
        if d.appointment:
            return True
        result = await self.tools.acall("list_appointments")
        upcoming = result.get("appointments", [])
        if not upcoming:
            self.say("I don't see any upcoming appointments for you.")
            self._anything_else()
            return False
        matches = [
            a for a in upcoming
            if (not d.type_key or a["type_key"] == d.type_key) and (not d.date or a["start"][:10] == d.date)
        ] or ([] if (d.type_key or d.date) else upcoming)
        if len(matches) == 1:
            d.appointment = matches[0]
            return True
        listing = say_list([f"{_article(a['type'].lower())} {a['type'].lower()} on {a['spoken']}" for a in upcoming])
        d.offered = []
        d.type_key = d.date = None
        self.ask(f"I see {listing}. Which one would you like to {verb}?", "which_appointment")
        return False

    async def _choose_appointment(self, u: Understanding) -> bool:
        d = self.d
        result = await self.tools.acall("list_appointments")
        upcoming = result.get("appointments", [])
        matches = [
            a for a in upcoming
            if (not u.type_key or a["type_key"] == u.type_key)
            and (not u.date or a["start"][:10] == u.date.isoformat())
            and (not (u.time and u.time.time) or a["start"][11:16] == u.time.time.strftime("%H:%M"))
        ]
        if not (u.type_key or u.date or (u.time and u.time.time)) or len(matches) != 1:
            return False
        d.appointment = matches[0]
        await self._advance()
        return True

    async def _tell_appointments(self) -> None:
        if not await self._identify():
            return
        result = await self.tools.acall("list_appointments")
        upcoming = result.get("appointments", [])
        if not upcoming:
            self.say("I don't see any upcoming appointments for you.")
        else:
            listing = say_list([f"{_article(a['type'].lower())} {a['type'].lower()} with {a['provider']} on {a['spoken']}"
                                for a in upcoming], "and")
            self.say(f"You have {listing}.")
        self.d.done.append("Told the caller their appointments")
        self._anything_else()

    async def _advance_cancel(self) -> None:
        d = self.d
        if not await self._identify():
            return
        if not await self._target_appointment("cancel"):
            return
        a = d.appointment
        kind = a["type"].lower()
        if not d.confirmed:
            self.ask(
                f"I see your {kind} with {a['provider']} on {a['spoken']}. Would you like me to cancel it?",
                "confirm_cancel",
            )
            return
        result = await self.tools.acall("cancel_appointment", appointment_id=a["id"])
        if result.get("cancelled"):
            self.say(f"Done. Your {kind} on {a['spoken']} is cancelled.")
            d.done.append(f"Cancelled {_article(kind)} {kind} on {a['spoken']}")
        else:
            self.say(result.get("error", "I couldn't cancel that appointment."))
        self._anything_else()

    async def _advance_reschedule(self) -> None:
        d = self.d
        if not await self._identify():
            return
        if not await self._target_appointment("move"):
            return
        a = d.appointment
        kind = a["type"].lower()
        if d.date == a["start"][:10] and d.time in (None, a["start"][11:16]):
            d.date = d.time = None  # the day they named is the appointment's own, not the new one
        if d.new_date or d.new_time:
            d.date = d.new_date or a["start"][:10]
            d.time = d.new_time
            d.new_date = d.new_time = None
        if d.slot is None:
            if not d.date and not d.earliest:
                self.ask(f"Your {kind} is on {a['spoken']}. What day and time would you like instead?", "date_time")
                return
            d.type_key = a["type_key"]
            if not await self._find_slot():
                return
        if not d.confirmed:
            self.ask(f"Shall I move your {kind} from {a['spoken']} to {d.slot['spoken']} with {d.slot['provider']}?",
                     "confirm_reschedule")
            return
        result = await self.tools.acall(
            "reschedule_appointment", appointment_id=a["id"], start=d.slot["start"], provider=d.slot["provider_key"]
        )
        if result.get("rescheduled"):
            moved = result["appointment"]
            self.say(f"Done. Your {kind} is now on {moved['spoken']} with {moved['provider']}.")
            d.done.append(f"Moved {_article(kind)} {kind} to {moved['spoken']}")
            self._anything_else()
            return
        d.slot, d.confirmed = None, False
        self._offer(result.get("error", "That time is no longer free."), result.get("alternatives", []))

    # -- messages -------------------------------------------------------------------------

    async def _start_message(self) -> None:
        d = self.d
        d.intent = "message"
        if d.first_name:
            self.ask("Of course. What would you like the message to say?", "message_text")
        else:
            self.ask("Of course. Could I have your name, please?", "message_name")

    async def _take_message(self, text: str) -> None:
        d = self.d
        name = " ".join(p for p in (d.first_name, d.last_name) if p)
        for_whom = ""
        lowered = text.lower()
        for choice in self._providers:
            if any(f"for {w.lower()}" in lowered for w in [choice.name, *choice.words]):
                for_whom = self._provider_names[choice.key]
        result = await self.tools.acall("take_message", about=text, caller_name=name, for_whom=for_whom)
        if result.get("message_taken"):
            self.say("Thank you. I've passed your message on, and someone will call you back at the number you're calling from.")
            d.done.append("Took a message")
        else:
            self.say(result.get("error", "I'm sorry, I couldn't save that message."))
        self._anything_else()

    # -- when we don't understand -----------------------------------------------------------

    def _repair(self) -> None:
        """Reprompt once, rephrase once, then offer a person or a message, then end politely."""
        d = self.d
        d.misunderstood += 1
        if d.misunderstood == 1:
            question = d.last_question or "How can I help you today?"
            if d.expecting == "alternative" and d.offered:
                question = f"Which time would you like: {say_list([o['time'] for o in d.offered])}?"
            self.say("Sorry, I didn't catch that.")
            self.ask(question, d.expecting or "request")
        elif d.misunderstood == 2:
            rephrased = {
                "dob": "Please tell me your date of birth, for example: March 3rd, 1985.",
                "name": "Please tell me your first and last name, for example: Jane Smith.",
                "date_time": "Please tell me a day and a time, for example: Tuesday at 10 AM.",
                "alternative": "Please tell me which time you'd like, for example: 10 AM.",
                "type": "Please tell me the kind of visit: for example a cleaning, an exam or a filling.",
            }.get(d.expecting or "", "I can book, move or cancel an appointment, or answer questions about "
                                     "our hours, location or insurance. What would you like to do?")
            self.ask(rephrased, d.expecting or "request")
        elif d.misunderstood == 3:
            self.ask("I'm sorry, I'm having trouble understanding. Would you like me to transfer you to our "
                     "front desk, or take a message?", "repair_choice")
        else:
            self.say("I'm sorry I couldn't help on this call. Please call us back any time.")
            self._goodbye()
