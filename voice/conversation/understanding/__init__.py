"""What a caller's words mean: intents and slots, relative to the practice's clock.

`understand` reads one utterance; it never guesses: a slot it cannot read for sure is None, and the engine asks.
Days and times come from Duckling (`times`), numbers as a recogniser writes them are turned into digits first
(`spoken`), intents, names and yes/no are matched here (`words`).
"""

import datetime as dt
from dataclasses import dataclass, field

from voice.conversation.understanding.spoken import normalize_spoken
from voice.conversation.understanding.times import Reading, TimeWish, read, weekday_asked
from voice.conversation.understanding.words import (
    AIRWAY,
    EMERGENCY,
    Choice,
    corrections,
    find_choice,
    find_insurance,
    find_intents,
    find_name,
    find_yes_no,
    provider_choices,
    same_time,
    split_move,
)

__all__ = ["Choice", "TimeWish", "Understanding", "normalize_spoken", "provider_choices", "understand"]

# Asked "what day and time?" or "which time?", a caller's bare "10" is a time.
TIME_ANSWERS = {"date_time", "alternative"}


@dataclass
class Understanding:
    text: str  # as normalised: spoken numbers in digits
    intents: set[str] = field(default_factory=set)
    emergency: bool = False
    airway: bool = False
    date: dt.date | None = None  # in a move request the appointment's day, or the new one when only that is named
    day_of_month: int | None = None  # "my cleaning on the eighth": `date` named by its day of the month alone
    time: TimeWish | None = None
    type_key: str | None = None
    provider_key: str | None = None
    yes_no: bool | None = None
    name: tuple[str, str] | None = None
    birth_date: dt.date | None = None
    phone: str | None = None  # ten digits
    insurance: str | None = None
    weekday_asked: int | None = None
    new_date: dt.date | None = None  # "move it to Friday at 10": where to
    new_time: TimeWish | None = None
    same_time: bool = False  # "same time is fine": the moved appointment keeps its time
    corrected: bool = False  # "at 9, no wait, make it 10": something said replaced what was said before it


def understand(
    text: str,
    *,
    now: dt.datetime,
    types: list[Choice],
    providers: list[Choice],
    insurers: list[str],
    expecting: str | None = None,
    context_date: dt.date | None = None,
) -> Understanding:
    """Everything the rules engine can read from one utterance.

    `now`: the practice's clock (aware, in the practice's time zone). `expecting`: what the caller was just asked
    ("date_time", "alternative", "dob", "name", ...). `context_date`: the day under discussion, which "the
    following Monday" follows.
    """
    text = normalize_spoken(text, born_by=now.date() if expecting == "dob" else None)
    u = Understanding(text=text, intents=find_intents(text))
    u.emergency = bool(EMERGENCY.search(text))
    u.airway = u.emergency and bool(AIRWAY.search(text))
    u.yes_no = find_yes_no(text)
    u.name = find_name(text, expecting_name=expecting == "name")
    u.insurance = find_insurance(text, insurers)
    u.weekday_asked = weekday_asked(text)
    u.same_time = same_time(text)
    pieces = corrections(text)
    u.type_key, typed_again = _last([find_choice(piece, types) for piece in pieces])
    u.provider_key, chose_again = _last([find_choice(piece, providers) for piece in pieces])

    latent = expecting in TIME_ANSWERS
    booking = expecting != "dob"  # while a date of birth is asked for, a date is not a day to book
    move = split_move(text) if "reschedule" in u.intents else None
    said, corrected = _hear(move[0] if move else text, now, latent=latent, booking=booking, context_date=context_date)
    new = Reading()
    if move:
        new, corrected_new = _hear(move[1], now, latent=latent or said.clock_time, booking=booking,
                                   context_date=said.date or context_date)
        corrected |= corrected_new
        if said.date is None and said.time is None:
            # "Move it to Friday": the only day named is the new one, and the engine compares the two. It does
            # not describe the appointment: no day of the month for it.
            said.date, said.time = new.date, new.time
    u.date, u.day_of_month, u.time = said.date, said.day_of_month, said.time
    u.new_date, u.new_time = new.date, new.time
    u.birth_date = new.birth_date or said.birth_date
    u.phone = new.phone or said.phone
    u.corrected = corrected or typed_again or chose_again
    return u


def _hear(text: str, now: dt.datetime, *, latent: bool, booking: bool,
          context_date: dt.date | None) -> tuple[Reading, bool]:
    """The text read piece by piece between self-corrections: a later piece replaces, field by field, what it
    restates. Also whether it replaced anything."""
    heard, corrected = Reading(), False
    for piece in corrections(text):
        # After "at 9, no wait", a bare "10" is the time again.
        reading = read(piece, now, latent=latent or heard.clock_time, booking=booking, context_date=context_date)
        for group in (("date", "day_of_month"), ("time",), ("birth_date",), ("phone",)):
            value, before = getattr(reading, group[0]), getattr(heard, group[0])
            if value is not None:
                corrected |= before is not None and before != value
                for name in group:
                    setattr(heard, name, getattr(reading, name))
    return heard, corrected


def _last(values: list) -> tuple:
    """The last value said and whether it replaced a different one."""
    said = [v for v in values if v is not None]
    return (said[-1] if said else None), len(set(said)) > 1
