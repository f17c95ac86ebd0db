"""Dates, times, dates of birth and phone numbers in a caller's words: Duckling's reading, held to the practice's
conventions.

Duckling resolves each expression against the practice's clock and lists up to three readings of it ("values",
in time order). The conventions are read off those readings rather than off word lists:
- a.m. or p.m. left open (readings twelve hours apart): office hours, 7-11 a.m., 12 noon, 1-6 p.m.;
- no day named (readings a day apart, as for "at 3"): the time alone;
- a bare day of the month (readings a month apart, as for "on the eighth"): `day_of_month` as well;
- the first reading not in the past ("the 2nd" said on June 29th is July 2nd);
- an expression that moves with the clock ("in an hour") is no appointment time.
What stays ambiguous is left out so that the engine asks: two different days (or times) in one breath, "Thursday or
Friday", a weekday said on that weekday ("Friday" on a Friday: today or next week?), "the following Monday" with no
day to follow, a day more than a year away (Duckling's answer to "Tuesday December 3rd" when the 3rd is a
Thursday), a bare number that is not the answer to "what time?". A day turned down ("any day but Wednesday") is
not read at all.
"""

import calendar
import datetime as dt
import importlib.util
import re
import threading
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

# Duckling's spans for the parts of the day (from-hour, to-hour); "early morning" is 4-12.
PARTS_OF_DAY = {(0, 12): "morning", (4, 12): "morning", (12, 19): "afternoon", (18, 0): "evening"}
GRAINS = {"hour": dt.timedelta(hours=1), "minute": dt.timedelta(minutes=1)}
# Nobody books further ahead; a weekday that does not fit the date sends Duckling years away.
HORIZON = dt.timedelta(days=366)
# How far the clock is moved to see whether an expression moves with it.
CLOCK_PROBE = dt.timedelta(minutes=7)

_WEEKDAYS = [name.lower() for name in calendar.day_name]
_WEEKDAY = re.compile(rf"\b({'|'.join(_WEEKDAYS)})s?\b", re.I)
# Duckling reads "this Friday" said on a Friday as next week's.
_THIS_WEEKDAY = re.compile(rf"^(?:on\s+)?this\s+(?:coming\s+)?({'|'.join(_WEEKDAYS)})$", re.I)
_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b|\b\d{1,2}[/-]\d{1,2}[/-]\d{2}\b")
# Duckling drops the bound from a spoken hour and minutes ("after four thirty" reads as 16:30); not "the day after".
_BOUND = re.compile(r"(?<!day )\b(after|before)\s", re.I)
_FOLLOWING = re.compile(r"\b(?:following|after that)\b", re.I)
_EARLIEST = re.compile(
    r"\b(?:as (?:early|soon) as (?:possible|you can)|earliest|first (?:available|thing|opening)|soonest|asap"
    r"|right away|straight away)\b",
    re.I,
)
# Said before or after a day, these turn it down: "any day but Wednesday", "Wednesday doesn't work".
_NEGATED_BEFORE = re.compile(
    r"(?:\bnot|\bexcept(?: for)?|\bother than|\bapart from|\bbesides|\binstead of|\bany ?(?:day|time|thing) but"
    r"|\ball but)"
    r"\s+(?:on\s+|at\s+)?$",
    re.I,
)
_NEGATED_AFTER = re.compile(
    r"^\W*(?:doesn't|does not|won't|will not|isn't|is not|wouldn't|would not)\s+(?:work|be good|suit|be possible)",
    re.I,
)
# "for about two weeks": a number of days or hours, not "about two" o'clock.
_DURATION = re.compile(r"^\s*(?:minutes?|mins?|hours?|days?|weeks?|months?|years?)\b", re.I)
# A bare number is a time only as the answer itself: "10", "um, ten thirty please", "is 3 okay?", "Nine is fine";
# not "2 kids", "one moment", "that one", "my daughter is seven".
_ANSWER_LEAD = re.compile(
    r"(?:^|[.,!?;:]|^\s*(?:is|does|would)|\b(?:at|around|about|say|maybe|perhaps|how about|what about|like"
    r"|um|uh|er|ok|okay|yes|yeah|sure|then|do|or|prefer|try|for|till|until|by|after|before))\s*$",
    re.I,
)
_ANSWER_TAIL = re.compile(
    r"\s*(?:$|[.,!?;]|(?:please|thanks|thank you|then|is|works?|would|sounds?|should|if|for me|ok(?:ay)?)\b)", re.I
)
_THE = re.compile(r"\bthe\s+$", re.I)
# "Thursday or Friday", "at 3 or 4": the caller has not chosen ("at 3 or so" is a time).
_OR_BEFORE = re.compile(r"\bor\s+$", re.I)
_OR_AFTER = re.compile(r"^\s*,?\s*or\b(?!\s+so\b)", re.I)
# Rewrites into what Duckling reads: negated bounds, plural parts of the day; and "the first one" picks one of
# the offered times, it is not the 1st of the month.
_REWRITES = [
    (re.compile(r"\b(?:not before|no earlier than|not earlier than)\b", re.I), "after"),
    (re.compile(r"\b(?:not after|no later than|not later than)\b", re.I), "before"),
    (re.compile(r"\b(morning|afternoon|evening)s\b", re.I), r"in the \1"),
    (re.compile(r"\b(?:the\s+)?(?:first|second|third|last|other)\s+one\b", re.I), ""),
]


