"""The media-stream consumer, spoken to exactly as Twilio speaks (channels' WebsocketCommunicator)."""

import asyncio
import base64
import io
import json

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.management import call_command

from bookings.models import Appointment
from calls.models import Call, Turn
from calls.services import browser_call_start, call_from_incoming
from calls.telephony import stream_token_issue
from tenants.models import Tenant
from tenants.services import Actor
from tests.fakes.deepgram_api import FakeDeepgram
from tests.fakes.elevenlabs_api import CHUNK, FakeElevenLabs, Reply
from voice.phone.consumers import CLOSE_TRANSFERRED
from voice.phone.audio import FRAME_BYTES, FRAME_MS, frames, silence_ulaw
from voice.phone.tts import piper as piper_tts
from voice.phone.tts.espeak import synthesize_ulaw
from voice.routing import websocket_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
SILENCE = silence_ulaw(FRAME_MS)
STREAM = "MZ" + "7" * 32
APP = URLRouter(websocket_urlpatterns)


@pytest.fixture
def twilio(fake_twilio, settings):
    settings.VOICE_IDLE_SECONDS = 60
    settings.FROZEN_NOW = "2026-11-30T09:00:00-05:00"
    return fake_twilio


@pytest.fixture
def call(twilio):
    call_command("seed_demo", stdout=io.StringIO())
    tenant = Tenant.objects.get(slug="demo")
    return call_from_incoming(tenant=tenant, call_sid="CA" + "9" * 32, caller_number="+15551110001",
                              dialled_number="+15005550006")


