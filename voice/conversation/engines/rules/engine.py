"""The offline receptionist: intents and slots by rule, decisions by the tools.

It needs no network and no key. The whole conversation is one `Dialogue`,
saved after every turn. A caller's words are answers to the last question
when they can be (one handler per `Expecting`, in ANSWERS), else a new request.
It never decides availability itself: every time it offers, checks or books
goes through the tool layer and so through the scheduling engine.
"""

import re
from collections.abc import AsyncIterator, Awaitable, Callable

from voice.conversation.engines.base import ConversationEngine
from voice.conversation.engines.rules import phrasing
from voice.conversation.engines.rules.appointments import AppointmentFlow
from voice.conversation.engines.rules.booking import BookingFlow
from voice.conversation.engines.rules.handover import HandoverFlow
from voice.conversation.engines.rules.identity import IdentityFlow
from voice.conversation.engines.rules.questions import INFO_INTENTS, QuestionFlow
from voice.conversation.engines.rules.state import Dialogue, Expecting, Intent
from voice.conversation.engines.rules.wishes import asks_for_a_time, says_anything
from voice.conversation.understanding import Choice, Understanding, provider_choices, understand
from voice.frames import AgentSentence, CallerText, CallStarted, DtmfDigits, EndCall, Event, Output, SilenceTimeout

MAX_CALLER_TURNS = 40
ACTION_INTENTS = {"cancel", "reschedule", "book", "my_appointments"}
NEW_PATIENT = re.compile(r"\bnew patient\b|\bfirst (visit|time)\b", re.I)
# Questions answered by "anything else?" are progress, not a loop.
NOT_LOOPS = {Expecting.REPAIR_CHOICE, Expecting.ANYTHING_ELSE, Expecting.REQUEST}
# Questions whose answer is only ever that kind of answer: what is said to them never starts a new request
# (a birthday misheard is not an appointment date; "talk to the front desk" still reaches a person).
CLOSED = {Expecting.DOB, Expecting.NAME, Expecting.CONFIRM_BOOKING, Expecting.CONFIRM_CANCEL,
          Expecting.CONFIRM_RESCHEDULE, Expecting.EMERGENCY_OFFER, Expecting.TRANSFER_OFFER, Expecting.MESSAGE_OFFER,
          Expecting.REPAIR_CHOICE, Expecting.HEARD_RIGHT}