@dataclass
class TimeWish:
    time: dt.time | None = None  # "at 3", "around 11"
    earliest: bool = False
    part_of_day: str | None = None  # morning / afternoon / evening
    after: dt.time | None = None  # "after 3", "between 2 and 4"
    before: dt.time | None = None  # "before 10", "between 2 and 4"


@dataclass
class Reading:
    """What one stretch of words says: a day to book, a time, a date of birth, a phone number."""

    date: dt.date | None = None
    day_of_month: int | None = None
    time: TimeWish | None = None
    birth_date: dt.date | None = None
    phone: str | None = None

    @property
    def clock_time(self) -> bool:
        return bool(self.time and (self.time.time or self.time.after or self.time.before))


@dataclass(frozen=True)
class _Mention:
    date: dt.date | None = None
    day_of_month: int | None = None
    wish: TimeWish | None = None
    birth_date: dt.date | None = None
    # Which day (or time) is meant is not clear: none is read.
    unsure_day: bool = False
    unsure_time: bool = False


_UNSURE_DAY = _Mention(unsure_day=True)
_UNDECIDED = _Mention(unsure_day=True, unsure_time=True)


# -- Duckling, once per process ---------------------------------------------------------------------------------


class _Duckling:
    """The parser with its time zone database and locale: ~64 ms and ~53 MB, so loaded once, on first use."""

    def __init__(self) -> None:
        import duckling  # the import starts the Haskell runtime

        self._duckling = duckling
        self.zones = _zone_database()
        self._zone_db = duckling.load_time_zones(str(self.zones))
        # EN_US: "12/8" is December 8th.
        self._locale = duckling.parse_locale("EN_US", duckling.default_locale_lang(duckling.parse_lang("EN")))
        self._dimensions = duckling.parse_dimensions(["time", "phone-number"])

    def parse(self, text: str, reference: dt.datetime, *, latent: bool) -> list[dict]:
        zone = self._zone_name(reference)
        when = self._duckling.parse_ref_time(self._zone_db, zone, int(reference.timestamp()))
        return self._duckling.parse(text, self._duckling.Context(when, self._locale), self._dimensions, latent)

    def _zone_name(self, reference: dt.datetime) -> str:
        """The IANA name of the practice's zone; Duckling silently reads a name it does not know as UTC."""
        zone = reference.tzinfo
        name = zone.key if isinstance(zone, zoneinfo.ZoneInfo) else ("UTC" if zone is dt.UTC else None)
        if not name or not (self.zones / name).is_file():
            raise ValueError(f"the practice's clock needs an IANA time zone from {self.zones}, not {zone!r}")
        return name


def _zone_database() -> Path:
    """The tz database Python's zoneinfo reads: the system's, else the tzdata package's."""
    for folder in zoneinfo.TZPATH:
        if Path(folder, "UTC").is_file():
            return Path(folder)
    spec = importlib.util.find_spec("tzdata")
    if spec and spec.origin:
        return Path(spec.origin).parent / "zoneinfo"
    raise RuntimeError("No time zone database: install the tzdata system package.")


_lock = threading.Lock()
_loaded: _Duckling | None = None


def _parser() -> _Duckling:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _Duckling()
    return _loaded


# -- reading --------------------------------------------------------------------------------------------------


