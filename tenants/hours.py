"""A week of opening hours as staff type it: reading the editor's fields, and what is wrong with a week, in plain words.

Pure (no database): `tenants.services.business_hours_replace` refuses a week with `week_problems`, and the
admin's hours editor reads its posted grid with `week_from_fields` and shows it again with `grid`.
"""

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from tenants.spoken import WEEKDAY_NAMES, say_time

Intervals = list[tuple[dt.time, dt.time]]
# An interval as typed: either time may be missing, which is a problem to name, not a crash.
Slot = tuple[dt.time | None, dt.time | None]
Typed = list[tuple[str, str]]

# The editor's fields: hours-<weekday, Monday = 0>-<n>-opens and -closes; n need not be contiguous.
FIELD = re.compile(r"^hours-([0-6])-(\d{1,3})-(opens|closes)$")
# What <input type="time"> posts, and what a browser without it lets people type.
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p", "%I %p", "%I%p")
# Empty intervals under a day's last one, so hours can be added without the page's script.
EMPTY_SLOTS_MIN = 3


def say_span(opens: dt.time, closes: dt.time) -> str:
    """'9 AM–noon'."""
    return f"{say_time(opens)}–{say_time(closes)}"


def week_problems(week: Mapping[int, list[Slot]]) -> dict[int, list[str]]:
    """weekday -> what is wrong with its intervals, worded for the front desk; empty when the week can be saved."""
    problems: dict[int, list[str]] = {}
    for weekday, slots in sorted(week.items()):
        name = WEEKDAY_NAMES[weekday]
        found: list[str] = []
        complete: Intervals = []
        for opens, closes in slots:
            if opens is None or closes is None:
                found.append(f"{name} needs both an opening and a closing time.")
            elif closes < opens:
                found.append(f"{name} closes before it opens ({say_span(opens, closes)}).")
            elif closes == opens:
                found.append(f"{name} opens and closes at the same time ({say_time(opens)}).")
            else:
                complete.append((opens, closes))
        complete.sort()
        for index, (opens, closes) in enumerate(complete):
            for later_opens, later_closes in complete[index + 1:]:
                if later_opens < closes:
                    found.append(f"{name}'s {say_span(opens, closes)} and {say_span(later_opens, later_closes)} overlap.")
        if found:
            problems[weekday] = list(dict.fromkeys(found))  # two half-typed intervals are one thing to fix
    return problems


def _time(text: str) -> dt.time | None:
    for pattern in TIME_FORMATS:
        try:
            return dt.datetime.strptime(text.upper(), pattern).time()
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class TypedWeek:
    """The posted grid: the intervals read from it, what was typed (to show again), and values that are no time."""

    week: dict[int, list[Slot]]
    typed: dict[int, Typed]
    problems: dict[int, list[str]]


def week_from_fields(data: Mapping[str, str]) -> TypedWeek:
    """Read the editor's fields; an interval left blank at both ends is no interval (that is how one is removed)."""
    fields: dict[int, dict[int, dict[str, str]]] = {weekday: {} for weekday in range(7)}
    for key in data:
        match = FIELD.match(key)
        if match:
            fields[int(match[1])].setdefault(int(match[2]), {})[match[3]] = data[key].strip()
    week: dict[int, list[Slot]] = {weekday: [] for weekday in range(7)}
    typed: dict[int, Typed] = {weekday: [] for weekday in range(7)}
    problems: dict[int, list[str]] = {}
    for weekday, slots in fields.items():
        for index in sorted(slots):
            opens_text, closes_text = slots[index].get("opens", ""), slots[index].get("closes", "")
            if not opens_text and not closes_text:
                continue
            typed[weekday].append((opens_text, closes_text))
            opens, closes = _time(opens_text) if opens_text else None, _time(closes_text) if closes_text else None
            unreadable = [(which, text) for which, text, value in (("opening", opens_text, opens),
                                                                    ("closing", closes_text, closes))
                          if text and value is None]
            for which, text in unreadable:
                problems.setdefault(weekday, []).append(
                    f"{WEEKDAY_NAMES[weekday]}'s {which} time “{text}” is not a time of day (for example 8:30 AM).")
            if not unreadable:
                week[weekday].append((opens, closes))
    return TypedWeek(week=week, typed=typed, problems=problems)


def typed_from_week(week: Mapping[int, Intervals]) -> dict[int, Typed]:
    """Saved hours as the editor's time inputs hold them."""
    return {weekday: [(f"{opens:%H:%M}", f"{closes:%H:%M}") for opens, closes in week.get(weekday, [])]
            for weekday in range(7)}


def problems_merge(*parts: Mapping[int, list[str]]) -> dict[int, list[str]]:
    merged: dict[int, list[str]] = {}
    for part in parts:
        for weekday, found in part.items():
            merged.setdefault(weekday, []).extend(found)
    return dict(sorted(merged.items()))


@dataclass(frozen=True)
class DayRow:
    """One day of the editor: its intervals as shown (then empty ones to fill), and what is wrong with it."""

    weekday: int
    name: str
    slots: Typed
    filled: int  # how many of `slots` hold an interval; none means the day is closed
    problems: list[str]

    @property
    def closed(self) -> bool:
        return self.filled == 0


def grid(typed: Mapping[int, Typed], problems: Mapping[int, list[str]] | None = None) -> list[DayRow]:
    """Monday to Sunday for the editor."""
    problems = problems or {}
    rows = []
    for weekday, name in enumerate(WEEKDAY_NAMES):
        slots = list(typed.get(weekday, []))
        filled = len(slots)
        slots += [("", "")] * max(EMPTY_SLOTS_MIN - filled, 1)
        rows.append(DayRow(weekday=weekday, name=name, slots=slots, filled=filled, problems=problems.get(weekday, [])))
    return rows


def week_for_record(week: Mapping[int, Intervals], weekdays: list[int]) -> dict[str, list[str]]:
    """Those days' hours as an audit event keeps them: {'Friday': ['08:00-14:00']}; [] is closed."""
    return {WEEKDAY_NAMES[weekday]: [f"{opens:%H:%M}-{closes:%H:%M}" for opens, closes in week.get(weekday, [])]
            for weekday in weekdays}
