"""Twilio's webhooks, signed as Twilio signs them, including retries and forgeries."""

import io
import xml.etree.ElementTree as ET

import pytest
from django.core.management import call_command
from twilio.request_validator import RequestValidator

from calls.models import Call
from calls.services import call_end
from calls.telephony import stream_token_valid
from tenants.models import Tenant
from tests.twilio import PUBLIC, TOKEN, post

pytestmark = pytest.mark.django_db



@pytest.fixture(autouse=True)
def _signed(twilio_settings):
    pass


@pytest.fixture
def demo_practice():
    call_command("seed_demo", stdout=io.StringIO())
    return Tenant.objects.get(slug="demo")


INCOMING = {"CallSid": "CA0001", "AccountSid": "AC123", "From": "+15551110001", "To": "+15005550006",
            "CallStatus": "ringing", "Direction": "inbound"}


def test_incoming_call_connects_a_two_way_stream_with_a_token(client, demo_practice):
    response = post(client, "/api/webhooks/incoming-call", INCOMING)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.find("./Start/Stream") is None  # one-way streams cannot talk back
    stream = root.find("./Connect/Stream")
    call = Call.objects.get(call_sid="CA0001")
    assert stream.get("url") == f"wss://receptionist.example.com/media-stream/{call.pk}/"
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert parameters["callSid"] == "CA0001"
    assert stream_token_valid(parameters["token"], call_id=call.pk, call_sid="CA0001")
    assert not stream_token_valid(parameters["token"], call_id=call.pk + 1, call_sid="CA0001")
    assert (call.tenant, call.caller_number, call.channel, call.status) == (demo_practice, "+15551110001", "phone", "in_progress")


def test_a_retried_incoming_call_is_the_same_call(client, demo_practice):
    first = post(client, "/api/webhooks/incoming-call", INCOMING)
    second = post(client, "/api/webhooks/incoming-call", INCOMING)
    assert first.status_code == second.status_code == 200
    assert Call.objects.filter(call_sid="CA0001").count() == 1


def test_unknown_number_is_told_politely_and_hung_up(client, demo_practice):
    response = post(client, "/api/webhooks/incoming-call", {**INCOMING, "To": "+15550000000"})
    root = ET.fromstring(response.content)
    assert "not in service" in root.find("Say").text and root.find("Hangup") is not None
    assert not Call.objects.exists()


@pytest.mark.parametrize("signature", ["", "forged", None])
def test_bad_or_missing_signatures_are_refused_and_change_nothing(client, demo_practice, signature):
    if signature is None:  # signed for the URL the app sees behind a proxy, not the public one
        response = post(client, "/api/webhooks/incoming-call", INCOMING, signed_url="http://testserver/api/webhooks/incoming-call")
    else:
        response = post(client, "/api/webhooks/incoming-call", INCOMING, signature=signature)
    assert response.status_code == 403
    assert not Call.objects.exists()