def read(text: str, now: dt.datetime, *, latent: bool, booking: bool = True,
         context_date: dt.date | None = None) -> Reading:
    """The day, time, date of birth and phone number in `text`, said at `now` (aware, practice-local).

    `latent`: a bare number may be a time (a time was asked for). `booking`: read days and times to book (not
    while a date of birth is asked for). `context_date`: the day "the following Monday" follows.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware, practice-local datetime")
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    reference, following_what = now, False
    if _FOLLOWING.search(text):
        following_what = context_date is None
        if context_date:
            reference = dt.datetime.combine(context_date + dt.timedelta(days=1), dt.time(0), tzinfo=now.tzinfo)
    mentions, phones = [], set()
    for entity in _parser().parse(text, reference, latent=latent):
        if entity["dim"] == "phone-number":
            phones.add(_phone(entity["value"]["value"]))
        elif _stands(entity, text):
            mentions.append(_UNDECIDED if _undecided(entity, text) else _mention(entity, now, reference))
    mentions = [m for m in mentions if m is not None]
    reading = Reading(birth_date=_only({m.birth_date for m in mentions}), phone=_only(phones))
    if booking:
        if not (following_what or any(m.unsure_day for m in mentions)):
            reading.date = _only({m.date for m in mentions})
            reading.day_of_month = next((m.day_of_month for m in mentions if m.date == reading.date), None)
        wishes = [] if any(m.unsure_time for m in mentions) else [m.wish for m in mentions if m.wish]
        reading.time = _wish(wishes, earliest=bool(_EARLIEST.search(text)))
    return reading


def weekday_asked(text: str) -> int | None:
    """The weekday named ("are you open on Fridays?"), Monday = 0."""
    match = _WEEKDAY.search(text)
    return _WEEKDAYS.index(match.group(1).lower()) if match else None


def _stands(entity: dict, text: str) -> bool:
    """False for a time the caller turns down, a duration, and a bare number that is not the answer to "what
    time?"."""
    before, after = text[: entity["start"]], text[entity["end"]:]
    if _NEGATED_BEFORE.search(before) or _NEGATED_AFTER.search(after) or _DURATION.match(after):
        return False
    if not entity.get("latent"):
        return True
    value = entity["value"]
    if value["type"] == "interval":  # "the afternoon is better", not "Good afternoon"
        return bool(_THE.search(before))
    return value["grain"] in GRAINS and bool(_ANSWER_LEAD.search(before)) and bool(_ANSWER_TAIL.match(after))


def _undecided(entity: dict, text: str) -> bool:
    return bool(_OR_BEFORE.search(text[: entity["start"]]) or _OR_AFTER.match(text[entity["end"]:]))


def _mention(entity: dict, now: dt.datetime, reference: dt.datetime) -> _Mention | None:
    if entity["value"]["type"] == "value":
        return _point(entity, now, reference)
    return _interval(entity, now, reference)


def _point(entity: dict, now: dt.datetime, reference: dt.datetime) -> _Mention | None:
    value, body = entity["value"], entity["body"]
    grain = value["grain"]
    readings = [_instant(v["value"]) for v in value.get("values") or [value]]
    if grain == "day":
        if _YEAR.search(body) and len(readings) == 1 and readings[0].date() < now.date():
            born = readings[0].date()
            return _Mention(birth_date=born) if born.year >= 1900 else None
        if _weekday_said_on_it(body, readings, reference):
            return _UNSURE_DAY
        day = next((r.date() for r in readings if r.date() >= now.date()), None)
        return _on(day, now, day_of_month=_day_of_month(body, readings))
    if grain not in GRAINS:
        return None  # a week, a month, a second ("next week", "now")
    if _half_open(readings):
        readings = [r.replace(hour=_office_hour(r.hour)) for r in readings]
    if len(readings) == 1 and readings[0] - reference < dt.timedelta(days=1) and _moves_with_clock(entity, reference):
        return None
    bound = _BOUND.search(body)
    if _daily(readings):
        return _Mention(wish=_clock(readings[0], bound))
    if _weekday_said_on_it(body, readings, reference):
        return _Mention(wish=_clock(readings[0], bound), unsure_day=True)
    # The first reading still ahead; failing that, today's ("today at 3" said at 4).
    pick = next((r for r in readings if r >= now), None) or next((r for r in readings if r.date() >= now.date()), None)
    if pick is None:
        return None
    return _on(pick.date(), now, day_of_month=_day_of_month(body, readings), wish=_clock(pick, bound))


def _clock(reading: dt.datetime, bound: re.Match | None) -> TimeWish:
    if bound is None:
        return TimeWish(time=reading.time())
    return TimeWish(**{bound.group(1).lower(): reading.time()})


