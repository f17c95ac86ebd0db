"""Twilio's text webhooks, signed as Twilio signs them (replies, opt-outs, delivery reports), and the ICS feed a
provider's calendar app subscribes to."""

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone
from icalendar import Calendar

from bookings.models import Appointment, Patient, Provider, TextMessage, TextOptOut
from bookings.services import calendar_feed_token_issue, calendar_feed_token_revoke
from tenants.crypto import phone_blind_index
from tenants.services import Actor
from tests.twilio import post

pytestmark = pytest.mark.django_db

MARIA = "+15551110001"


@pytest.fixture(autouse=True)
def _signed(twilio_settings):
    pass


def incoming(client, body, sid="SM1", to="+15005550006", sender=MARIA):
    params = {"MessageSid": sid, "AccountSid": "AC1", "From": sender, "To": to, "Body": body, "NumMedia": "0"}
    response = post(client, "/api/webhooks/sms-incoming", params)
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    return [m.text for m in ET.fromstring(response.content).iter("Message")]


def test_stop_opts_out_without_a_reply_and_start_opts_back_in(client, demo):
    assert incoming(client, "Stop") == []
    assert TextOptOut.objects.filter(tenant=demo, phone_index=phone_blind_index(MARIA)).exists()
    assert incoming(client, "START", sid="SM2") == []
    assert not TextOptOut.objects.exists()


def test_help_and_r_answer_with_the_practices_number(client, demo):
    assert incoming(client, "help") == ["Bright Smile Dental: appointment texts. Call us at (500) 555-0006. "
                                        "Reply STOP to opt out, START to opt back in."]
    assert incoming(client, "R", sid="SM2") == ["To reschedule, please call Bright Smile Dental at (500) 555-0006. "
                                                "Our receptionist answers day and night."]


def test_a_text_to_a_number_no_practice_has_is_answered_with_nothing(client, demo):
    assert incoming(client, "hello", to="+15005550999") == []
    assert not TextMessage.objects.exists()


def test_a_forged_text_is_refused_and_changes_nothing(client, demo):
    params = {"MessageSid": "SM1", "From": MARIA, "To": "+15005550006", "Body": "STOP"}
    assert post(client, "/api/webhooks/sms-incoming", params, signature="forged").status_code == 403
    assert not TextOptOut.objects.exists() and not TextMessage.objects.exists()


def test_delivery_reports_update_the_text_and_bad_ones_are_refused(client, demo):
    maria = Patient.objects.get(tenant=demo, phone_index=phone_blind_index(MARIA))
    text = TextMessage.objects.create(tenant=demo, patient=maria, kind="booked", key="k", phone=MARIA,
                                      body="See you Monday", message_sid="SMout", status="queued",
                                      sent_at=dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    for status in ("delivered", "sent"):  # out of order, and retried
        assert post(client, "/api/webhooks/sms-status", {"MessageSid": "SMout", "MessageStatus": status}).status_code == 204
    text.refresh_from_db()
    assert text.status == "delivered"
    assert post(client, "/api/webhooks/sms-status", {"MessageSid": "", "MessageStatus": "failed"}).status_code == 400
    assert post(client, "/api/webhooks/sms-status", {"MessageSid": "SMout", "MessageStatus": "exploded"}).status_code == 400
    text.refresh_from_db()
    assert text.status == "delivered"


DESK = Actor(type="system", label="front desk")


@pytest.fixture
def feed(demo):
    patel = Provider.objects.get(tenant=demo, key="patel")
    row, token = calendar_feed_token_issue(provider=patel, actor=DESK)
    return patel, row, f"/calendars/{token}.ics"


def upcoming(provider, days=3):
    start = timezone.now() + dt.timedelta(days=days)
    return Appointment.objects.create(tenant_id=provider.tenant_id, provider=provider,
                                      patient=Appointment.objects.filter(tenant_id=provider.tenant_id).first().patient,
                                      appointment_type=provider.appointments.first().appointment_type,
                                      start=start, end=start + dt.timedelta(minutes=30))


def test_the_feed_lists_the_providers_appointments_without_the_patient(client, feed):
    patel, _, url = feed
    appointment = upcoming(patel)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    events = {str(e["uid"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}
    assert f"appointment-{appointment.pk}@demo.receptionist" in events
    assert {str(e["summary"]) for e in events.values()} == {"Appointment"}
    patient = appointment.patient
    assert patient.first_name.encode() not in response.content and patient.last_name.encode() not in response.content


def test_a_cancelled_appointment_leaves_the_feed(client, feed):
    patel, _, url = feed
    appointment = upcoming(patel)
    appointment.status = Appointment.Status.CANCELLED
    appointment.save()
    assert f"appointment-{appointment.pk}@".encode() not in client.get(url).content


def test_an_unchanged_feed_answers_304_to_its_etag(client, feed):
    _, _, url = feed
    first = client.get(url)
    again = client.get(url)
    assert first.content == again.content and first["ETag"] == again["ETag"]
    assert client.get(url, headers={"If-None-Match": first["ETag"]}).status_code == 304


def test_unknown_and_revoked_tokens_find_nothing(client, feed):
    _, row, url = feed
    assert client.get("/calendars/not-a-real-token.ics").status_code == 404
    calendar_feed_token_revoke(feed=row, actor=DESK)
    assert client.get(url).status_code == 404
