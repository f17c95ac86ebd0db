"""Open slots, computed from plain data: no ORM, no clock, no I/O.

`bookings.selectors.availability_calendar` loads a `Calendar` in a fixed number
of queries; everything here is pure so it can be property-tested and
benchmarked on its own.

Times: practice hours are wall-clock times in the practice's zone; every
instant is an aware datetime, and durations are added in UTC so an hour-long
appointment lasts an hour even across a daylight-saving change.
"""

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo

from tenants.spoken import WEEKDAY_NAMES, say_date

UTC = dt.UTC
Hours = dict[int, tuple[tuple[dt.time, dt.time], ...]]  # weekday (Mon=0) -> opening intervals


@dataclass(frozen=True)
class ProviderInfo:
    id: int
    key: str
    name: str
    role: str
    # Own working hours; None means the practice's hours.
    hours: Hours | None = None


@dataclass(frozen=True)
class TypeInfo:
    id: int
    key: str
    name: str
    minutes: int
    role: str
    buffer_before: int = 0
    buffer_after: int = 0
    is_emergency: bool = False


class Slot(NamedTuple):
    # A tuple: a 90-day search builds thousands, and tuples are the cheapest to make.
    start: dt.datetime
    end: dt.datetime
    provider_id: int


@dataclass
class Calendar:
    """Everything one availability search needs, already loaded."""

    tz: ZoneInfo
    hours: Hours
    closures: dict[dt.date, str]
    providers: list[ProviderInfo]
    slot_step: int = 30
    min_notice: int = 0
    horizon_days: int = 90
    # provider id -> time it cannot be booked (appointments with their buffers,
    # time off, calendar busy blocks), as (start, end) in seconds since 1970 UTC:
    # comparing floats is several times cheaper than comparing aware datetimes.
    busy: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    # Blocks the whole practice (e.g. a staff meeting synced from a calendar).
    practice_busy: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self):
        self._provider_order = {p.id: position for position, p in enumerate(self.providers)}
        self._provider_ids = [p.id for p in self.providers]
        self._busy_index = {}
        for provider in self.providers:
            self._busy_index[provider.id] = _merge(sorted([*self.busy.get(provider.id, []), *self.practice_busy]))