def _interval(entity: dict, now: dt.datetime, reference: dt.datetime) -> _Mention | None:
    """"after 3", "before noon", "between 2 and 4", "in the afternoon", "tomorrow morning"."""
    value = entity["value"]
    spans = [(_instant(v["from"]["value"]) if "from" in v else None, _instant(v["to"]["value"]) if "to" in v else None)
             for v in value.get("values") or [value]]
    grain = (value.get("from") or value.get("to"))["grain"]
    if grain not in GRAINS:
        return None  # days ("the 8th to the 10th"), weeks
    start, end = spans[0]
    if start and end and end - start > dt.timedelta(days=1):
        return None  # "this weekend"
    part = PARTS_OF_DAY.get((start.hour, end.hour)) if start and end else None
    if part:
        wish = TimeWish(part_of_day=part)
    else:
        # A closed interval ends with its last grain: "between 2 and 4" is to 17:00.
        spans = [(a, b - GRAINS[grain] if a and b else b) for a, b in spans]
        wish = TimeWish(after=_bound([a for a, _ in spans]), before=_bound([b for _, b in spans]))
    firsts = [a or b for a, b in spans]
    if _daily(firsts):
        return _Mention(wish=wish)
    if _weekday_said_on_it(entity["body"], firsts, reference):
        return _Mention(wish=wish, unsure_day=True)
    pick = next((a or b for a, b in spans if (b or a) >= now), None)
    if pick is None:
        return None
    return _on(pick.date(), now, day_of_month=_day_of_month(entity["body"], firsts), wish=wish)


def _bound(readings: list[dt.datetime | None]) -> dt.time | None:
    if readings[0] is None:
        return None
    hour = _office_hour(readings[0].hour) if _half_open(readings) else readings[0].hour
    return dt.time(hour, readings[0].minute)


def _office_hour(hour: int) -> int:
    """7-11 a.m., 12 noon, 1-6 p.m.: a caller who leaves a.m./p.m. open means the half of the day we work."""
    hour %= 12
    return 12 if hour == 0 else hour + 12 if hour <= 6 else hour


def _half_open(readings: list[dt.datetime]) -> bool:
    """Duckling offers both halves of the day when the words do not choose one ("at 3", not "3 pm")."""
    return len({(r.hour % 12, r.minute) for r in readings}) < len({(r.hour, r.minute) for r in readings})


def _weekday_said_on_it(body: str, readings: list[dt.datetime], reference: dt.datetime) -> bool:
    """"Friday" (or "Friday at 10") said on a Friday: today or next week? Duckling's readings a week apart start
    today; for "this Friday" it says next week."""
    days = {r.date() for r in readings}
    weekly = any(day + dt.timedelta(days=7) in days for day in days)
    this = _THIS_WEEKDAY.match(body.strip())
    return (weekly and reference.date() in days) or bool(
        this and _WEEKDAYS.index(this.group(1).lower()) == reference.weekday())


def _daily(readings: list[dt.datetime]) -> bool:
    """Readings a day apart: the words name a time of day but no day."""
    seen = {(r.date(), r.time()) for r in readings}
    return any((r.date() + dt.timedelta(days=1), r.time()) in seen for r in readings)


def _day_of_month(body: str, readings: list[dt.datetime]) -> int | None:
    """A day named by its day of the month alone ("on the eighth"): readings on that day of different months
    (with a weekday, as in "Monday the 7th", Duckling lists the months where the two agree)."""
    days, months = {r.day for r in readings}, {r.month for r in readings}
    if len(days) == 1 and len(months) > 1 and not _WEEKDAY.search(body):
        return days.pop()
    return None


def _moves_with_clock(entity: dict, reference: dt.datetime) -> bool:
    """"in an hour", "in 30 minutes": a single reading that follows the reference time. (Only asked of readings
    within a day: Duckling is slow on long dates, and a longer offset is said in days.)"""
    later = _parser().parse(entity["body"], reference + CLOCK_PROBE, latent=bool(entity.get("latent")))
    moved = [e["value"].get("value") for e in later if e["dim"] == "time"]
    return moved != [entity["value"].get("value")]


def _on(day: dt.date | None, now: dt.datetime, **said) -> _Mention | None:
    """A mention of a day: nothing for a day gone by ("last night"), unsure beyond the horizon."""
    if day is None or day < now.date():
        return None
    return _Mention(date=day, **said) if day <= now.date() + HORIZON else _UNSURE_DAY


def _phone(digits: str) -> str | None:
    """Ten US digits; a leading country code 1 is dropped."""
    digits = re.sub(r"\D", "", digits)
    digits = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
    return digits if len(digits) == 10 else None


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _only(values: set):
    """The one value said, or None when none or several different ones were."""
    values.discard(None)
    return values.pop() if len(values) == 1 else None


def _wish(wishes: list[TimeWish], *, earliest: bool) -> TimeWish | None:
    """The most precise wish said (a time, then a range, then a part of the day), unless said two different ways."""
    precise = ([w for w in wishes if w.time] or [w for w in wishes if w.after or w.before]
               or [w for w in wishes if w.part_of_day])
    chosen = _only({(w.time, w.after, w.before, w.part_of_day) for w in precise})
    if chosen is None:
        return TimeWish(earliest=True) if earliest else None
    time, after, before, part_of_day = chosen
    return TimeWish(time=time, after=after, before=before, part_of_day=part_of_day, earliest=earliest)
