"""ElevenLabs streaming speech, over the SDK's HTTP stream and over the stream-input websocket, against a
protocol-faithful fake on 127.0.0.1."""

import asyncio
import base64
import json

import pytest
from websockets.sync.client import connect

from tests.fakes.elevenlabs_api import CHUNK, FakeElevenLabs, Reply
from voice.checks import elevenlabs_settings
from tenants.voice import PracticeVoice
from voice.phone.tts.base import tts_build
from voice.phone.tts.elevenlabs import ElevenLabsTTS

SENTENCE = "Thank you for calling Bright Smile Dental."


@pytest.fixture(params=["http", "websocket"])
def fake(request, settings):
    with FakeElevenLabs() as api:
        settings.ELEVENLABS_API_KEY = "xi-test-key"
        settings.ELEVENLABS_VOICE_ID = "joe-voice"
        settings.ELEVENLABS_MODEL = "eleven_flash_v2_5"
        settings.ELEVENLABS_BASE_URL = api.base_url
        settings.ELEVENLABS_TRANSPORT = request.param
        yield api


async def pieces(text: str, tts=None) -> list[bytes]:
    return [chunk async for chunk in (tts or ElevenLabsTTS()).synthesize(text)]


def test_a_sentence_streams_as_twilios_mu_law_in_pieces_as_they_arrive(fake, settings):
    received = asyncio.run(pieces(SENTENCE))
    assert b"".join(received) == fake.sent[0]  # the bytes as sent: no transcoding
    assert len(received) > 1  # yielded as it arrives, not after the whole sentence
    request = fake.requests[0]
    assert request.transport == settings.ELEVENLABS_TRANSPORT
    assert (request.voice_id, request.api_key, request.query["output_format"]) == ("joe-voice", "xi-test-key", "ulaw_8000")
    if request.transport == "http":
        assert request.body == {"text": SENTENCE, "model_id": "eleven_flash_v2_5"}  # no voice_settings: the voice's own
    else:
        assert request.query["model_id"] == "eleven_flash_v2_5"
        # As documented: a space with the stream's settings, the text (flushed: it is a whole sentence), the end.
        assert request.messages == [{"text": " "}, {"text": SENTENCE + " ", "flush": True}, {"text": ""}]


def test_the_practices_voice_model_and_speed_replace_the_settings(fake, settings):
    settings.TTS_PROVIDER = "voice.phone.tts.elevenlabs.ElevenLabsTTS"
    settings.TTS_FALLBACK_PROVIDER = "voice.phone.tts.espeak.EspeakTTS"
    tts = tts_build(voice=PracticeVoice(voice_id="practiceVoice1", model="eleven_turbo_v2_5", speed=1.15))
    assert isinstance(tts.primary, ElevenLabsTTS)  # the fallback (espeak-ng) has a voice of its own
    asyncio.run(pieces(SENTENCE, tts))
    request = fake.requests[0]
    assert request.voice_id == "practiceVoice1"
    model = request.body["model_id"] if request.transport == "http" else request.query["model_id"]
    assert model == "eleven_turbo_v2_5"
    assert request.body["voice_settings"] == {"speed": 1.15}  # the body, or the socket's first message


def test_blank_parts_of_the_choice_keep_the_settings(fake, settings):
    settings.ELEVENLABS_SPEED = 0.9
    asyncio.run(pieces(SENTENCE, ElevenLabsTTS(voice=PracticeVoice(model="eleven_turbo_v2_5"))))
    request = fake.requests[0]
    assert request.voice_id == "joe-voice" and request.body["voice_settings"] == {"speed": 0.9}


@pytest.mark.parametrize("reply", [Reply(status=401), Reply(status=429), Reply(status=503), Reply(drop_after=2 * CHUNK)],
                         ids=["401", "429", "503", "dropped mid-stream"])
def test_a_refusal_or_a_cut_stream_is_an_error_not_silence(fake, reply):
    fake.script(reply)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's and websockets' own error types differ by fault
        asyncio.run(pieces(SENTENCE))
    assert len(fake.requests) == 1  # no retry: the fallback voice is faster


def test_a_slow_first_byte_is_an_error_after_the_timeout(fake, settings):
    settings.ELEVENLABS_TIMEOUT_SECONDS = 0.2
    fake.script(Reply(delay=0.5))
    with pytest.raises(Exception):  # noqa: B017 - httpx's ReadTimeout, or the socket's TimeoutError
        asyncio.run(pieces(SENTENCE))


def test_the_fake_socket_speaks_the_documented_protocol():
    """The websocket as a client without the provider sees it: base64 audio with alignment, then isFinal, then a
    normal close; a bad key, changed voice settings or silence end the socket with 1008 and a message saying why."""
    with FakeElevenLabs() as fake:
        talk_to(fake)


def talk_to(fake: FakeElevenLabs) -> None:
    url = fake.base_url.replace("http", "ws") + "/v1/text-to-speech/v1/stream-input?model_id=m&output_format=ulaw_8000"
    with connect(url) as socket:
        socket.send(json.dumps({"text": " ", "xi_api_key": "xi-test-key", "generation_config": {"chunk_length_schedule": [50]}}))
        socket.send(json.dumps({"text": "Hello there, this sentence is long enough to be spoken at fifty. "}))
        first = json.loads(socket.recv(timeout=5))  # spoken at 50 characters, before the end of input
        assert first["audio"] and first["isFinal"] is None and first["normalizedAlignment"]["chars"]
        socket.send(json.dumps({"text": ""}))
        answers = [first] + [json.loads(message) for message in socket]
    assert answers[-1]["isFinal"] is True and answers[-1]["audio"] is None
    assert b"".join(base64.b64decode(a["audio"]) for a in answers[:-1]) == fake.sent[-1]
    assert socket.close_code == 1000 and fake.requests[-1].api_key == "xi-test-key"

    with connect(url) as socket:  # no key in the header or the first message
        socket.send(json.dumps({"text": " "}))
        assert json.loads(socket.recv(timeout=5))["error"] == "invalid_api_key"
        with pytest.raises(Exception):  # noqa: B017 - ConnectionClosedError
            socket.recv(timeout=5)
    assert socket.close_code == 1008

    with connect(url, additional_headers={"xi-api-key": "xi-test-key"}) as socket:
        socket.send(json.dumps({"text": " ", "voice_settings": {"speed": 1.0}}))
        socket.send(json.dumps({"text": "Hello. ", "voice_settings": {"speed": 1.2}}))
        assert "voice_settings" in json.loads(socket.recv(timeout=5))["message"]
    assert socket.close_code == 1008

    with connect(url + "&inactivity_timeout=0.2", additional_headers={"xi-api-key": "xi-test-key"}) as socket:
        socket.send(json.dumps({"text": " "}))  # and then nothing
        assert json.loads(socket.recv(timeout=5))["error"] == "input_timeout_exceeded"
    assert socket.close_code == 1008


@pytest.mark.parametrize("name,value,error", [("ELEVENLABS_TRANSPORT", "grpc", "voice.E003"),
                                              ("ELEVENLABS_SPEED", 1.5, "voice.E004"),
                                              ("ELEVENLABS_SPEED", 0.5, "voice.E004")])
def test_a_setting_elevenlabs_would_refuse_stops_start_up(settings, name, value, error):
    assert elevenlabs_settings(None) == []
    setattr(settings, name, value)
    assert [e.id for e in elevenlabs_settings(None)] == [error]
