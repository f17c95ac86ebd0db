"""What the rules engine remembers of a call: one `Dialogue`, saved after every turn.

`Expecting` names what the last question asked for; each value has one handler
(see engine.ANSWERS) and tells speech recognition what kind of answer to listen for.
"""

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel

from voice.conversation.tools.results import AppointmentView, SlotOffer


class Intent(StrEnum):
    BOOK = "book"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    MY_APPOINTMENTS = "my_appointments"
    MESSAGE = "message"


class Expecting(StrEnum):
    """The answer the last question asked for."""

    REQUEST = "request"
    ANYTHING_ELSE = "anything_else"
    TYPE = "type"
    DATE_TIME = "date_time"
    ALTERNATIVE = "alternative"
    CONFIRM_BOOKING = "confirm_booking"
    CONFIRM_CANCEL = "confirm_cancel"
    CONFIRM_RESCHEDULE = "confirm_reschedule"
    EMERGENCY_OFFER = "emergency_offer"
    TRANSFER_OFFER = "transfer_offer"
    MESSAGE_OFFER = "message_offer"
    MESSAGE_NAME = "message_name"
    MESSAGE_TEXT = "message_text"
    NAME = "name"
    DOB = "dob"
    WHICH_APPOINTMENT = "which_appointment"
    REPAIR_CHOICE = "repair_choice"
    HEARD_RIGHT = "heard_right"  # "Just to check: April 12th, 1980?" after an unsure hearing

    @property
    def listen_for(self) -> str:
        """The kind of answer speech recognition should expect: "yes_no", "date_time", "dob", "name" or "free"."""
        return _LISTEN.get(self, "free")


_LISTEN = {
    Expecting.DOB: "dob",
    Expecting.NAME: "name",
    Expecting.MESSAGE_NAME: "name",
    Expecting.CONFIRM_BOOKING: "yes_no",
    Expecting.CONFIRM_CANCEL: "yes_no",
    Expecting.CONFIRM_RESCHEDULE: "yes_no",
    Expecting.EMERGENCY_OFFER: "yes_no",
    Expecting.TRANSFER_OFFER: "yes_no",
    Expecting.MESSAGE_OFFER: "yes_no",
    Expecting.HEARD_RIGHT: "yes_no",
    Expecting.DATE_TIME: "date_time",
    Expecting.ALTERNATIVE: "date_time",
}


class Dialogue(BaseModel):
    """The conversation so far: what the caller wants, what is known, what was last asked."""

    intent: Intent | None = None
    expecting: Expecting | None = None
    last_question: str = ""
    # The request: what, with whom, when (practice-local).
    type_key: str | None = None
    provider_key: str | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    after: dt.time | None = None
    before: dt.time | None = None
    earliest: bool = False
    part_of_day: str | None = None
    offered: list[SlotOffer] = []
    slot: SlotOffer | None = None
    confirmed: bool = False
    # An appointment the caller already has, and where a move should take it.
    appointment: AppointmentView | None = None
    appointment_day_of_month: int | None = None
    new_date: dt.date | None = None
    new_time: dt.time | None = None
    same_time: bool = False
    # Who is calling.
    first_name: str | None = None
    last_name: str | None = None
    birth_date: dt.date | None = None
    caller_checked: bool = False
    caller_matches: int = 0
    verified: bool = False
    verify_attempts: int = 0
    registered: bool = False
    # What an unsure hearing seemed to say, read back before it is used, and the question it answered.
    unsure_birth_date: dt.date | None = None
    unsure_date: dt.date | None = None
    unsure_time: dt.time | None = None
    unsure_answer_to: Expecting | None = None
    # How the call is going.
    misunderstood: int = 0
    refusals: int = 0  # times in a row the caller's wish could not be met
    hand_over: bool = False  # understood too little for too long: a person, or a message, takes over
    hand_over_message: bool = False  # the message is that hand-over's: the call ends after it
    repeats: int = 0
    caller_turns: int = 0
    done: list[str] = []
    ended: bool = False

    def reset_request(self) -> None:
        """Forget the request in progress (not who the caller is)."""
        for name in ("type_key", "provider_key", "date", "time", "after", "before", "part_of_day", "slot",
                     "appointment", "appointment_day_of_month", "new_date", "new_time"):
            setattr(self, name, None)
        self.earliest = self.confirmed = self.same_time = False
        self.offered = []

    def forget_slot(self) -> None:
        self.slot, self.confirmed = None, False
