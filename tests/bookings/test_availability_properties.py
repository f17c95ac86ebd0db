"""Properties of the pure availability code, over random practices, and daylight-saving changes."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings import availability
from bookings.availability import Calendar, ProviderInfo, TypeInfo

NY = ZoneInfo("America/New_York")
MONDAY = dt.date(2027, 3, 1)
NOW = dt.datetime(2027, 2, 28, 12, 0, tzinfo=dt.UTC)


@st.composite
def day_hours(draw):
    """Up to three non-overlapping opening intervals on the half hour."""
    marks = sorted(draw(st.sets(st.integers(min_value=12, max_value=40), max_size=6)))
    marks = marks[: len(marks) - len(marks) % 2]
    return tuple(
        (dt.time(a // 2, 30 * (a % 2)), dt.time(b // 2, 30 * (b % 2))) for a, b in zip(marks[::2], marks[1::2])
    )


@st.composite
def practices(draw):
    hours = {weekday: draw(day_hours()) for weekday in range(7)}
    closures = {
        MONDAY + dt.timedelta(days=d): "closed" for d in draw(st.sets(st.integers(0, 20), max_size=5))
    }
    providers = [ProviderInfo(id=i, key=f"p{i}", name=f"P{i}", role="dentist") for i in range(1, draw(st.integers(1, 3)) + 1)]
    busy = {}
    for provider in providers:
        blocks = []
        for _ in range(draw(st.integers(0, 12))):
            start = dt.datetime.combine(
                MONDAY + dt.timedelta(days=draw(st.integers(0, 20))),
                dt.time(draw(st.integers(6, 19)), draw(st.sampled_from([0, 10, 15, 30, 45]))),
                tzinfo=NY,
            ).astimezone(dt.UTC)
            end = start + dt.timedelta(minutes=draw(st.sampled_from([15, 30, 45, 60, 90])))
            blocks.append((start.timestamp(), end.timestamp()))
        busy[provider.id] = blocks
    kind = TypeInfo(
        id=1, key="t", name="T", role="dentist",
        minutes=draw(st.sampled_from([30, 45, 60, 90])),
        buffer_before=draw(st.sampled_from([0, 0, 10])),
        buffer_after=draw(st.sampled_from([0, 0, 15])),
    )
    calendar = Calendar(tz=NY, hours=hours, closures=closures, providers=providers, slot_step=30, busy=busy)
    return calendar, kind


def search(calendar, kind):
    return availability.open_slots(
        calendar, kind, start_date=MONDAY, end_date=MONDAY + dt.timedelta(days=20), now=NOW
    )


def overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(practices())
def test_every_slot_is_inside_hours_off_closures_and_clear_of_bookings(practice):
    calendar, kind = practice
    for slot in search(calendar, kind):
        local_start, local_end = slot.start.astimezone(NY), slot.end.astimezone(NY)
        day = local_start.date()
        assert day not in calendar.closures
        assert local_end.date() == day
        assert any(
            opens <= local_start.time() and local_end.time() <= closes for opens, closes in calendar.hours[day.weekday()]
        ), "outside hours or across a gap"
        assert slot.end - slot.start == dt.timedelta(minutes=kind.minutes)
        guarded = (slot.start - dt.timedelta(minutes=kind.buffer_before), slot.end + dt.timedelta(minutes=kind.buffer_after))
        for busy_start, busy_end in calendar.busy[slot.provider_id]:
            assert not overlaps(guarded[0].timestamp(), guarded[1].timestamp(), busy_start, busy_end)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(practices(), st.randoms(use_true_random=False))
def test_booking_returned_slots_in_random_order_never_overlaps(practice, rnd: random.Random):
    calendar, kind = practice
    offered = search(calendar, kind)
    rnd.shuffle(offered)
    booked: dict[int, list] = {p.id: [] for p in calendar.providers}
    for slot in offered[:40]:
        current = Calendar(
            tz=calendar.tz, hours=calendar.hours, closures=calendar.closures, providers=calendar.providers,
            slot_step=calendar.slot_step,
            busy={pid: [*calendar.busy[pid], *booked[pid]] for pid in booked},
        )
        if availability.slot_is_open(current, kind, start=slot.start, provider_id=slot.provider_id, now=NOW):
            booked[slot.provider_id].append((slot.start.timestamp(), slot.end.timestamp()))
    for intervals in booked.values():
        intervals.sort()
        for (a_start, a_end), (b_start, b_end) in zip(intervals, intervals[1:]):
            assert a_end <= b_start


def test_across_spring_forward_2027_03_14_new_york():
    # Open through the night on Sat to Mon, so the change at 02:00 on Sunday falls inside hours.
    night = ((dt.time(0, 0), dt.time(6, 0)), (dt.time(8, 0), dt.time(12, 0)))
    calendar = Calendar(
        tz=NY, hours={5: night, 6: night, 0: night}, closures={},
        providers=[ProviderInfo(id=1, key="p", name="P", role="dentist")], slot_step=30,
    )
    kind = TypeInfo(id=1, key="t", name="T", minutes=60, role="dentist")
    found = availability.open_slots(
        calendar, kind, start_date=dt.date(2027, 3, 13), end_date=dt.date(2027, 3, 15), now=NOW
    )
    by_day = {}
    for slot in found:
        local = slot.start.astimezone(NY)
        by_day.setdefault(local.date(), []).append(local.strftime("%H:%M%z"))
        assert slot.end - slot.start == dt.timedelta(hours=1)  # real time, not wall-clock
    sunday = by_day[dt.date(2027, 3, 14)]
    assert "02:00-0400" not in sunday and "02:30-0400" not in sunday  # these wall times do not exist
    assert sunday[:3] == ["00:00-0500", "00:30-0500", "01:00-0500"]
    assert "01:30-0500" in sunday  # ends 03:30 EDT, one real hour later
    assert "03:00-0400" in sunday and "05:00-0400" in sunday
    assert by_day[dt.date(2027, 3, 13)][-1] == "11:00-0500"
    assert by_day[dt.date(2027, 3, 15)][0] == "00:00-0400"
    # 08:00 local is 13:00 UTC on Saturday and 12:00 UTC on Monday.
    eight = {s.start.astimezone(NY).date(): s.start for s in found if s.start.astimezone(NY).hour == 8 and s.start.minute == 0}
    assert eight[dt.date(2027, 3, 13)].astimezone(dt.UTC).hour == 13
    assert eight[dt.date(2027, 3, 15)].astimezone(dt.UTC).hour == 12
    # A slot ending at a wall time that is skipped still ends on real time: 01:30 EST + 1 h = 03:30 EDT.
    ninety = next(s for s in found if s.start.astimezone(NY).strftime("%m-%d %H:%M") == "03-14 01:30")
    assert ninety.end.astimezone(NY).strftime("%H:%M%z") == "03:30-0400"
