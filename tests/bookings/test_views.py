"""Twilio's text webhooks, signed as Twilio signs them: replies, opt-outs and delivery reports."""

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from bookings.models import Patient, TextMessage, TextOptOut
from tenants.crypto import phone_blind_index
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
