"""What tools answer: small typed objects the rules engine reads by attribute and Claude reads as JSON.

Every result is safe to say aloud, with no more PHI than its task needs.
"""

import datetime as dt

from pydantic import BaseModel


class Result(BaseModel):
    """Base of every tool result."""


class SlotOffer(BaseModel):
    start: dt.datetime  # practice-local, with offset
    provider_key: str
    provider: str
    spoken: str  # "Tuesday, December 8 at 3 PM"
    time: str  # "3 PM"

    @property
    def day(self) -> dt.date:
        return self.start.date()


class AppointmentView(BaseModel):
    id: int
    type_key: str
    type: str
    provider_key: str
    provider: str
    start: dt.datetime  # practice-local, with offset
    spoken: str
    status: str

    @property
    def day(self) -> dt.date:
        return self.start.date()


class Refused(Result):
    """The tool could not do it; `error` is fit to say to the caller."""

    error: str
    alternatives: list[SlotOffer] = []
    closed_for: str = ""


class CallerMatches(Result):
    matches: int


class Verification(Result):
    verified: bool
    first_name: str = ""
    full_name: str = ""
    attempts_left: int | None = None


class Registration(Result):
    registered: bool
    existing: bool = False
    full_name: str


class AppointmentList(Result):
    appointments: list[AppointmentView]


class SlotSearch(Result):
    """With a time asked for: `available` and the `slot`, or why not and alternatives. Otherwise: open `slots`."""

    available: bool | None = None
    slot: SlotOffer | None = None
    slots: list[SlotOffer] = []
    reason: str = ""
    alternatives: list[SlotOffer] = []


class Booked(Result):
    booked: bool = True
    appointment: AppointmentView


class Rescheduled(Result):
    rescheduled: bool = True
    appointment: AppointmentView


class Cancelled(Result):
    cancelled: bool = True
    appointment: AppointmentView


class DayHours(BaseModel):
    date: dt.date
    open: bool
    hours: str  # "8 AM to noon and 1 PM to 5 PM"; empty when closed
    sentence: str  # "On Tuesday, December 8 we're open 8 AM to noon and 1 PM to 5 PM.", or why it is closed


class Closure(BaseModel):
    date: dt.date
    spoken_date: str
    reason: str


class PracticeInfo(Result):
    practice: str
    address: str
    parking: str
    insurance_accepted: list[str]
    insurance_not_accepted: list[str]
    new_patient_note: str
    today: DayHours
    week: str  # "Monday to Thursday 8 AM to 5 PM; Friday 8 AM to 2 PM; Saturday to Sunday closed"
    weekdays: list[str]  # Monday first: "On Fridays we're open 8 AM to 2 PM."
    upcoming_closures: list[Closure]
    day: DayHours | None = None


class InsuranceAnswer(Result):
    plan: str
    accepted: bool | None  # None: not on the practice's lists
    accepted_plans: list[str] = []


class Transfer(Result):
    transfer_to: str


class MessageTaken(Result):
    message_taken: bool = True


class CallEnded(Result):
    ended: bool = True