class RulesEngine(BookingFlow, AppointmentFlow, IdentityFlow, HandoverFlow, QuestionFlow, ConversationEngine):
    name = "rules"

    def __init__(self, *, tools, state: dict | None = None):
        super().__init__(tools=tools, state=state)
        self.d = Dialogue.model_validate(state or {})
        self._out: list[Output] = []
        kinds = tools.appointment_types.values()
        self.types = [Choice(key=t.key, name=t.name, words=list(t.synonyms)) for t in kinds]
        self.type_names = {t.key: t.name for t in kinds}
        self.emergency_key = next((t.key for t in kinds if t.is_emergency), None)
        # Examples to offer: the routine types callers have most words for.
        self.common_types = [t.key for t in sorted(kinds, key=lambda t: (-len(t.synonyms), t.name)) if not t.is_emergency]
        providers = tools.providers.values()
        self.provider_words = provider_choices([(p.key, p.name, p.role) for p in providers])
        self.provider_names = {p.key: p.name for p in providers}
        self.insurers = [*tools.tenant.insurance_accepted, *tools.tenant.insurance_not_accepted]
        self.answers: dict[Expecting, Callable[[Understanding], Awaitable[bool]]] = {
            Expecting.ANYTHING_ELSE: self.on_anything_else,
            Expecting.CONFIRM_BOOKING: self.on_confirmation,
            Expecting.CONFIRM_CANCEL: self.on_confirmation,
            Expecting.CONFIRM_RESCHEDULE: self.on_confirmation,
            Expecting.EMERGENCY_OFFER: self.on_confirmation,
            Expecting.TRANSFER_OFFER: self.on_transfer_offer,
            Expecting.REPAIR_CHOICE: self.on_repair_choice,
            Expecting.MESSAGE_OFFER: self.on_message_offer,
            Expecting.MESSAGE_NAME: self.on_message_name,
            Expecting.MESSAGE_TEXT: self.on_message_text,
            Expecting.NAME: self.on_name,
            Expecting.DOB: self.on_birth_date,
            Expecting.WHICH_APPOINTMENT: self.on_which_appointment,
            Expecting.TYPE: self.on_type,
            Expecting.DATE_TIME: self.on_date_time,
            Expecting.ALTERNATIVE: self.on_date_time,
            Expecting.HEARD_RIGHT: self.on_heard_right,
        }

    # -- the contract ------------------------------------------------------------------

    async def respond(self, event: Event) -> AsyncIterator[Output]:
        self._out = []
        if isinstance(event, CallStarted):
            self.greet()
        elif isinstance(event, CallerText):
            await self.caller_said(event.text, confident=event.confident)
        elif isinstance(event, DtmfDigits):
            await self.digits(event.digits)
        elif isinstance(event, SilenceTimeout):
            self.silence(event.count)
        if self.d.hand_over and not self.d.ended:
            await self.hand_over()
        for output in self._out:
            yield output

    def state(self) -> dict:
        return self.d.model_dump(mode="json")

    def listening_for(self) -> str:
        return self.d.expecting.listen_for if self.d.expecting else "free"

    async def summarize(self) -> str:
        d = self.d
        parts = list(d.done) or ["Answered questions" if d.caller_turns else "Caller said nothing"]
        who = f"{d.first_name} {d.last_name}" if d.first_name and d.last_name else "unidentified caller"
        status = "new patient" if d.registered else ("verified patient" if d.verified else "not verified")
        return f"{'; '.join(parts)}. Caller: {who} ({status})."

    # -- saying things ------------------------------------------------------------------

    def say(self, *sentences: str) -> None:
        self._out.extend(AgentSentence(s) for s in sentences if s)

    def ask(self, question: str, expecting: Expecting) -> None:
        d = self.d
        # Never loop: the same question a third time in a row becomes an offer of a person or a message.
        d.repeats = d.repeats + 1 if question == d.last_question else 0
        if d.repeats >= 2 and expecting not in NOT_LOOPS:
            d.misunderstood = max(d.misunderstood, 2)
            self.repair()
            return
        self.say(question)
        d.expecting = expecting
        d.last_question = question

    def anything_else(self) -> None:
        self.d.intent = None
        self.d.reset_request()
        self.ask(phrasing.ANYTHING_ELSE, Expecting.ANYTHING_ELSE)

    def goodbye(self) -> None:
        self.say(f"Thank you for calling {self.tools.tenant.name}. Goodbye!")
        self.d.ended = True
        self.d.expecting = None
        self._out.append(EndCall())

    def end_with(self, output: Output) -> None:
        self.d.ended = True
        self.d.expecting = None
        self._out.append(output)

    # -- events -------------------------------------------------------------------------

    def greet(self) -> None:
        tenant = self.tools.tenant
        self.say(tenant.greeting or f"Thank you for calling {tenant.name}. This is the virtual receptionist.")
        self.ask(phrasing.HOW_CAN_I_HELP, Expecting.REQUEST)

    async def digits(self, digits: str) -> None:
        if self.d.expecting == Expecting.DOB and len(digits) == 8:
            await self.keyed_birth_date(digits)
        elif "0" in digits:
            await self.transfer("caller pressed 0")
        else:
            self.ask("Sorry, I can't use the keypad for that. " + (self.d.last_question or phrasing.HOW_CAN_I_HELP),
                     self.d.expecting or Expecting.REQUEST)

    def silence(self, count: int) -> None:
        question, expecting = self.d.last_question or phrasing.HOW_CAN_I_HELP, self.d.expecting or Expecting.REQUEST
        if count >= 3:
            self.say("I haven't heard anything for a while, so I'll end the call now.")
            self.goodbye()
        elif count == 2:
            self.ask("Are you still there? " + question, expecting)
        else:
            self.ask(question, expecting)

    async def caller_said(self, text: str, *, confident: bool = True) -> None:
        d = self.d
        d.caller_turns += 1
        if d.caller_turns > MAX_CALLER_TURNS:
            self.say("I'm sorry we couldn't sort this out on this call. Please call back and ask for the front desk.")
            self.goodbye()
            return
        u = understand(
            text, now=self.tools.local_now(), types=self.types, providers=self.provider_words, insurers=self.insurers,
            expecting=d.expecting.value if d.expecting else None,
            context_date=d.appointment.day if d.appointment else d.date,
        )
        if u.airway:
            self.say("If the swelling is making it hard to breathe or swallow, please hang up and call 911 right away.")
            self.ask("Otherwise, would you like me to connect you to our team now?", Expecting.TRANSFER_OFFER)
            d.misunderstood = 0
            return
        if "human" in u.intents and d.expecting != Expecting.MESSAGE_TEXT:
            await self.transfer("caller asked for a person")
            return
        if not confident and d.expecting not in (Expecting.MESSAGE_TEXT, Expecting.MESSAGE_NAME):
            # The recogniser doubts what it heard: check a date or time it seems to have heard, else ask again.
            if not self.read_back(u):
                self.repair()
            return
        answer = self.answers.get(d.expecting) if d.expecting else None
        if answer is not None and await answer(u):
            d.misunderstood = 0
            return
        if d.expecting not in CLOSED and await self.new_request(u):
            d.misunderstood = 0
            return
        self.repair()

    # -- answers that are not about one flow -----------------------------------------------

    async def on_anything_else(self, u: Understanding) -> bool:
        if u.intents & (ACTION_INTENTS | INFO_INTENTS | {"message"}) or u.emergency or u.type_key:
            return False  # a new request: handled as one
        if u.yes_no is False or "goodbye" in u.intents:
            self.goodbye()
            return True
        if u.yes_no is True:
            self.ask("Sure, what can I help you with?", Expecting.REQUEST)
            return True
        return False

    async def on_confirmation(self, u: Understanding) -> bool:
        d = self.d
        expecting = d.expecting
        if u.yes_no is None:
            if u.date or asks_for_a_time(u):
                self.remember(u)  # "no, Thursday at 3 instead": a new wish, not a yes or a no
                d.forget_slot()
                await self.advance()
                return True
            return False
        if u.yes_no:
            d.confirmed = True
            await self.advance()
        elif expecting == Expecting.CONFIRM_CANCEL:
            self.say("Okay, I'll leave that appointment as it is.")
            self.anything_else()
        else:
            self.remember(u)
            d.forget_slot()
            d.offered, d.time = [], None
            if expecting == Expecting.CONFIRM_RESCHEDULE or d.intent == Intent.BOOK:
                self.ask(phrasing.OTHER_DAY_AND_TIME, Expecting.DATE_TIME)
            else:
                self.anything_else()
        return True

    # -- new requests -------------------------------------------------------------------

    async def new_request(self, u: Understanding) -> bool:
        d = self.d
        intents = set(u.intents)
        if u.emergency and not intents & {"cancel", "reschedule"}:
            await self.start_emergency(u)
            return True
        if "my_appointments" in intents and not intents & {"cancel", "reschedule"}:
            self.begin(Intent.MY_APPOINTMENTS, u)
        elif "cancel" in intents:
            self.begin(Intent.CANCEL, u)
        elif "reschedule" in intents:
            self.begin(Intent.RESCHEDULE, u)
        elif "message" in intents:
            await self.start_message()
            return True
        elif self.wants_booking(u):
            self.begin(Intent.BOOK, u)
        elif d.intent in {Intent.BOOK, Intent.CANCEL, Intent.RESCHEDULE, Intent.MY_APPOINTMENTS} and says_anything(u):
            self.remember(u)  # more detail for the request in progress
        else:
            if await self.answer_questions(u):
                self.anything_else()
                return True
            if "goodbye" in intents or (u.yes_no is False and d.expecting in (Expecting.REQUEST, None)):
                self.goodbye()
                return True
            return False
        # "Book me in, and do you take Cigna?" gets both (the new-patient note comes with the booking).
        await self.answer_questions(u, skip={"new_patient_info"})
        await self.advance()
        return True

    def wants_booking(self, u: Understanding) -> bool:
        text = u.text.lower()
        strong = any(
            w in text for w in ("book", "schedule", "appointment", "come in", "get in", "make an", "set up", "see the",
                                "see a", "see dr", "visit", "available", "availability", "opening", "free slot",
                                "anything free", "have something", "have anything")
        )
        return strong or (u.type_key is not None and not u.intents & (INFO_INTENTS - {"new_patient_info"}))

    def begin(self, intent: Intent, u: Understanding) -> None:
        d = self.d
        if d.intent != intent:
            d.reset_request()
            d.intent = intent
        if intent == Intent.BOOK:
            self.remember(u)
        else:
            self.remember_appointment_request(u)

    async def advance(self) -> None:
        """Take the request in progress one step further."""
        flow = {
            Intent.BOOK: self.advance_booking,
            Intent.CANCEL: self.advance_cancel,
            Intent.RESCHEDULE: self.advance_reschedule,
            Intent.MY_APPOINTMENTS: self.tell_appointments,
        }.get(self.d.intent)
        if flow is None:
            self.ask(phrasing.HOW_CAN_I_HELP, Expecting.REQUEST)
        else:
            await flow()

    def remember(self, u: Understanding) -> None:
        """Keep every detail the caller gives, whatever was asked: never ask again for what was said."""
        d = self.d
        if u.type_key == "exam" and NEW_PATIENT.search(u.text) and "new_patient_exam" in self.type_names:
            u.type_key = "new_patient_exam"  # a new patient's first checkup is the longer new-patient exam
        if u.type_key and d.intent not in (Intent.CANCEL, Intent.RESCHEDULE):
            if u.type_key != d.type_key:
                d.forget_slot()
                d.offered = []
            d.type_key = u.type_key
        if u.provider_key:
            d.provider_key = u.provider_key
        if d.intent != Intent.CANCEL:
            if u.date and u.date != d.date:
                d.date = u.date
                d.forget_slot()
            if u.time and u.time.time:
                d.time = u.time.time
                d.forget_slot()
            if u.time and (u.time.after or u.time.before):
                d.after, d.before, d.time = u.time.after, u.time.before, None
                d.forget_slot()
        if u.time and u.time.earliest:
            d.earliest = True
        if u.time and u.time.part_of_day:
            d.part_of_day = u.time.part_of_day
        if u.name and not d.verified:
            d.first_name, d.last_name = u.name
        if u.birth_date and not d.verified:
            d.birth_date = u.birth_date

    # -- when we don't understand -----------------------------------------------------------

    def repair(self) -> None:
        """Ask again in fewer words, then with an example, then offer a person or a message, then hand over.

        Every question escalates the same way, and a caller who is still talking is never hung up on.
        """
        d = self.d
        d.misunderstood += 1
        expecting = d.expecting or Expecting.REQUEST
        if d.misunderstood == 1:
            question = phrasing.SHORTER.get(expecting) or d.last_question or phrasing.HOW_CAN_I_HELP
            if expecting == Expecting.ALTERNATIVE and d.offered:
                question = f"Which time would you like: {phrasing.times_on_one_day(d.offered)}?"
            self.say("Sorry, I didn't catch that.")
            self.ask(question, expecting)
        elif d.misunderstood == 2:
            self.ask(phrasing.REPHRASED.get(expecting, phrasing.WHAT_I_CAN_DO), expecting)
        elif d.misunderstood == 3:
            self.ask(phrasing.REPAIR_CHOICE, Expecting.REPAIR_CHOICE)
        else:
            d.hand_over = True

    def escalate(self) -> None:
        """The same thing has failed again and again: offer a person or a message now."""
        self.d.misunderstood = 2
        self.repair()

    # -- unsure hearings ------------------------------------------------------------------

    def read_back(self, u: Understanding) -> bool:
        """Ask whether a date of birth, day or time heard unsurely is right; False when none was heard."""
        d = self.d
        expecting = d.expecting
        if expecting == Expecting.DOB and u.birth_date:
            d.unsure_birth_date, heard = u.birth_date, phrasing.birth_date(u.birth_date)
        elif expecting in (Expecting.DATE_TIME, Expecting.ALTERNATIVE) and (u.date or (u.time and u.time.time)):
            d.unsure_date, d.unsure_time = u.date, u.time.time if u.time else None
            heard = phrasing.day_and_time(u.date, d.unsure_time)
        else:
            return False
        d.unsure_answer_to = expecting
        self.ask(f"Just to check: {heard}?", Expecting.HEARD_RIGHT)
        return True

    async def on_heard_right(self, u: Understanding) -> bool:
        d = self.d
        if u.yes_no is None:
            return False
        answered = d.unsure_answer_to
        if u.yes_no:
            if d.unsure_birth_date:
                d.birth_date = d.unsure_birth_date
            if d.unsure_date:
                d.date = d.unsure_date
            if d.unsure_time:
                d.time = d.unsure_time
            if d.unsure_date or d.unsure_time:
                d.forget_slot()
                d.offered = []
        d.unsure_birth_date = d.unsure_date = d.unsure_time = d.unsure_answer_to = None
        if u.yes_no:
            await self.advance()
        else:
            self.ask(phrasing.SHORTER.get(answered, phrasing.HOW_CAN_I_HELP), answered or Expecting.REQUEST)
        return True
