"""The demo practice's calendar, as callers will meet it, with the clock at Mon 2026-11-30 09:00 New York."""

import datetime as dt

import pytest

from bookings import availability
from bookings.models import AppointmentType, Provider
from bookings.selectors import availability_calendar, type_info

pytestmark = pytest.mark.django_db

NY = dt.timezone(dt.timedelta(hours=-5))  # December in New York
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=NY)


def at(day: str, hhmm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00-05:00")


def slots(tenant, type_key, first: str, last: str | None = None, provider_key=None):
    kind = AppointmentType.objects.get(tenant=tenant, key=type_key)
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last or first)
    calendar = availability_calendar(tenant=tenant, start_date=start, end_date=end, role=kind.role)
    provider_id = Provider.objects.get(tenant=tenant, key=provider_key).id if provider_key else None
    return availability.open_slots(
        calendar, type_info(kind), start_date=start, end_date=end, now=NOW, provider_id=provider_id
    )


def local_starts(found) -> set[str]:
    return {s.start.astimezone(NY).strftime("%H:%M") for s in found}


def test_taken_cleaning_is_not_offered_but_the_next_hour_is(demo):
    starts = local_starts(slots(demo, "cleaning", "2026-12-08"))
    assert "14:00" not in starts and "13:30" not in starts and "14:30" not in starts
    assert "15:00" in starts
    assert "16:00" in starts and "16:30" not in starts  # a one-hour cleaning must end by 17:00


def test_nothing_on_friday_afternoon_after_closing(demo):
    for type_key in ["exam", "cleaning", "emergency", "filling"]:
        found = slots(demo, type_key, "2026-12-11")
        assert found, type_key
        assert all(s.start < at("2026-12-11", "14:00") and s.end <= at("2026-12-11", "14:00") for s in found)


def test_nothing_on_closures_or_weekends(demo):
    found = slots(demo, "exam", "2026-12-01", "2027-01-31")
    days = {s.start.astimezone(NY).date() for s in found}
    for closed in ["2026-12-24", "2026-12-25", "2027-01-01"]:
        assert dt.date.fromisoformat(closed) not in days
    assert not any(day.weekday() >= 5 for day in days)
    assert dt.date(2026, 12, 23) in days and dt.date(2026, 12, 28) in days


def test_nothing_over_lunch_monday_to_thursday(demo):
    for type_key in ["exam", "cleaning"]:
        for s in slots(demo, type_key, "2026-11-30", "2026-12-17"):
            local = s.start.astimezone(NY)
            if local.weekday() <= 3:
                noon, one = local.replace(hour=12, minute=0), local.replace(hour=13, minute=0)
                assert s.end <= noon or s.start >= one, s


def test_both_dentists_taken_wednesday_at_eight_and_alternatives_include_nine(demo):
    assert "08:00" not in local_starts(slots(demo, "filling", "2026-12-09"))
    kind = AppointmentType.objects.get(tenant=demo, key="filling")
    calendar = availability_calendar(
        tenant=demo, start_date=dt.date(2026, 12, 9), end_date=dt.date(2026, 12, 23), role=kind.role
    )
    alternatives = availability.nearest_alternatives(
        calendar, type_info(kind), requested=at("2026-12-09", "08:00"), now=NOW
    )
    assert 1 <= len(alternatives) <= 3
    assert at("2026-12-09", "09:00") in [a.start for a in alternatives]
    assert all(a.start.astimezone(NY).date() == dt.date(2026, 12, 9) for a in alternatives)
    assert len({a.start for a in alternatives}) == len(alternatives)


def test_alternatives_for_a_closed_day_come_from_the_next_open_days(demo):
    kind = AppointmentType.objects.get(tenant=demo, key="exam")
    calendar = availability_calendar(
        tenant=demo, start_date=dt.date(2026, 12, 5), end_date=dt.date(2026, 12, 19), role=kind.role
    )
    saturday_nine = at("2026-12-05", "09:00")
    alternatives = availability.nearest_alternatives(calendar, type_info(kind), requested=saturday_nine, now=NOW)
    # Closed Saturday: the next open day, nearest the time asked for.
    assert [a.start for a in alternatives] == [at("2026-12-07", t) for t in ["08:30", "09:00", "09:30"]]


def test_emergencies_skip_minimum_notice_and_others_do_not(demo):
    emergency = local_starts(slots(demo, "emergency", "2026-11-30"))
    exam = local_starts(slots(demo, "exam", "2026-11-30"))
    assert "09:30" in emergency  # the next slot, without notice
    assert "09:00" not in exam and "09:30" not in exam and "10:00" in exam  # 60 minutes' notice
    assert "09:00" not in emergency and "08:30" not in emergency  # never now or in the past


def test_search_loads_in_a_fixed_number_of_queries(demo, django_assert_num_queries):
    for days in [1, 30, 90]:
        with django_assert_num_queries(7):
            availability_calendar(
                tenant=demo,
                start_date=dt.date(2026, 12, 1),
                end_date=dt.date(2026, 12, 1) + dt.timedelta(days=days),
            )
    for n in range(5):
        Provider.objects.create(tenant=demo, key=f"extra{n}", name=f"Dr. Extra {n}", role="dentist")
    with django_assert_num_queries(7):
        availability_calendar(tenant=demo, start_date=dt.date(2026, 12, 1), end_date=dt.date(2027, 2, 28))


def test_an_external_busy_block_off_the_second_still_blocks_every_slot_it_touches(demo):
    from bookings.models import BusyBlock

    day = "2026-12-10"
    before = local_starts(slots(demo, "exam", day, provider_key="okafor"))
    assert {"09:30", "10:00", "10:30", "11:00"} <= before
    BusyBlock.objects.create(
        tenant=demo, provider=Provider.objects.get(tenant=demo, key="okafor"), source="synced calendar",
        start=dt.datetime.fromisoformat(f"{day}T09:59:59.600-05:00"),
        end=dt.datetime.fromisoformat(f"{day}T10:30:00.400-05:00"),
    )
    after = local_starts(slots(demo, "exam", day, provider_key="okafor"))
    assert before - after == {"09:30", "10:00", "10:30"}
