"""The CalDAV side on its own: the iCalendar we write and read, and the client against a real Radicale."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bookings import calendars
from bookings.calendars import AppointmentEvent, CalendarAccess, CalendarRefused, CalendarUnavailable
from tests.bookings.calendar_helpers import CALDAV_PASSWORD, CALDAV_USER, events_in, external_event
from tests.servers import free_port

NY = ZoneInfo("America/New_York")
START = dt.datetime(2026, 12, 7, 9, 0, tzinfo=NY)


def event(appointment_id=42, start=START, minutes=30, sequence=0) -> AppointmentEvent:
    return AppointmentEvent(
        uid=calendars.appointment_uid(appointment_id=appointment_id, tenant_slug="demo"),
        start=start, end=start + dt.timedelta(minutes=minutes), sequence=sequence, stamp=START,
    )


def access(calendar, password=CALDAV_PASSWORD) -> CalendarAccess:
    return CalendarAccess(url=str(calendar.url), username=CALDAV_USER, password=password)


def parsed(ics: str | bytes) -> list:
    return list(Calendar.from_ical(ics).walk("VEVENT"))


def test_a_pushed_event_is_utc_with_a_stable_uid_and_nothing_about_the_visit():
    (vevent,) = parsed(calendars.event_ics(event()))
    assert vevent["uid"] == "appointment-42@demo.receptionist"
    assert vevent.decoded("dtstart") == dt.datetime(2026, 12, 7, 14, 0, tzinfo=dt.UTC)
    assert vevent.decoded("dtend") == dt.datetime(2026, 12, 7, 14, 30, tzinfo=dt.UTC)
    assert vevent["summary"] == "Appointment"
    assert set(vevent) <= {"UID", "DTSTART", "DTEND", "DTSTAMP", "SEQUENCE", "STATUS", "SUMMARY", "TRANSP"}


def test_the_feed_is_the_same_bytes_for_the_same_appointments():
    first = calendars.feed_ics([event(1), event(2)], name="Dr. Patel: appointments", feed_uid="feed-1@demo.receptionist")
    again = calendars.feed_ics([event(1), event(2)], name="Dr. Patel: appointments", feed_uid="feed-1@demo.receptionist")
    assert first == again
    assert [str(v["uid"]) for v in parsed(first)] == ["appointment-1@demo.receptionist", "appointment-2@demo.receptionist"]
    assert b"REFRESH-INTERVAL" in first and b"X-WR-CALNAME:Dr. Patel: appointments" in first


def test_busy_time_skips_free_cancelled_and_own_events_and_takes_all_day_as_local_days():
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        "BEGIN:VEVENT\r\nUID:meeting\r\nDTSTART:20261208T150000Z\r\nDTEND:20261208T160000Z\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:fyi\r\nDTSTART:20261208T150000Z\r\nDTEND:20261208T160000Z\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:off\r\nDTSTART:20261208T150000Z\r\nDTEND:20261208T160000Z\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:appointment-9@demo.receptionist\r\nDTSTART:20261208T150000Z\r\nDTEND:20261208T160000Z\r\n"
        "END:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:appointment-9@other.receptionist\r\nDTSTART:20261208T170000Z\r\nDTEND:20261208T180000Z\r\n"
        "END:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:vacation\r\nDTSTART;VALUE=DATE:20261209\r\nDTEND;VALUE=DATE:20261211\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    busy = calendars.busy_from_components(parsed(text), tz=NY, skip_uid_suffix=calendars.own_uid_suffix("demo"))
    assert [(b.uid, b.start, b.end) for b in busy] == [
        ("meeting", dt.datetime(2026, 12, 8, 15, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, 16, tzinfo=dt.UTC)),
        # Another practice's appointment with the same provider is busy time here.
        ("appointment-9@other.receptionist", dt.datetime(2026, 12, 8, 17, tzinfo=dt.UTC),
         dt.datetime(2026, 12, 8, 18, tzinfo=dt.UTC)),
        ("vacation", dt.datetime(2026, 12, 9, tzinfo=NY), dt.datetime(2026, 12, 11, tzinfo=NY)),
    ]


def test_pushing_twice_leaves_one_event_and_a_move_overwrites_it(provider_calendar):
    calendars.event_put(access(provider_calendar), event())
    calendars.event_put(access(provider_calendar), event())
    calendars.event_put(access(provider_calendar), event(start=START + dt.timedelta(hours=2), sequence=1))
    (vevent,) = events_in(provider_calendar)
    assert vevent["uid"] == "appointment-42@demo.receptionist"
    assert vevent.decoded("dtstart") == START + dt.timedelta(hours=2)
    assert vevent["sequence"] == 1  # ours, not bumped by the client


def test_deleting_removes_the_event_and_deleting_again_is_fine(provider_calendar):
    calendars.event_put(access(provider_calendar), event())
    calendars.event_delete(access(provider_calendar), event().uid)
    calendars.event_delete(access(provider_calendar), event().uid)
    assert events_in(provider_calendar) == []


def test_busy_events_expand_recurrences_and_skip_our_own(provider_calendar):
    calendars.event_put(access(provider_calendar), event())
    external_event(provider_calendar, "lunch", dt.datetime(2026, 12, 1, 12, tzinfo=NY), dt.datetime(2026, 12, 1, 13, tzinfo=NY),
                   extra="RRULE:FREQ=WEEKLY;COUNT=3\r\nEXDATE:20261208T170000Z\r\n")
    busy = calendars.busy_events(
        access(provider_calendar), start=dt.datetime(2026, 12, 1, tzinfo=NY), end=dt.datetime(2026, 12, 31, tzinfo=NY),
        tz=NY, skip_uid_suffix=calendars.own_uid_suffix("demo"),
    )
    assert sorted(b.start for b in busy) == [dt.datetime(2026, 12, 1, 12, tzinfo=NY), dt.datetime(2026, 12, 15, 12, tzinfo=NY)]
    assert len({b.uid for b in busy}) == 2  # each occurrence is its own block


def test_a_wrong_password_is_refused_not_retried(provider_calendar):
    with pytest.raises(CalendarRefused, match="refused the login"):
        calendars.event_put(access(provider_calendar, password="wrong"), event())


def test_a_missing_calendar_is_refused(radicale_server):
    missing = CalendarAccess(url=f"{radicale_server.url}{CALDAV_USER}/no-such-calendar/", username=CALDAV_USER,
                             password=CALDAV_PASSWORD)
    with pytest.raises(CalendarRefused):
        calendars.busy_events(missing, start=START, end=START + dt.timedelta(days=1), tz=NY, skip_uid_suffix="@x")


def test_a_server_that_is_down_is_unavailable_for_now():
    down = CalendarAccess(url=f"http://127.0.0.1:{free_port()}/drpatel/calendar/", username="u", password="p")
    with pytest.raises(CalendarUnavailable):
        calendars.event_put(down, event())


def test_a_server_error_is_unavailable_for_now(failing_caldav_server):
    with pytest.raises(CalendarUnavailable, match="503"):
        calendars.event_put(CalendarAccess(url=failing_caldav_server.url, username="u", password="p"), event())

