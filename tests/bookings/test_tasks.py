"""Scheduling's background work on a real Celery worker, against the test Redis: texts and calendar sync."""

import datetime as dt
import time

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from bookings.calendars import CalendarUnavailable
from bookings.models import AppointmentType, BusyBlock, CalendarConflict, CalendarLink, Patient, Provider, TextMessage
from bookings.selectors import slots_find
from bookings.services import appointment_book
from bookings.tasks import appointment_calendar_push_task, calendar_busy_pull_task, calendar_sync_all, reminders_send_due
from tenants.crypto import phone_blind_index
from tenants.services import Actor
from tests.bookings.calendar_helpers import events_in, external_event, link_calendar

pytestmark = pytest.mark.django_db(transaction=True)

def test_the_worker_texts_the_confirmation_and_the_reminder_at_its_offset(demo, texting_twilio, celery_worker):
    maria = Patient.objects.get(tenant=demo, phone_index=phone_blind_index("+15551110001"))
    start = dt.datetime.fromisoformat("2026-12-07T14:00:00-05:00")
    appointment = appointment_book(
        tenant=demo, patient=maria, start=start, actor=Actor.system("test"),
        appointment_type=AppointmentType.objects.get(tenant=demo, key="cleaning"),
        provider=Provider.objects.get(tenant=demo, key="chen"), now=dt.datetime.fromisoformat("2026-11-27T10:00-05:00"),
    )
    [confirmation] = texting_twilio.wait_for_messages(1)
    assert "you're booked with Lisa Chen" in confirmation["Body"]

    def sweep(now: str) -> None:
        # Each sweep queues its texts' tasks behind it; the next call's wait covers them (one task at a time).
        reminders_send_due.apply_async(args=[now], ignore_result=False).get(timeout=10)

    sweep("2026-12-05T13:59:00-05:00")  # a minute early: nothing
    sweep("2026-12-05T14:00:00-05:00")
    sweep("2026-12-05T14:05:00-05:00")  # the next sweep: sent already
    sweep("2026-12-05T14:05:00-05:00")
    sent = texting_twilio.wait_for_messages(3, timeout=1)
    assert [m["Body"][:9] for m in sent] == ["Hi Maria,", "Reminder:"]
    reminder = appointment.texts.get(kind=TextMessage.Kind.REMINDER)
    assert (reminder.status, reminder.message_sid) == ("queued", sent[1]["sid"])


DESK = Actor(type="system", label="front desk")


def until(check, seconds=15):
    deadline = time.monotonic() + seconds
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not get there in time")
        time.sleep(0.05)
    return result


def a_tuesday_ahead(tenant, hour: int) -> dt.datetime:
    today = timezone.now().astimezone(tenant.tzinfo).date()
    day = today + dt.timedelta(days=7 + (1 - today.weekday()) % 7)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tenant.tzinfo)


@pytest.mark.usefixtures("transactional_db")
def test_a_booking_reaches_the_calendar_and_the_calendar_blocks_availability(
    celery_worker, demo, provider_calendar, staff_client
):
    chen = Provider.objects.get(tenant=demo, key="chen")
    cleaning = AppointmentType.objects.get(tenant=demo, key="cleaning")
    patient = Patient.objects.filter(tenant=demo).first()
    link = link_calendar(chen, provider_calendar)
    ten = a_tuesday_ahead(demo, 10)

    appointment = appointment_book(tenant=demo, patient=patient, appointment_type=cleaning, start=ten, provider=chen,
                                   actor=DESK)
    (vevent,) = until(lambda: events_in(provider_calendar))
    assert vevent["uid"] == f"appointment-{appointment.pk}@demo.receptionist"
    assert vevent.decoded("dtstart") == ten

    appointment_calendar_push_task.delay(appointment.pk)  # a redelivered push
    external_event(provider_calendar, "school-run", ten.replace(hour=14), ten.replace(hour=15))
    external_event(provider_calendar, "dentist-call", ten.replace(minute=30), ten.replace(hour=11))
    calendar_sync_all.delay()
    until(lambda: BusyBlock.objects.filter(calendar_link=link).count() == 2)

    assert len(events_in(provider_calendar)) == 3  # still one event for the appointment
    offered = slots_find(tenant=demo, appointment_type=cleaning, now=timezone.now(), day=ten.date(), limit=20)
    starts = [slot.start for slot in offered.slots]
    assert ten.replace(hour=14) not in starts
    assert ten.replace(hour=15) in starts

    conflict = CalendarConflict.objects.get(appointment=appointment)
    assert conflict.external_uid == "dentist-call" and conflict.resolved_at is None
    client, _ = staff_client(demo)
    page = client.get("/admin/bookings/calendarconflict/?state=open")
    assert page.status_code == 200
    assert f"#{appointment.pk} " in page.content.decode()



@pytest.mark.django_db
def test_a_server_error_is_tried_again_later_and_a_refusal_is_not(demo, failing_caldav_server, provider_calendar):
    chen = Provider.objects.get(tenant=demo, key="chen")
    link = CalendarLink.objects.create(tenant=demo, provider=chen, url=failing_caldav_server.url, username="u",
                                       password="p")
    with pytest.raises(Retry) as retry:  # inline here, so the retry is handed back instead of scheduled
        calendar_busy_pull_task.delay(link.pk)
    assert isinstance(retry.value.exc, CalendarUnavailable)
    link.refresh_from_db()
    assert link.last_error == "The calendar server had an error (HTTP 503)."

    link.url, link.password = str(provider_calendar.url), "wrong"
    link.save()
    calendar_busy_pull_task.delay(link.pk)  # nothing to try again: it waits on the link for staff
    link.refresh_from_db()
    assert link.last_error == "The calendar server refused the login (HTTP 401)."
