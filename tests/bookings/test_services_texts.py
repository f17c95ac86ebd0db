"""Texting patients: confirmations, reminders, replies and opt-outs, through the services and a fake Twilio."""

import datetime as dt

import pytest

from bookings.models import Appointment, AppointmentType, Patient, Provider, TextMessage, TextOptOut
from bookings.services import (
    TextNotSent,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    reminders_queue_due,
    text_receive,
    text_send,
    text_status_update,
)
from tenants.crypto import phone_blind_index
from tenants.services import Actor

pytestmark = pytest.mark.django_db

NOW = dt.datetime.fromisoformat("2026-11-27T10:00:00-05:00")  # a Friday
MONDAY_9 = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")
DESK = Actor.system("test")
MARIA = "+15551110001"


@pytest.fixture
def maria(demo):
    return Patient.objects.get(tenant=demo, phone_index=phone_blind_index(MARIA))


def book(demo, patient, start=MONDAY_9, type_key="cleaning", now=NOW):
    return appointment_book(tenant=demo, patient=patient, start=start, actor=DESK, now=now,
                            appointment_type=AppointmentType.objects.get(tenant=demo, key=type_key),
                            provider=Provider.objects.get(tenant=demo, key="chen"))


def test_a_booking_texts_the_patient_through_twilio_once_it_is_committed(demo, maria, texting_twilio,
                                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(demo, maria)
        assert texting_twilio.messages == []  # nothing leaves before the booking is committed
    [sent] = texting_twilio.wait_for_messages(1)
    assert sent["To"] == MARIA and sent["From"] == "+15005550006"
    assert sent["Body"] == ("Hi Maria, you're booked with Lisa Chen at Bright Smile Dental on Monday, November 30 "
                            "at 9 AM. To change it, call us at (500) 555-0006. Reply STOP to opt out of texts.")
    assert "leaning" not in sent["Body"]  # never the procedure
    assert sent["StatusCallback"] == "https://receptionist.example.com/api/webhooks/sms-status"
    text = appointment.texts.get()
    assert (text.kind, text.status, text.message_sid, text.patient) == ("booked", "queued", sent["sid"], maria)


def test_without_an_sms_provider_the_text_is_recorded_not_sent(demo, maria, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(demo, maria)
    text = appointment.texts.get()
    assert text.status == TextMessage.Status.RECORDED and "Monday, November 30 at 9 AM" in text.body


def test_moves_and_cancellations_text_too_and_a_rolled_back_booking_texts_nobody(demo, maria, texting_twilio,
                                                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(demo, maria)
        appointment_reschedule(appointment=appointment, new_start=MONDAY_9 + dt.timedelta(hours=2), actor=DESK, now=NOW)
        appointment_cancel(appointment=appointment, actor=DESK, now=NOW)
    bodies = [m["Body"] for m in texting_twilio.wait_for_messages(3)]
    assert "is now on Monday, November 30 at 11 AM" in bodies[1]
    assert "on Monday, November 30 at 11 AM is cancelled" in bodies[2]
    assert list(appointment.texts.order_by("pk").values_list("kind", flat=True)) == ["booked", "moved", "cancelled"]


def test_a_text_is_sent_once_however_often_its_task_runs(demo, maria, texting_twilio, django_capture_on_commit_callbacks):
    appointment = book(demo, maria)  # no commit here: the task is run by hand below
    text = appointment.texts.get()
    for _ in range(3):
        text_send(text_id=text.pk)
    assert len(texting_twilio.wait_for_messages(2, timeout=0.5)) == 1


def test_twilio_down_leaves_the_text_waiting_for_the_retry(demo, maria, texting_twilio):
    text = book(demo, maria).texts.get()
    texting_twilio.refuse[MARIA] = (503, 20500)
    with pytest.raises(TextNotSent):
        text_send(text_id=text.pk)
    text.refresh_from_db()
    assert text.status == TextMessage.Status.PENDING
    del texting_twilio.refuse[MARIA]
    text_send(text_id=text.pk)
    text.refresh_from_db()
    assert text.status == "queued" and len(texting_twilio.messages) == 1


def test_a_refused_number_fails_for_good_and_twilios_unsubscribed_marks_the_number_opted_out(demo, maria, texting_twilio):
    text = book(demo, maria).texts.get()
    texting_twilio.refuse[MARIA] = (400, 21610)
    text_send(text_id=text.pk)
    text.refresh_from_db()
    assert (text.status, text.error_code) == ("opted_out", "21610")
    assert TextOptOut.objects.filter(tenant=demo).count() == 1


def test_stop_opts_the_number_out_of_every_later_text_and_start_back_in(demo, maria, texting_twilio):
    assert text_receive(tenant=demo, message_sid="SMin1", phone="(555) 111-0001", body="STOP", now=NOW) == ""
    stopped = book(demo, maria).texts.get()
    text_send(text_id=stopped.pk)
    stopped.refresh_from_db()
    assert stopped.status == TextMessage.Status.OPTED_OUT and texting_twilio.messages == []
    text_receive(tenant=demo, message_sid="SMin2", phone=MARIA, body="start", now=NOW)
    appointment_cancel(appointment=stopped.appointment, actor=DESK, now=NOW)
    text_send(text_id=TextMessage.objects.get(kind="cancelled").pk)
    assert len(texting_twilio.messages) == 1
    inbound = TextMessage.objects.filter(kind="inbound").order_by("pk")
    assert [(t.body, t.patient) for t in inbound] == [("STOP", maria), ("start", maria)]


def test_c_confirms_the_next_visit_and_r_gives_the_number(demo, maria):
    appointment = book(demo, maria)
    reply = text_receive(tenant=demo, message_sid="SMc", phone=MARIA, body="C", now=NOW)
    assert reply == "Thank you, Maria: your visit on Monday, November 30 at 9 AM is confirmed. See you then!"
    appointment.refresh_from_db()
    assert appointment.confirmed_by_patient_at == NOW
    assert "(500) 555-0006" in text_receive(tenant=demo, message_sid="SMr", phone=MARIA, body="R", now=NOW)
    # Twilio retries a webhook it got no answer to: the same answer, nothing done twice.
    assert text_receive(tenant=demo, message_sid="SMc", phone=MARIA, body="C", now=NOW) == reply
    assert TextMessage.objects.filter(kind="inbound").count() == 2


def test_anything_else_is_kept_for_the_staff_and_texts_from_a_short_code_are_ignored(demo, maria):
    reply = text_receive(tenant=demo, message_sid="SMq", phone=MARIA, body="Can I bring my son too?", now=NOW)
    assert reply.startswith("Thanks, Bright Smile Dental has your message")
    assert TextMessage.objects.get(kind="inbound").body == "Can I bring my son too?"
    assert text_receive(tenant=demo, message_sid="SMx", phone="22395", body="promo", now=NOW) == ""


def test_statuses_never_move_backwards(demo, maria, texting_twilio):
    text = book(demo, maria).texts.get()
    text_send(text_id=text.pk)
    text.refresh_from_db()
    for status in ("sent", "delivered", "sent"):
        text_status_update(message_sid=text.message_sid, status=status)
    text.refresh_from_db()
    assert text.status == "delivered"
    assert text_status_update(message_sid="SMunknown", status="delivered") is None


def test_no_text_when_the_practice_does_not_text_or_the_patient_has_no_phone(demo, maria):
    maria.phone = ""
    maria.save()
    assert not book(demo, maria).texts.exists()
    demo.texts_enabled = False
    demo.save()
    john = Patient.objects.get(tenant=demo, phone_index=phone_blind_index("+15551110002"))
    assert not book(demo, john, start=MONDAY_9 + dt.timedelta(hours=5)).texts.exists()


def reminders_at(when: str, appointment: Appointment) -> list[tuple[str, str]]:
    """(hours before, status) of the appointment's reminders once the sweep has run at `when`."""
    reminders_queue_due(now=dt.datetime.fromisoformat(when))
    return [(t.key.split(":")[2], t.status) for t in appointment.texts.filter(kind="reminder").order_by("pk")]


def test_reminders_go_out_two_days_and_two_hours_before_once_each(demo, maria, texting_twilio):
    appointment = book(demo, maria, start=dt.datetime.fromisoformat("2026-12-07T14:00:00-05:00"))
    assert reminders_at("2026-12-05T13:55:00-05:00", appointment) == []
    assert reminders_at("2026-12-05T14:00:00-05:00", appointment) == [("48", "pending")]
    assert reminders_at("2026-12-05T14:05:00-05:00", appointment) == [("48", "pending")]
    assert reminders_at("2026-12-07T12:00:00-05:00", appointment) == [("48", "pending"), ("2", "pending")]
    for text in appointment.texts.filter(kind="reminder"):
        text_send(text_id=text.pk)
    bodies = [m["Body"] for m in texting_twilio.messages]
    assert bodies == [bodies[0]] * 2 and bodies[0].startswith("Reminder: Hi Maria, you're seeing Lisa Chen")


def test_no_reminder_for_a_cancelled_visit_and_a_moved_one_is_reminded_of_its_new_time(demo, maria, texting_twilio):
    cancelled = book(demo, maria, start=dt.datetime.fromisoformat("2026-12-07T14:00:00-05:00"))
    appointment_cancel(appointment=cancelled, actor=DESK, now=NOW)
    assert reminders_at("2026-12-05T14:00:00-05:00", cancelled) == []
    moved = book(demo, maria, start=dt.datetime.fromisoformat("2026-12-10T14:00:00-05:00"))
    assert reminders_at("2026-12-08T14:00:00-05:00", moved) == [("48", "pending")]
    appointment_reschedule(appointment=moved, new_start=dt.datetime.fromisoformat("2026-12-14T14:00:00-05:00"),
                           actor=DESK, now=dt.datetime.fromisoformat("2026-12-08T15:00:00-05:00"))
    stale = moved.texts.get(kind="reminder")
    text_send(text_id=stale.pk)  # its task ran after the move: the old time is not sent
    stale.refresh_from_db()
    assert stale.status == TextMessage.Status.SKIPPED
    reminders_at("2026-12-12T14:00:00-05:00", moved)
    fresh = moved.texts.filter(kind="reminder").exclude(pk=stale.pk).get()
    text_send(text_id=fresh.pk)
    assert [m["Body"] for m in texting_twilio.messages] == [fresh.body] and "December 14 at 2 PM" in fresh.body


def test_a_practice_with_no_reminders_sends_none(demo, maria):
    demo.reminder_hours = []
    demo.save()
    appointment = book(demo, maria, start=dt.datetime.fromisoformat("2026-12-07T14:00:00-05:00"))
    assert reminders_at("2026-12-05T14:00:00-05:00", appointment) == []
    assert not TextMessage.objects.filter(kind="reminder").exists()
