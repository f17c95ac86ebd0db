"""Scheduling's background work on a real Celery worker, against the test Redis."""

import datetime as dt

import pytest

from bookings.models import AppointmentType, Patient, Provider, TextMessage
from bookings.services import appointment_book
from bookings.tasks import reminders_send_due
from tenants.crypto import phone_blind_index
from tenants.services import Actor
from tests.servers import free_port
from voice.simulator.twilio_api import FakeTwilioApi

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def twilio(settings):
    fake = FakeTwilioApi(free_port())
    settings.SMS_BACKEND = "bookings.sms.twilio.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "token"
    settings.TWILIO_API_BASE_URL = fake.base_url
    yield fake
    fake.close()


def test_the_worker_texts_the_confirmation_and_the_reminder_at_its_offset(demo, twilio, celery_worker):
    maria = Patient.objects.get(tenant=demo, phone_index=phone_blind_index("+15551110001"))
    start = dt.datetime.fromisoformat("2026-12-07T14:00:00-05:00")
    appointment = appointment_book(
        tenant=demo, patient=maria, start=start, actor=Actor.system("test"),
        appointment_type=AppointmentType.objects.get(tenant=demo, key="cleaning"),
        provider=Provider.objects.get(tenant=demo, key="chen"), now=dt.datetime.fromisoformat("2026-11-27T10:00-05:00"),
    )
    [confirmation] = twilio.wait_for_messages(1)
    assert "you're booked with Lisa Chen" in confirmation["Body"]

    def sweep(now: str) -> None:
        # Each sweep queues its texts' tasks behind it; the next call's wait covers them (one task at a time).
        reminders_send_due.apply_async(args=[now], ignore_result=False).get(timeout=10)

    sweep("2026-12-05T13:59:00-05:00")  # a minute early: nothing
    sweep("2026-12-05T14:00:00-05:00")
    sweep("2026-12-05T14:05:00-05:00")  # the next sweep: sent already
    sweep("2026-12-05T14:05:00-05:00")
    sent = twilio.wait_for_messages(3, timeout=1)
    assert [m["Body"][:9] for m in sent] == ["Hi Maria,", "Reminder:"]
    reminder = appointment.texts.get(kind=TextMessage.Kind.REMINDER)
    assert (reminder.status, reminder.message_sid) == ("queued", sent[1]["sid"])
