"""Staff review a call in the browser: the exchange with the words the caller cut off, the latency strip, and
the recording, played through the portal's audited view."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from calls.models import Call
from calls.services import call_end, call_start, turn_record
from tenants.models import AuditEvent, Tenant
from tests.browser.conftest import TWILIO_ACCOUNT_SID, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
TIMED = {"end_of_turn_wait_ms": 500, "turn_ended_by": "silence", "final_transcript_ms": 42.0,
         "engine_first_sentence_ms": 180.5, "first_audio_ms": 95.0, "first_frame_sent_ms": 840.0,
         "providers": {"stt": "pocketsphinx", "engine": "rules", "tts": "espeak"}}


def test_a_call_reads_as_a_conversation_and_its_recording_plays(page, portal_url, staff_member, twilio_api):
    call_command("seed_demo", stdout=io.StringIO())
    practice = Tenant.objects.get(slug="demo")
    user = staff_member(practice)
    call = call_start(tenant=practice, channel=Call.Channel.PHONE, caller_number="+15551110001")
    turn_record(call=call, speaker="agent", text="Thank you for calling Bright Smile Dental.",
                unheard="How can I help you today?", latency={"interrupted": True})
    turn_record(call=call, speaker="caller", text="Can I speak to someone about my crown?")
    turn_record(call=call, speaker="agent", text="Of course, I'll put you through to the front desk.", latency=TIMED)
    call_end(call=call, outcome=Call.Outcome.TRANSFERRED, transferred_to="+15551119999",
             summary="Asked about a crown; transferred to the front desk.")
    recording = twilio_api.recording_hold("RE" + "4" * 32, account_sid=TWILIO_ACCOUNT_SID)
    Call.objects.filter(pk=call.pk).update(recording_sid="RE" + "4" * 32, recording_url=recording,
                                           recording_duration_seconds=1)
    review = f"/admin/calls/call/{call.pk}/change/"

    sign_in(page, portal_url, user, next_path=review)

    agent, caller, answer = page.locator("#call-exchange li.exchange-row").all()
    expect(agent.locator(".turn-heard")).to_have_text("Thank you for calling Bright Smile Dental.")
    expect(agent.locator(".turn-unheard")).to_contain_text("cut off")
    expect(agent.locator(".turn-unheard del")).to_have_text("How can I help you today?")
    expect(caller.locator(".exchange-speaker")).to_have_text("Caller")
    strip = answer.locator(".latency-strip")
    expect(strip).to_have_attribute("data-first-frame-ms", "1340")  # 500 ms of end-of-turn wait, then 840 ms
    expect(strip.locator(".latency-segment")).not_to_have_count(0)
    assert "end_of_turn_wait_ms" not in page.locator("#call-review").evaluate(
        "review => [...review.querySelectorAll('details')].reduce((text, d) => text.replace(d.textContent, ''),"
        " review.textContent)")  # raw timing only inside the folded details

    player = page.locator("audio#call-recording")
    duration = player.evaluate("""audio => new Promise((resolve, reject) => {
        audio.addEventListener('loadedmetadata', () => resolve(audio.duration), {once: true});
        audio.addEventListener('error', () => reject(new Error('the recording did not load')), {once: true});
        audio.preload = 'auto';
        audio.load();
    })""")
    assert duration > 0.5
    assert "api.twilio.com" not in page.content() and TWILIO_ACCOUNT_SID not in page.content()
    assert AuditEvent.objects.filter(actor_user=user, action="recording_play", object_id=str(call.pk),
                                     tenant=practice).exists()
    assert Call.objects.get(pk=call.pk).started_at < dt.datetime.now(dt.UTC)
