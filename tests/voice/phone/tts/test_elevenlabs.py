"""ElevenLabs streaming speech through the official SDK, against a protocol-faithful fake on 127.0.0.1."""

import asyncio

import pytest

from tests.fakes.elevenlabs_api import CHUNK, FakeElevenLabs, Reply
from voice.phone.tts.elevenlabs import ElevenLabsTTS

SENTENCE = "Thank you for calling Bright Smile Dental."


@pytest.fixture
def fake(settings):
    with FakeElevenLabs() as api:
        settings.ELEVENLABS_API_KEY = "xi-test-key"
        settings.ELEVENLABS_VOICE_ID = "joe-voice"
        settings.ELEVENLABS_MODEL = "eleven_flash_v2_5"
        settings.ELEVENLABS_BASE_URL = api.base_url
        yield api


async def pieces(text: str) -> list[bytes]:
    return [chunk async for chunk in ElevenLabsTTS().synthesize(text)]


def test_a_sentence_streams_as_twilios_mu_law_in_pieces_as_they_arrive(fake):
    received = asyncio.run(pieces(SENTENCE))
    assert b"".join(received) == fake.sent[0]  # the bytes as sent: no transcoding
    assert len(received) > 1  # yielded as it arrives, not after the whole sentence
    request = fake.requests[0]
    assert (request.voice_id, request.api_key, request.query["output_format"]) == ("joe-voice", "xi-test-key", "ulaw_8000")
    assert request.body["text"] == SENTENCE and request.body["model_id"] == "eleven_flash_v2_5"


@pytest.mark.parametrize("reply", [Reply(status=401), Reply(status=429), Reply(status=503), Reply(drop_after=2 * CHUNK)],
                         ids=["401", "429", "503", "dropped mid-stream"])
def test_a_refusal_or_a_cut_stream_is_an_error_not_silence(fake, reply):
    fake.script(reply)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own error types differ by fault
        asyncio.run(pieces(SENTENCE))
    assert len(fake.requests) == 1  # no retry: the fallback voice is faster
