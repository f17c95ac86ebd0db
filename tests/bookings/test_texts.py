"""What texts say and when reminders go out (pure)."""

import datetime as dt
import zoneinfo

import pytest

from bookings import texts

NY = zoneinfo.ZoneInfo("America/New_York")
VISIT = texts.Visit(first_name="Maria", start=dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC), provider="Lisa Chen",
                    practice="Bright Smile Dental", practice_phone="(500) 555-0006", timezone=NY)


def test_a_booking_text_names_the_visit_in_the_practices_time_and_how_to_change_it():
    text = texts.booked_text(VISIT)
    assert text == ("Hi Maria, you're booked with Lisa Chen at Bright Smile Dental on Monday, November 30 at 9 AM. "
                    "To change it, call us at (500) 555-0006. Reply STOP to opt out of texts.")


@pytest.mark.parametrize("make", [texts.booked_text, texts.moved_text, texts.cancelled_text, texts.reminder_text])
def test_no_text_asks_for_cancel_which_twilio_reads_as_stop(make):
    assert "CANCEL" not in make(VISIT)
    assert "Maria" in make(VISIT) and "Monday, November 30 at 9 AM" in make(VISIT)


@pytest.mark.parametrize("body,reply", [
    ("STOP", texts.Reply.OPT_OUT), (" stop. ", texts.Reply.OPT_OUT), ("Unsubscribe", texts.Reply.OPT_OUT),
    ("cancel", texts.Reply.OPT_OUT), ("START", texts.Reply.OPT_IN), ("unstop", texts.Reply.OPT_IN),
    ("help", texts.Reply.HELP), ("c", texts.Reply.CONFIRM), ("Confirm!", texts.Reply.CONFIRM),
    ("R", texts.Reply.RESCHEDULE), ("please stop texting me at night", texts.Reply.OTHER),
    ("Can I come at 3 instead?", texts.Reply.OTHER), ("", texts.Reply.OTHER),
])
def test_keywords_count_only_as_the_whole_message(body, reply):
    assert texts.reply_read(body) is reply


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)


def test_a_daytime_reminder_goes_out_its_hours_before():
    start = local(2026, 12, 7, 9, 0)
    assert texts.reminder_send_at(start=start, hours_before=48, timezone=NY) == local(2026, 12, 5, 9, 0)
    assert texts.reminder_send_at(start=local(2026, 12, 7, 14, 0), hours_before=2, timezone=NY) == local(2026, 12, 7, 12, 0)


def test_a_reminder_due_at_night_goes_out_at_8_pm_the_evening_before():
    assert texts.reminder_send_at(start=local(2026, 12, 7, 8, 30), hours_before=2, timezone=NY) == local(2026, 12, 6, 20, 0)
    # Due at 10 PM: the same evening, before it.
    assert texts.reminder_send_at(start=local(2026, 12, 8, 0, 30), hours_before=2, timezone=NY) == local(2026, 12, 7, 20, 0)


def test_a_reminder_is_due_once_its_time_comes_and_never_at_night_late_or_for_a_visit_booked_after_it():
    start, send_at = local(2026, 12, 7, 9, 0), local(2026, 12, 5, 9, 0)
    booked = local(2026, 12, 1, 12, 0)

    def due(now, booked_at=booked):
        return texts.reminder_due(send_at=send_at, start=start, booked_at=booked_at, now=now, timezone=NY)

    assert not due(local(2026, 12, 5, 8, 55))
    assert due(local(2026, 12, 5, 9, 0)) and due(local(2026, 12, 5, 14, 59))
    assert not due(local(2026, 12, 5, 15, 1))  # found six hours late: the workers were down
    assert not due(local(2026, 12, 5, 9, 5), booked_at=local(2026, 12, 5, 9, 1))  # its confirmation said it all
    late_send = local(2026, 12, 5, 20, 0)
    assert not texts.reminder_due(send_at=late_send, start=start, booked_at=booked, now=local(2026, 12, 5, 21, 30),
                                  timezone=NY)