def test_tampered_parameters_are_refused(client, demo_practice):
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/api/webhooks/incoming-call", INCOMING)
    response = client.post("/api/webhooks/incoming-call", {**INCOMING, "From": "+15559999999"}, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403


def test_status_callbacks_finish_the_call_idempotently(client, demo_practice):
    post(client, "/api/webhooks/incoming-call", INCOMING)
    params = {"CallSid": "CA0001", "CallStatus": "completed", "CallDuration": "42"}
    for _ in range(2):  # Twilio retries
        assert post(client, "/api/webhooks/call-status", params).status_code == 204
    call = Call.objects.get(call_sid="CA0001")
    ended = call.ended_at
    assert (call.twilio_status, call.duration_seconds, call.status, call.outcome) == ("completed", 42, "completed", "abandoned")
    post(client, "/api/webhooks/call-status", params)
    call.refresh_from_db()
    assert call.ended_at == ended
    assert post(client, "/api/webhooks/call-status", {**params, "CallSid": "CA-unknown"}).status_code == 204


def test_recording_status(client, demo_practice):
    post(client, "/api/webhooks/incoming-call", INCOMING)
    params = {"CallSid": "CA0001", "RecordingSid": "RE1", "RecordingUrl": "https://api.twilio.com/rec/RE1", "RecordingDuration": "40"}
    assert post(client, "/api/webhooks/recording-status", params).status_code == 204
    call = Call.objects.get(call_sid="CA0001")
    assert (call.recording_sid, call.recording_url, call.recording_duration_seconds) == ("RE1", "https://api.twilio.com/rec/RE1", 40)


def test_recording_practices_say_the_consent_line_first(client, demo_practice):
    demo_practice.record_calls = True
    demo_practice.save()
    root = ET.fromstring(post(client, "/api/webhooks/incoming-call", INCOMING).content)
    assert [child.tag for child in root] == ["Say", "Start", "Connect"]
    assert "may be recorded" in root.find("Say").text
    assert root.find("./Start/Recording").get("recordingStatusCallback") == PUBLIC + "/api/webhooks/recording-status"


def test_get_is_not_allowed_and_health_answers(client):
    assert client.get("/api/webhooks/incoming-call").status_code == 405
    assert client.get("/api/webhooks/health").json()["signatures_checked"] is True


@pytest.mark.parametrize("path,params", [
    ("/api/webhooks/call-status", {"CallSid": "", "CallStatus": "failed", "CallDuration": "999"}),
    ("/api/webhooks/call-status", {"CallStatus": "failed", "CallDuration": "999"}),
    ("/api/webhooks/recording-status", {"CallSid": "", "RecordingSid": "RE9", "RecordingUrl": "https://x/rec", "RecordingDuration": "9"}),
    ("/api/webhooks/incoming-call", {**INCOMING, "CallSid": ""}),
])
def test_a_signed_callback_without_its_sid_is_refused_and_changes_nothing(client, demo_practice, path, params):
    text_call = Call.objects.create(tenant=demo_practice, channel=Call.Channel.TEXT)  # a `talk` call: blank SID
    response = post(client, path, params)
    assert response.status_code == 400
    text_call.refresh_from_db()
    assert (text_call.status, text_call.duration_seconds, text_call.recording_url, text_call.ended_at) == ("in_progress", None, "", None)
    assert Call.objects.count() == 1


def _stream_ends(call: Call):
    return call_end(call=call, outcome=Call.Outcome.BOOKED, summary="Booked a cleaning for Monday at 9 AM.")


@pytest.mark.parametrize("order", ["status first", "stream first"])
def test_either_order_of_hang_up_and_stream_end_keeps_the_true_outcome(client, demo_practice, order):
    post(client, "/api/webhooks/incoming-call", INCOMING)
    call = Call.objects.get(call_sid="CA0001")
    completed = {"CallSid": "CA0001", "CallStatus": "completed", "CallDuration": "61"}
    if order == "status first":
        post(client, "/api/webhooks/call-status", completed)
        _stream_ends(call)
    else:
        _stream_ends(call)
        post(client, "/api/webhooks/call-status", completed)
    post(client, "/api/webhooks/call-status", completed)  # a retry changes nothing
    call.refresh_from_db()
    assert (call.outcome, call.summary, call.status) == ("booked", "Booked a cleaning for Monday at 9 AM.", "completed")
    assert (call.twilio_status, call.duration_seconds) == ("completed", 61) and call.ended_at is not None
    call_end(call=call, outcome=Call.Outcome.ABANDONED, summary="late")
    call.refresh_from_db()
    assert call.outcome == "booked"  # the conversation's ending is recorded once


@pytest.mark.django_db(transaction=True)
def test_simultaneous_retries_of_the_incoming_call_get_the_same_call_and_twiml(demo_practice, monkeypatch):
    import threading

    from django.db import connection
    from django.test import Client

    # Both requests have looked for the call and found none before either inserts it:
    # the race two simultaneous deliveries of one webhook can run.
    both_looked = threading.Barrier(2, timeout=20)
    save = Call.save

    def save_after_both_looked(self, *args, **kwargs):
        if self._state.adding:
            both_looked.wait()
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Call, "save", save_after_both_looked)
    answers, errors = [], []

    def webhook():
        try:
            answers.append(post(Client(), "/api/webhooks/incoming-call", INCOMING))
        except Exception as error:  # the test client re-raises what a server would answer 500 to
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=webhook) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert Call.objects.filter(call_sid="CA0001").count() == 1
