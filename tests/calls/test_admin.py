"""Staff review their own practice's calls, transcripts and messages in the admin."""

import datetime as dt
import io
import re
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, Message, ToolCall, Turn
from calls.services import call_end, call_start, turn_record
from tenants.models import AuditEvent, Tenant
from tests.portal.twofactor import staff_sign_in
from voice.conversation.tools import ReceptionistTools
from voice.simulator.twilio_api import silent_mp3
from tests.voice.management.scenario_runner import subprocess_env
from tests import ROOT

pytestmark = pytest.mark.django_db(transaction=True)



def talk(lines: list[str], caller: str) -> str:
    env = subprocess_env(_url())
    result = subprocess.run(
        [sys.executable, "manage.py", "talk", "--tenant", "demo", "--from", caller, "--now", "2026-11-30T09:00"],
        input="\n".join(lines) + "\n", cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_talk_protocol_and_a_message_staff_can_handle(client, django_user_model):
    call_command("seed_demo", stdout=io.StringIO())
    out = talk(["I'd like to leave a message.", "Dan Cole", "Please call me about my bill.", "No, bye."], "+15552220104")
    lines = out.strip().splitlines()
    assert lines[0].startswith("AGENT: Thank you for calling Bright Smile Dental.")
    assert lines[1] == "CALLER>"
    assert all(line.startswith(("AGENT: ", "CALLER>", "[call ended]", "{")) for line in lines)
    assert lines[-2] == "[call ended]"
    assert '"outcome": "message_taken"' in lines[-1] and '"message": "Please call me about my bill."' in lines[-1]

    demo = Tenant.objects.get(slug="demo")
    message = Message.objects.get(tenant=demo)
    assert (message.caller_name, message.callback_number, message.status) == ("Dan Cole", "+15552220104", "new")
    user = django_user_model.objects.get(username="demo")
    staff_sign_in(client, user)
    listing = client.get(reverse("admin:calls_message_changelist"))
    assert "Please call me about my bill." in listing.text
    client.post(reverse("admin:calls_message_changelist"), {"action": "mark_handled", "_selected_action": [message.pk]})
    message.refresh_from_db()
    assert message.status == "handled" and message.handled_at is not None

    call = Call.objects.get(tenant=demo)
    page = client.get(reverse("admin:calls_call_change", args=[call.pk]))
    assert page.status_code == 200
    assert "Please call me about my bill." in page.text and "message_taken" in page.text.lower().replace(" ", "_")
    assert AuditEvent.objects.filter(actor_user=user, action="view", object_type="calls.Call").exists()


def test_bad_arguments_get_clear_errors():
    call_command("seed_demo", stdout=io.StringIO())
    for args, error in [
        (["--tenant", "nope"], "No active practice with slug 'nope'"),
        (["--tenant", "demo", "--now", "next week"], "--now must be a local date and time"),
    ]:
        result = subprocess.run(
            [sys.executable, "manage.py", "talk", *args], cwd=ROOT, env=subprocess_env(_url()),
            capture_output=True, text=True, timeout=60, input="",
        )
        assert result.returncode != 0 and error in result.stderr


def _url():
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


# -- the call review page ---------------------------------------------------------------------------------------

MARIA = "+15551110001"  # demo patient, born 1980-04-12
STARTED = dt.datetime(2026, 11, 30, 14, 5, tzinfo=dt.UTC)  # 9:05 AM in New York, the demo practice's zone
TIMED = {"end_of_turn_wait_ms": 500, "turn_ended_by": "silence", "final_transcript_ms": 120.0,
         "engine_first_sentence_ms": 300.0, "first_audio_ms": 90.0, "first_frame_sent_ms": 540.0,
         "providers": {"stt": "deepgram", "engine": "claude", "tts": "espeak"}, "fallbacks": ["tts"]}


def details_removed(html: str) -> str:
    return re.sub(r"<details\b.*?</details>", "", html, flags=re.S)


@pytest.fixture
def reviewed_call(demo):
    """A phone call of the demo practice: a booking, a refusal, and a reply the caller cut off."""
    call = call_start(tenant=demo, channel=Call.Channel.PHONE, caller_number=MARIA)
    tools = ReceptionistTools(call=call, tenant=demo, now=lambda: STARTED)
    tools.call_tool("identify_caller")
    tools.call_tool("verify_patient", date_of_birth=dt.date(1980, 4, 12))
    offer = tools.call_tool("find_slots", type="cleaning", date=dt.date(2026, 12, 1)).slots[0]
    booked = tools.call_tool("book_appointment", type="cleaning", start=offer.start)
    tools.call_tool("cancel_appointment", appointment_id=999999)
    turn_record(call=call, speaker="agent", text="Thank you for calling Bright Smile Dental.",
                unheard="How can I help you today?",
                latency={"interrupted": True, "providers": {"engine": "claude", "tts": "espeak"}})
    turn_record(call=call, speaker="caller", text="I'd like a cleaning on Tuesday.")
    turn_record(call=call, speaker="agent", text=f"You're booked for {offer.spoken}.", latency=TIMED)
    call_end(call=call, outcome="booked", summary="Booked a cleaning.")
    Call.objects.filter(pk=call.pk).update(started_at=STARTED, ended_at=STARTED + dt.timedelta(seconds=95),
                                           patient_id=tools.session.verified_patient_id)
    for second, turn in enumerate(Turn.objects.filter(call=call).order_by("index")):
        Turn.objects.filter(pk=turn.pk).update(at=STARTED + dt.timedelta(seconds=3 + 10 * second))
    ToolCall.objects.filter(call=call).update(at=STARTED + dt.timedelta(seconds=15))
    return Call.objects.get(pk=call.pk), booked.appointment


def page_of(client, call):
    response = client.get(reverse("admin:calls_call_change", args=[call.pk]))
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize("superuser", [False, True], ids=["practice staff", "superuser"])
def test_a_call_reads_as_an_exchange_in_the_practices_time(reviewed_call, staff_client, admin_client, superuser):
    call, _ = reviewed_call
    client = admin_client if superuser else staff_client(call.tenant)[0]
    html = page_of(client, call)
    assert f"Call #{call.pk} (Phone, 2026-11-30 09:05 EST)" in html  # the title, in New York's time
    assert "Monday, November 30, 2026, 9:05 AM EST" in html and "Monday, November 30, 2026, 9:06:35 AM EST" in html
    assert "14:05" not in html and "2:05" not in html  # nowhere in UTC
    rows = re.findall(r'<li class="exchange-row (exchange-\w+)" id="turn-(\d+)">', html)
    assert rows == [("exchange-agent", "1"), ("exchange-caller", "2"), ("exchange-agent", "3")]
    times = re.findall(r'<time class="call-time" datetime="[^"]+">([^<]+)</time>', html)
    assert times == ["9:05:15 AM"] * 5 + ["9:05:03 AM", "9:05:13 AM", "9:05:23 AM"]  # the tool calls', then the turns'

    assert html.count('class="exchange-speaker">Receptionist<') == 2 and html.count('class="exchange-speaker">Caller<') == 1
    assert "Maria Garcia" in html and "Booked" in html


def test_words_the_caller_cut_off_show_as_cut_off(reviewed_call, staff_client):
    call, _ = reviewed_call
    html = page_of(staff_client(call.tenant)[0], call)
    heard, cut = re.search(r'id="turn-1">.*?class="turn-heard">([^<]*)<.*?class="turn-unheard"(.*?)</span>\s*</div>',
                           html, flags=re.S).groups()
    assert heard == "Thank you for calling Bright Smile Dental."
    assert "cut off" in cut and "<del>How can I help you today?</del>" in cut


def test_what_the_receptionist_did_reads_in_words_with_a_link_to_the_appointment(reviewed_call, staff_client):
    call, appointment = reviewed_call
    html = page_of(staff_client(call.tenant)[0], call)
    actions = re.findall(r'<span class="action-sentence">([^<]*)</span>', html)
    assert actions[:2] == ["Looked up the caller ID: 1 patient on file", "Verified the caller as Maria Garcia"]
    assert actions[3] == f"Booked a cleaning with Lisa Chen on {appointment.spoken}"
    assert actions[4] == "Could not cancel appointment #999999: I can&#x27;t find that appointment for you."
    assert html.count("action-failed-badge") == 1
    assert f'href="{reverse("admin:bookings_appointment_change", args=[appointment.id])}"' in html
    assert html.count('<details class="tool-raw">') == 5


def test_raw_json_stays_folded_away_and_the_latency_strip_is_drawn_to_scale(reviewed_call, staff_client):
    call, _ = reviewed_call
    html = page_of(staff_client(call.tenant)[0], call)
    assert "end_of_turn_wait_ms" in html and "date_of_birth" in html  # kept, in the folded details
    shown = details_removed(html)
    assert "end_of_turn_wait_ms" not in shown and '"date_of_birth"' not in shown and "{&quot;" not in shown
    (strip,) = re.findall(r'<div class="latency-strip"[^>]*>.*?</ul>', shown, flags=re.S)
    widths = [float(w) for w in re.findall(r'style="width: ([\d.]+)%"', strip)]
    assert widths == [48.08, 11.54, 28.85, 8.65, 2.88]  # 500, 120, 300, 90 and the 30 ms left of 540: of 1040 ms
    assert "The caller waited 1040 ms" in strip
    assert 'latency-segment latency-voice provider-fallback' in strip and "espeak" in strip and "deepgram" in strip
    assert '<span class="latency-provider">Conversation: claude</span>' in shown  # the greeting: providers, no timing
    assert 'title="End-of-turn wait: 500 ms.' in strip


def test_another_practices_staff_get_404_for_the_call_and_its_recording(reviewed_call, staff_client, make_practice):
    call, _ = reviewed_call
    other, *_ = make_practice("other")
    client, user = staff_client(other, username="elsewhere")
    assert client.get(reverse("admin:calls_call_change", args=[call.pk])).status_code == 404
    assert client.get(reverse("admin:calls_call_recording", args=[call.pk])).status_code == 404
    assert AuditEvent.objects.filter(actor_user=user, action="access_denied", object_id=str(call.pk)).count() == 2
    assert not AuditEvent.objects.filter(action="recording_play").exists()


def test_a_call_without_a_recording_says_so(reviewed_call, staff_client):
    call, _ = reviewed_call
    html = page_of(staff_client(call.tenant)[0], call)
    assert '<p id="call-not-recorded">Not recorded.</p>' in html and "<audio" not in html


def test_the_recording_plays_through_the_server_and_twilios_url_never_reaches_the_browser(
        reviewed_call, staff_client, fake_twilio, settings):
    call, _ = reviewed_call
    audio = silent_mp3(2.0)
    url = fake_twilio.recording_hold("RE" + "5" * 32, account_sid=settings.TWILIO_ACCOUNT_SID, audio=audio)
    Call.objects.filter(pk=call.pk).update(recording_sid="RE" + "5" * 32, recording_url=url, recording_duration_seconds=95)
    client, user = staff_client(call.tenant)
    html = page_of(client, call)
    src = reverse("admin:calls_call_recording", args=[call.pk])
    assert f'<audio controls preload="none" id="call-recording" src="{src}">' in html
    assert "twilio.com" not in html and "RE" + "5" * 32 not in html

    whole = client.get(src)
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/mpeg"
    assert b"".join(whole.streaming_content) == audio
    part = client.get(src, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(audio)}"
    assert b"".join(part.streaming_content) == audio[100:200]
    assert all(request["Authorization"].startswith("Basic ") for request in fake_twilio.media_requests)
    assert AuditEvent.objects.filter(actor_user=user, action="recording_play", object_type="calls.Call",
                                     object_id=str(call.pk), tenant=call.tenant).count() == 2

    fake_twilio.recordings.clear()  # deleted at Twilio: gone, not an error of ours
    assert client.get(src).status_code == 404


# -- the list of calls ------------------------------------------------------------------------------------------


def listed(client, **query) -> list[str]:
    """The calls the list shows, by the text of their Started column."""
    response = client.get(reverse("admin:calls_call_changelist"), query)
    assert response.status_code == 200
    return [call.pk for call in response.context["cl"].result_list]


def test_staff_filter_the_calls_they_need_and_read_the_columns(reviewed_call, staff_client):
    call, _ = reviewed_call
    tenant = call.tenant
    now = timezone.now()
    midnight = timezone.localtime(now, tenant.tzinfo).replace(hour=0, minute=0, second=0, microsecond=0)
    today = call_start(tenant=tenant, channel=Call.Channel.PHONE, caller_number="+15557654321")
    late_yesterday = call_start(tenant=tenant, channel=Call.Channel.PHONE, caller_number="+15557650000")
    Call.objects.filter(pk=late_yesterday.pk).update(started_at=midnight - dt.timedelta(minutes=30), outcome="message_taken")
    Call.objects.filter(pk=today.pk).update(started_at=max(midnight, now - dt.timedelta(minutes=1)), is_test=True,
                                            fallbacks=["stt"])
    client, _ = staff_client(tenant)

    assert listed(client, when="today") == [today.pk]
    assert listed(client, follow_up="yes") == [late_yesterday.pk]  # the test call's fallback asks nobody to call back
    assert listed(client, outcome="booked") == [call.pk]
    assert listed(client, patient=str(call.patient_id)) == [call.pk]
    assert set(listed(client, test="hide")) == {call.pk, late_yesterday.pk}
    assert listed(client, test="only") == [today.pk]

    html = client.get(reverse("admin:calls_call_changelist")).text
    assert "Mon Nov 30, 9:05 AM" in html and "1 min 35 s" in html
    assert "Maria Garcia" in html and "XXX-XXX-4321" in html and "+15557654321" not in html
    assert html.count('class="call-badge call-test-badge">Test call<') == 1
    assert "Follow up: provider fallback" not in html and "Follow up: message taken" in html
    assert f'?patient={call.patient_id}"' in html  # the patient filter lists her by name, and the trail says so
    assert AuditEvent.objects.filter(action="list", object_type="bookings.Patient", tenant=tenant,
                                     detail__shown_in="call list patient filter").exists()


def test_the_patient_filter_lists_only_the_staff_members_own_practices_patients(reviewed_call, staff_client, make_practice):
    call, _ = reviewed_call
    other, zoe, _ = make_practice("other")
    call_start(tenant=other, channel=Call.Channel.PHONE, caller_number=zoe.phone)
    Call.objects.filter(tenant=other).update(patient=zoe)
    client, _ = staff_client(call.tenant)
    html = client.get(reverse("admin:calls_call_changelist")).text
    assert "Maria Garcia" in html and "Zoe Other" not in html
    assert listed(client, patient=str(zoe.pk)) == []