def _merge(intervals) -> tuple[list[float], list[float]]:
    """Sorted intervals merged where they touch or overlap, as parallel start and end lists."""
    starts: list[float] = []
    ends: list[float] = []
    for start, end in intervals:
        if ends and start <= ends[-1]:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def local_instant(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a wall-clock time, or None where the clock skips it (spring forward)."""
    local = dt.datetime.combine(day, time, tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def _intersect(a, b):
    out = []
    for a_open, a_close in a:
        for b_open, b_close in b:
            start, end = max(a_open, b_open), min(a_close, b_close)
            if start < end:
                out.append((start, end))
    return sorted(out)


def closure_reason(calendar: Calendar, day: dt.date) -> str | None:
    """Why the practice is closed all day, or None when it opens."""
    if day in calendar.closures:
        return calendar.closures[day]
    if not calendar.hours.get(day.weekday()):
        return f"we are closed on {WEEKDAY_NAMES[day.weekday()]}s"
    return None


def closed_sentence(calendar: Calendar, day: dt.date) -> str | None:
    """What to tell a caller about a day the practice is shut all day, or None when it opens."""
    if day in calendar.closures:
        return f"We're closed on {say_date(day)} for {calendar.closures[day]}."
    if not calendar.hours.get(day.weekday()):
        return f"We're closed on {WEEKDAY_NAMES[day.weekday()]}s."
    return None


def provider_intervals(calendar: Calendar, provider: ProviderInfo, day: dt.date):
    practice = calendar.hours.get(day.weekday(), ())
    if provider.hours is None:
        return list(practice)
    return _intersect(practice, provider.hours.get(day.weekday(), ()))


def earliest_start(calendar: Calendar, kind: TypeInfo, now: dt.datetime) -> dt.datetime:
    """Emergencies may start any time after now; everything else needs the practice's minimum notice."""
    if kind.is_emergency:
        return now + dt.timedelta(seconds=1)
    return now + dt.timedelta(minutes=calendar.min_notice)


def _candidate_starts(day: dt.date, opens: dt.time, closes: dt.time, step: int, tz: ZoneInfo):
    """UTC timestamps of slot-grid wall times from `opens` (rounded up to the grid) to before `closes`."""
    first = opens.hour * 60 + opens.minute
    first += -first % step
    last = closes.hour * 60 + closes.minute
    if first >= last:
        return []
    open_at = local_instant(day, dt.time(first // 60, first % 60), tz)
    close_at = local_instant(day, closes, tz)
    if open_at is not None and close_at is not None and open_at.utcoffset() == close_at.utcoffset():
        # No clock change inside the interval: plain arithmetic, no zone look-ups per slot.
        base = open_at.timestamp()
        return [base + (minute - first) * 60 for minute in range(first, last, step)]
    starts = []
    for minute in range(first, last, step):
        instant = local_instant(day, dt.time(minute // 60, minute % 60), tz)
        if instant is not None:  # wall times the clock skips do not exist
            starts.append(instant.timestamp())
    return starts


def _free_starts(candidates, starts, ends, before, length_after):
    """The candidates whose slot, with its buffers, fits in a gap between busy blocks.

    Works gap by gap (bisecting the sorted candidates) rather than testing each
    candidate against the busy list: the cost follows the number of busy blocks
    and slots found, not the number of candidates.
    """
    if not candidates:
        return []
    first, last = candidates[0] - before, candidates[-1] + length_after
    i = bisect.bisect_right(ends, first)  # busy blocks ending at or before the first slot cannot collide
    free = []
    gap_start = float("-inf")
    while True:
        gap_end = starts[i] if i < len(starts) and starts[i] < last else float("inf")
        lo = bisect.bisect_left(candidates, gap_start + before)
        hi = bisect.bisect_right(candidates, gap_end - length_after)
        free.extend(candidates[lo:hi])
        if gap_end == float("inf"):
            return free
        gap_start = ends[i]
        i += 1


def _day_slots(calendar, kind, day, providers, not_before):
    length = dt.timedelta(minutes=kind.minutes)
    before = kind.buffer_before * 60
    length_after = (kind.minutes + kind.buffer_after) * 60
    floor = not_before.timestamp()
    found = []
    grids = {}  # providers mostly share the practice's hours: work each interval's grid out once
    for provider in providers:
        starts, ends = calendar._busy_index[provider.id]
        order = calendar._provider_order[provider.id]
        for opens, closes in provider_intervals(calendar, provider, day):
            if (opens, closes) not in grids:
                close_at = dt.datetime.combine(day, closes, tzinfo=calendar.tz).timestamp()
                candidates = _candidate_starts(day, opens, closes, calendar.slot_step, calendar.tz)
                # Only slots that start after `not_before` and end by closing time.
                lo = bisect.bisect_left(candidates, floor)
                hi = bisect.bisect_right(candidates, close_at - kind.minutes * 60)
                grids[opens, closes] = candidates[lo:hi]
            found.extend((start, order) for start in _free_starts(grids[opens, closes], starts, ends, before, length_after))
    found.sort()
    instants = {}
    slots = []
    for start, order in found:
        if start not in instants:
            begin = dt.datetime.fromtimestamp(start, UTC)
            instants[start] = (begin, begin + length)
        begin, end = instants[start]
        slots.append(Slot(begin, end, calendar._provider_ids[order]))
    return slots


def eligible_providers(calendar: Calendar, kind: TypeInfo, provider_id: int | None = None):
    return [
        p for p in calendar.providers if p.role == kind.role and (provider_id is None or p.id == provider_id)
    ]


def open_slots(
    calendar: Calendar,
    kind: TypeInfo,
    *,
    start_date: dt.date,
    end_date: dt.date,
    now: dt.datetime,
    provider_id: int | None = None,
) -> list[Slot]:
    """Every bookable slot from start_date to end_date inclusive (practice-local dates)."""
    providers = eligible_providers(calendar, kind, provider_id)
    not_before = earliest_start(calendar, kind, now)
    today = now.astimezone(calendar.tz).date()
    last_day = min(end_date, today + dt.timedelta(days=calendar.horizon_days))
    day = max(start_date, today)
    slots = []
    while day <= last_day:
        if closure_reason(calendar, day) is None:
            slots.extend(_day_slots(calendar, kind, day, providers, not_before))
        day += dt.timedelta(days=1)
    return slots


def distinct_times(slots: list[Slot]) -> list[Slot]:
    """One slot per start time (the first provider in order), for offering times to a caller."""
    seen = set()
    out = []
    for slot in slots:
        if slot.start not in seen:
            seen.add(slot.start)
            out.append(slot)
    return out


def nearest_alternatives(
    calendar: Calendar,
    kind: TypeInfo,
    *,
    requested: dt.datetime,
    now: dt.datetime,
    provider_id: int | None = None,
    limit: int = 3,
    search_days: int = 14,
) -> list[Slot]:
    """Up to `limit` open times nearest the requested one: same day first, then the following open days."""
    day = requested.astimezone(calendar.tz).date()
    same_day = distinct_times(
        open_slots(calendar, kind, start_date=day, end_date=day, now=now, provider_id=provider_id)
    )
    same_day.sort(key=lambda s: (abs(s.start - requested), s.start))
    chosen = same_day[:limit]
    if len(chosen) < limit:
        later = distinct_times(
            open_slots(
                calendar,
                kind,
                start_date=day + dt.timedelta(days=1),
                end_date=day + dt.timedelta(days=search_days),
                now=now,
                provider_id=provider_id,
            )
        )
        # Prefer the requested time of day on the next open day, then the earliest.
        by_day: dict[dt.date, list[Slot]] = {}
        for slot in later:
            by_day.setdefault(slot.start.astimezone(calendar.tz).date(), []).append(slot)
        wanted = requested.astimezone(calendar.tz)
        for slots in by_day.values():
            slots.sort(key=lambda s: (abs(_wall_minutes(s.start, calendar.tz) - _minutes(wanted)), s.start))
            chosen.extend(slots[: limit - len(chosen)])
            if len(chosen) >= limit:
                break
    return sorted(chosen[:limit], key=lambda s: s.start)


def _minutes(local: dt.datetime) -> int:
    return local.hour * 60 + local.minute


def _wall_minutes(instant: dt.datetime, tz: ZoneInfo) -> int:
    return _minutes(instant.astimezone(tz))


def is_grid_start(calendar: Calendar, kind: TypeInfo, start: dt.datetime, provider_id: int | None = None) -> bool:
    """Whether appointments can start at `start` at all (on the slot grid of an opening), busy or not."""
    day = start.astimezone(calendar.tz).date()
    stamp = start.timestamp()
    return any(
        stamp in _candidate_starts(day, opens, closes, calendar.slot_step, calendar.tz)
        for provider in eligible_providers(calendar, kind, provider_id)
        for opens, closes in provider_intervals(calendar, provider, day)
    )


def slot_is_open(
    calendar: Calendar, kind: TypeInfo, *, start: dt.datetime, provider_id: int, now: dt.datetime
) -> bool:
    day = start.astimezone(calendar.tz).date()
    return any(
        s.start == start
        for s in open_slots(calendar, kind, start_date=day, end_date=day, now=now, provider_id=provider_id)
    )