def start_message(call, token=None, sid=None):
    sid = sid or call.call_sid
    return {
        "event": "start", "sequenceNumber": "1", "streamSid": STREAM,
        "start": {"accountSid": "AC1", "streamSid": STREAM, "callSid": sid, "tracks": ["inbound"],
                  "customParameters": {"token": token or stream_token_issue(call_id=call.pk, call_sid=sid, issued_at=call.started_at), "callSid": sid},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
    }


def media(audio: bytes, n: int = 0) -> dict:
    return {"event": "media", "sequenceNumber": str(n), "streamSid": STREAM,
            "media": {"track": "inbound", "chunk": str(n), "timestamp": str(n * 20), "payload": base64.b64encode(audio).decode()}}


async def open_stream(call, path=None):
    communicator = WebsocketCommunicator(APP, path or f"/media-stream/{call.pk}/")
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    return communicator


async def until_mark(communicator, *, echo=True, timeout=30) -> list[dict]:
    """Everything the server sends up to and including its next mark (echoed back, as Twilio does)."""
    received = []
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        received.append(message)
        assert message["streamSid"] == STREAM
        if message["event"] == "mark":
            if echo:
                await communicator.send_json_to({"event": "mark", "sequenceNumber": "9", "streamSid": message["streamSid"], "mark": message["mark"]})
            return received


async def say(communicator, text: str, trailing_silence_frames: int = 40, *, voice=synthesize_ulaw) -> None:
    for i, frame in enumerate(frames(voice(text)) + [SILENCE] * trailing_silence_frames):
        await communicator.send_json_to(media(frame, i))
        if i % 10 == 0:
            await asyncio.sleep(0)


async def close_code(communicator, timeout=10) -> int:
    output = await communicator.receive_output(timeout=timeout)
    assert output["type"] == "websocket.close"
    return output["code"]


async def test_a_whole_call_greets_answers_hangs_up_and_is_recorded(call, twilio):
    ended = twilio.expect(call.call_sid)
    c = await open_stream(call)
    await c.send_json_to(start_message(call))
    greeting = await until_mark(c) + await until_mark(c)  # two sentences, a mark after each
    audio = [m for m in greeting if m["event"] == "media"]
    sizes = [len(base64.b64decode(m["media"]["payload"])) for m in audio]
    assert sum(sizes) > 16000 and all(size % FRAME_BYTES == 0 and size <= 5 * FRAME_BYTES for size in sizes)  # whole 20 ms frames
    assert [m["mark"]["name"] for m in greeting if m["event"] == "mark"] == ["reply-1", "reply-2"]

    await say(c, "No, that's all. Thank you, bye.")
    goodbye = await until_mark(c)
    assert any(m["event"] == "media" for m in goodbye)
    await asyncio.wait_for(ended.wait(), 10)  # the hang-up goes to Twilio's REST API once the goodbye has played
    assert twilio.calls == {call.call_sid: {"Status": "completed"}}
    await c.send_json_to({"event": "stop", "sequenceNumber": "99", "streamSid": STREAM, "stop": {"callSid": call.call_sid}})
    assert await close_code(c) == 1000

    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    assert record.ended_at is not None and record.status == "completed" and record.outcome == "answered"
    turns = await database_sync_to_async(list)(Turn.objects.filter(call=record).values_list("speaker", "text", "latency"))
    assert [s for s, _, _ in turns] == ["agent", "caller", "agent"]
    assert "bye" in turns[1][1]  # recognised offline from the synthesized speech
    assert turns[2][1] == "Thank you for calling Bright Smile Dental. Goodbye!"
    assert set(turns[2][2]) == {"end_of_turn_wait_ms", "turn_ended_by", "final_transcript_ms", "engine_first_sentence_ms", "first_audio_ms", "first_frame_sent_ms", "providers"}
    assert turns[2][2]["end_of_turn_wait_ms"] == 500
    assert turns[2][2]["providers"] == {"stt": "pocketsphinx", "engine": "rules", "tts": "espeak"}


async def test_barge_in_clears_and_keeps_what_was_heard_and_apart_what_was_cut_off(call, twilio):
    c = await open_stream(call)
    await c.send_json_to(start_message(call))
    await until_mark(c)  # the first sentence played and was heard
    assert (await c.receive_json_from(timeout=10))["event"] == "media"  # the second is playing...
    await say(c, "Can I speak to a real person please?", trailing_silence_frames=0)  # ...when the caller talks
    seen = []
    while "clear" not in seen:
        seen.append((await c.receive_json_from(timeout=10))["event"])
    await c.send_json_to({"event": "stop", "sequenceNumber": "99", "streamSid": STREAM, "stop": {}})
    await close_code(c)
    turns = await database_sync_to_async(list)(
        Turn.objects.filter(call=call, speaker="agent").values_list("text", "unheard", "latency"))
    text, unheard, latency = turns[0]
    assert text == "Thank you for calling Bright Smile Dental. This is the virtual receptionist."
    assert unheard == "How can I help you today?"  # the sentence the caller talked over
    assert latency == {"interrupted": True, "providers": {"engine": "rules", "tts": "espeak"}}


async def test_keypad_zero_transfers_through_twilio(call, twilio):
    transferred = twilio.expect(call.call_sid)
    c = await open_stream(call)
    await c.send_json_to(start_message(call))
    await until_mark(c)
    await until_mark(c)
    await c.send_json_to({"event": "dtmf", "sequenceNumber": "5", "streamSid": STREAM, "dtmf": {"track": "inbound_track", "digit": "0"}})
    await until_mark(c)  # "Of course. ...", then the transfer once it has played
    await asyncio.wait_for(transferred.wait(), 10)
    assert "<Dial>+15551119999</Dial>" in twilio.calls[call.call_sid]["Twiml"]
    await c.disconnect()
    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    assert record.outcome == "transferred" and record.transferred_to == "+15551119999"


async def test_junk_before_and_during_the_stream_is_ignored(call, twilio):
    c = await open_stream(call)
    await c.send_json_to(media(SILENCE))  # media before start
    await c.send_to(text_data="{not json")
    await c.send_json_to({"event": "no-such-event"})
    await c.send_json_to(["a", "list"])
    await c.send_to(bytes_data=b"\x00\x01")
    await c.send_json_to(start_message(call))
    await c.send_json_to({"event": "media", "streamSid": STREAM, "media": {"payload": "***not base64***"}})
    await c.send_json_to({"event": "media", "streamSid": STREAM})
    await c.send_json_to({"event": "mark", "streamSid": STREAM, "mark": {"name": "never-sent"}})
    messages = await until_mark(c)  # the call carries on: the greeting still arrives
    assert messages[-1]["mark"]["name"] == "reply-1"
    await c.disconnect()


@pytest.mark.parametrize("problem,code", [("token", 4401), ("call", 4404), ("second_start", 4409), ("too_large", 4413), ("ended", 4410)])
async def test_bad_streams_are_closed_with_a_specific_code(call, twilio, problem, code):
    if problem == "call":
        c = await open_stream(call, "/media-stream/999999/")
        message = start_message(call, token=stream_token_issue(call_id=999999, call_sid=call.call_sid, issued_at=call.started_at))
    else:
        c = await open_stream(call)
        message = start_message(call, token="forged" if problem == "token" else None)
    if problem == "ended":
        await database_sync_to_async(Call.objects.filter(pk=call.pk).update)(ended_at="2026-11-30T09:00:00Z")
    if problem == "too_large":
        await c.send_json_to(start_message(call))
        await c.send_to(text_data=json.dumps(media(b"\xff" * 60_000)))
    else:
        await c.send_json_to(message)
    if problem == "second_start":
        await c.send_json_to(message)
    while True:
        output = await c.receive_output(timeout=15)
        if output["type"] == "websocket.close":
            assert output["code"] == code
            break
    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    if problem in {"second_start", "too_large"}:
        assert record.ended_at is not None and record.status == "completed"


async def test_a_caller_who_vanishes_mid_reply_leaves_a_finished_call(call, twilio):
    from voice.phone import metrics

    before = metrics.ACTIVE_CALLS._value.get()
    c = await open_stream(call)
    await c.send_json_to(start_message(call))
    for _ in range(5):
        assert (await c.receive_json_from(timeout=10))["event"] == "media"
    await c.disconnect()
    for _ in range(50):
        if metrics.ACTIVE_CALLS._value.get() == before:
            break
        await asyncio.sleep(0.1)
    assert metrics.ACTIVE_CALLS._value.get() == before  # nothing of the call left running
    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    assert record.ended_at is not None and record.outcome == "abandoned"


async def test_a_call_takes_one_stream_and_refuses_a_second(call, twilio):
    first = await open_stream(call)
    await first.send_json_to(start_message(call))
    await until_mark(first)  # the first stream's call is under way
    second = await open_stream(call)
    await second.send_json_to(start_message(call))  # the same token, a second socket
    assert await close_code(second) == 4423
    await until_mark(first)  # the first carries on
    await first.send_json_to({"event": "stop", "sequenceNumber": "99", "streamSid": STREAM, "stop": {}})
    await close_code(first)
    texts = await database_sync_to_async(list)(Turn.objects.filter(call=call, speaker="agent").values_list("text", flat=True))
    assert sum("Thank you for calling" in text for text in texts) == 1


async def test_a_socket_that_never_starts_is_closed(call, twilio, settings):
    settings.VOICE_STREAM_START_SECONDS = 0.5
    silent = await open_stream(call)  # sends `connected`, then nothing
    assert await close_code(silent, timeout=5) == 4408
    junk = await open_stream(call)
    await junk.send_json_to(media(SILENCE))
    await junk.send_json_to(start_message(call, token="forged-token"))  # a refused start starts nothing
    assert await close_code(junk, timeout=5) == 4401


async def test_media_for_another_stream_is_refused(call, twilio):
    c = await open_stream(call)
    await c.send_json_to(start_message(call))
    await until_mark(c)
    foreign = media(SILENCE)
    foreign["streamSid"] = "MZ" + "8" * 32
    await c.send_json_to(foreign)
    while True:
        output = await c.receive_output(timeout=15)
        if output["type"] == "websocket.close":
            assert output["code"] == 4421
            break
    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    assert record.ended_at is not None


@pytest.mark.parametrize("media_format", [
    {"encoding": "audio/l16", "sampleRate": 16000, "channels": 1},
    {"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1},
    None,
])
async def test_a_stream_in_another_audio_format_is_refused(call, twilio, media_format):
    c = await open_stream(call)
    message = start_message(call)
    if media_format is None:
        del message["start"]["mediaFormat"]
    else:
        message["start"]["mediaFormat"] = media_format
    await c.send_json_to(message)
    assert await close_code(c) == 4415
    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    assert record.stream_sid == "" and record.ended_at is None  # nothing started; the real stream may still come


@pytest.mark.parametrize("fault", [Reply(status=503), Reply(drop_after=4 * CHUNK)], ids=["refused", "cut mid-sentence"])
async def test_a_call_whose_cloud_voice_fails_keeps_talking_in_the_fallback_voice_and_says_so(call, settings, fault):
    with FakeElevenLabs() as voice:
        settings.ELEVENLABS_API_KEY, settings.ELEVENLABS_VOICE_ID = "xi-test-key", "joe-voice"
        settings.ELEVENLABS_BASE_URL = voice.base_url
        settings.TTS_PROVIDER = "voice.phone.tts.elevenlabs.ElevenLabsTTS"
        settings.TTS_FALLBACK_PROVIDER = "voice.phone.tts.espeak.EspeakTTS"
        voice.script(Reply(), fault)  # the greeting's first sentence is spoken, its second fails
        c = await open_stream(call)
        await c.send_json_to(start_message(call))
        greeting = await until_mark(c) + await until_mark(c)
        spoken = sum(len(base64.b64decode(m["media"]["payload"])) for m in greeting if m["event"] == "media")
        assert spoken > len(voice.sent[0]) + 8000  # the first sentence from ElevenLabs, then a second of espeak-ng
        await say(c, "What are your hours on Friday?")
        answer = await until_mark(c)
        assert any(m["event"] == "media" for m in answer)
        assert len(voice.requests) == 2  # the rest of the call is the fallback's
        await c.send_json_to({"event": "stop", "sequenceNumber": "99", "streamSid": STREAM, "stop": {"callSid": call.call_sid}})
        await close_code(c)
    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    assert record.fallbacks == ["tts"]
    latencies = await database_sync_to_async(list)(Turn.objects.filter(call=record, speaker="agent").values_list("latency", flat=True))
    assert latencies[-1]["providers"]["tts"] == "espeak" and latencies[-1]["fallbacks"] == ["tts"]


@pytest.mark.parametrize("fault", ["refused", "dropped mid-turn"])
async def test_a_call_whose_cloud_recogniser_fails_is_heard_offline_and_says_so(call, settings, fault):
    with FakeDeepgram() as recogniser:
        settings.DEEPGRAM_API_KEY, settings.DEEPGRAM_URL = "dg-test-key", recogniser.url
        settings.STT_PROVIDER = "voice.phone.stt.deepgram.DeepgramSTT"
        settings.STT_FALLBACK_PROVIDER = "voice.phone.stt.pocketsphinx_workers.PocketsphinxWorkerSTT"
        recogniser.script("Nothing the fake is allowed to say.")
        if fault == "refused":
            recogniser.refuse = 503
        else:
            recogniser.drop_after = 8000  # a second into the caller's question
        c = await open_stream(call)
        await c.send_json_to(start_message(call))
        await until_mark(c) + await until_mark(c)
        # In Piper's voice: espeak-ng's varies from run to run, and pocketsphinx sometimes mishears it.
        await say(c, "What time are you open until on Friday?", voice=piper_tts.synthesize_ulaw)
        answer = await until_mark(c)
        assert any(m["event"] == "media" for m in answer)
        await c.send_json_to({"event": "stop", "sequenceNumber": "99", "streamSid": STREAM, "stop": {"callSid": call.call_sid}})
        await close_code(c)
    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    assert record.fallbacks == ["stt"]
    answer = await database_sync_to_async(lambda: Turn.objects.filter(call=record, speaker="agent").last().latency)()
    assert answer["providers"]["stt"] == "pocketsphinx" and answer["fallbacks"] == ["stt"]
    turns = await database_sync_to_async(list)(Turn.objects.filter(call=record).values_list("speaker", "text"))
    assert "friday" in turns[1][1]  # heard offline, from the start of the question
    assert "Friday" in turns[2][1] and "Nothing" not in turns[1][1]


async def whole_reply(communicator, quiet: float = 1.5) -> list[dict]:
    """Everything the agent says in one reply: its sentences and their marks, until it goes quiet."""
    received = await until_mark(communicator)
    while not await communicator.receive_nothing(timeout=quiet):  # a timed-out receive would stop the app
        message = await communicator.receive_json_from()
        received.append(message)
        if message["event"] == "mark":
            await communicator.send_json_to({"event": "mark", "sequenceNumber": "9", "streamSid": STREAM, "mark": message["mark"]})


async def test_with_deepgram_and_elevenlabs_a_caller_books_by_phone(call, twilio, settings):
    lines = ["I'd like to book a teeth cleaning.", "Tuesday at ten a m.", "April twelfth nineteen eighty.",
             "Yes please.", "No, that's all. Thank you, bye."]
    with FakeDeepgram() as recogniser, FakeElevenLabs() as voice:
        settings.DEEPGRAM_API_KEY, settings.DEEPGRAM_URL = "dg-test-key", recogniser.url
        settings.ELEVENLABS_API_KEY, settings.ELEVENLABS_VOICE_ID = "xi-test-key", "joe-voice"
        settings.ELEVENLABS_BASE_URL = voice.base_url
        settings.STT_PROVIDER = "voice.phone.stt.deepgram.DeepgramSTT"
        settings.TTS_PROVIDER = "voice.phone.tts.elevenlabs.ElevenLabsTTS"
        # The practice chose its own voice in the admin; the server's default is another.
        await database_sync_to_async(Tenant.objects.filter(pk=call.tenant_id).update)(voice_id="practiceVoice1")
        recogniser.script(*lines)
        ended = twilio.expect(call.call_sid)
        c = await open_stream(call)
        await c.send_json_to(start_message(call))
        await whole_reply(c)
        assert len(recogniser.connections) == 1  # connected while the greeting played, before the caller spoke
        for line in lines:
            await say(c, line)
            await whole_reply(c)
        await asyncio.wait_for(ended.wait(), 10)
        await c.send_json_to({"event": "stop", "sequenceNumber": "99", "streamSid": STREAM, "stop": {"callSid": call.call_sid}})
        await close_code(c)
    record = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    turns = await database_sync_to_async(list)(Turn.objects.filter(call=record).values_list("speaker", "text"))
    assert [text for speaker, text in turns if speaker == "caller"] == lines  # Deepgram's words, as it gave them
    booked = await database_sync_to_async(lambda: [
        (a.patient.full_name, a.appointment_type.key, a.start.isoformat())
        for a in Appointment.objects.filter(tenant=record.tenant, status="booked", start__date="2026-12-01")
    ])()
    assert ("Maria Garcia", "cleaning", "2026-12-01T15:00:00+00:00") in booked
    assert record.outcome == "booked" and record.fallbacks == []
    # One connection. Each turn ends at the first of the silence and Deepgram's endpointing; only the silence's
    # need a Finalize.
    ended_by = await database_sync_to_async(lambda: [
        turn.latency["turn_ended_by"] for turn in Turn.objects.filter(call=record, speaker="agent")
        if "turn_ended_by" in turn.latency])()
    assert len(ended_by) == len(lines) and set(ended_by) <= {"silence", "speech_final"}
    assert [c.controls.count("Finalize") for c in recogniser.connections] == [ended_by.count("silence")]
    agent = [text for speaker, text in turns if speaker == "agent"]
    spoken = [request.body["text"] for request in voice.requests]
    assert {request.voice_id for request in voice.requests} == {"practiceVoice1"}
    assert len(spoken) >= len(agent) and all(any(sentence in text for text in agent) for sentence in spoken)


@pytest.fixture
def browser_call(twilio):
    call_command("seed_demo", stdout=io.StringIO())
    tenant = Tenant.objects.get(slug="demo")
    return browser_call_start(tenant=tenant, actor=Actor.system("test"), caller_number="+15551110001")


async def test_a_test_call_from_the_browser_hangs_up_by_ending_its_stream(browser_call, twilio):
    c = await open_stream(browser_call)
    await c.send_json_to(start_message(browser_call))
    await until_mark(c)
    await until_mark(c)
    await say(c, "No, that's all. Thank you, bye.")
    await until_mark(c)  # the goodbye has played: there is no phone call to hang up, the stream ends instead
    assert await close_code(c) == 1000
    await c.disconnect()  # what the server tells the consumer once the socket has closed
    assert twilio.calls == {}
    record = await database_sync_to_async(Call.objects.get)(pk=browser_call.pk)
    assert record.is_test and record.ended_at is not None and record.outcome == "answered"


async def test_a_test_call_from_the_browser_transferred_ends_its_stream_saying_so(browser_call, twilio):
    c = await open_stream(browser_call)
    await c.send_json_to(start_message(browser_call))
    await until_mark(c)
    await until_mark(c)
    await c.send_json_to({"event": "dtmf", "sequenceNumber": "5", "streamSid": STREAM, "dtmf": {"track": "inbound_track", "digit": "0"}})
    await until_mark(c)
    assert await close_code(c) == CLOSE_TRANSFERRED
    await c.disconnect()
    assert twilio.calls == {}
    record = await database_sync_to_async(Call.objects.get)(pk=browser_call.pk)
    assert record.outcome == "transferred" and record.ended_at is not None
