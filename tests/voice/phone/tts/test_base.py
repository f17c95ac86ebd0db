"""A call whose voice fails keeps talking: the fallback provider speaks, from the failed sentence on."""

import asyncio

import pytest
from prometheus_client import REGISTRY

from tests.fakes.elevenlabs_api import CHUNK, FakeElevenLabs, Reply
from voice.phone.tts.base import FallbackTTS, TextToSpeech, tts_build
from voice.phone.tts.elevenlabs import ElevenLabsTTS
from voice.phone.tts.espeak import EspeakTTS


class Tagged(TextToSpeech):
    """A fallback voice whose audio says which sentence it spoke."""

    async def synthesize(self, text: str):
        yield f"[{text}]".encode()


@pytest.fixture(params=["http", "websocket"])
def fake(request, settings):
    with FakeElevenLabs() as api:
        settings.ELEVENLABS_API_KEY = "xi-test-key"
        settings.ELEVENLABS_VOICE_ID = "joe-voice"
        settings.ELEVENLABS_BASE_URL = api.base_url
        settings.ELEVENLABS_TRANSPORT = request.param
        settings.TTS_PROVIDER = "voice.phone.tts.elevenlabs.ElevenLabsTTS"
        settings.TTS_FALLBACK_PROVIDER = "tests.voice.phone.tts.test_base.Tagged"
        yield api


def fallbacks() -> float:
    return REGISTRY.get_sample_value("receptionist_provider_fallbacks_total", {"provider": "tts"}) or 0


async def speak(tts, *sentences: str) -> list[bytes]:
    return [b"".join([chunk async for chunk in tts.synthesize(s)]) for s in sentences]


@pytest.mark.parametrize("fault", [Reply(status=500), Reply(status=401), Reply(delay=0.5)], ids=["500", "401", "slow"])
def test_a_fault_at_the_first_sentence_moves_the_call_to_the_fallback_voice(fake, settings, fault):
    settings.ELEVENLABS_TIMEOUT_SECONDS = 0.2
    fake.script(fault)
    switched, before = [], fallbacks()
    tts = tts_build(on_switch=lambda: switched.append(True))
    spoken = asyncio.run(speak(tts, "Hello.", "How can I help?"))
    assert spoken == [b"[Hello.]", b"[How can I help?]"]
    assert switched == [True] and fallbacks() == before + 1  # once a call, however many sentences follow
    assert len(fake.requests) == 1  # the failed provider is not asked again in this call


def test_a_stream_cut_mid_sentence_is_spoken_again_whole_by_the_fallback(fake):
    fake.script(Reply(), Reply(drop_after=6 * CHUNK))
    tts = tts_build()
    first, second = asyncio.run(speak(tts, "Hello.", "Your cleaning is booked for Tuesday."))
    assert first == fake.sent[0]  # from ElevenLabs
    whole = b"[Your cleaning is booked for Tuesday.]"
    arrived = second.removesuffix(whole)
    assert second.endswith(whole)  # the fallback speaks all of it, from the start,
    assert arrived and fake.sent[1].startswith(arrived) and len(arrived) <= 6 * CHUNK  # after what had arrived
    assert isinstance(tts, FallbackTTS) and tts.switched


def test_no_fallback_when_none_is_set_or_it_is_the_provider_itself(fake, settings):
    settings.TTS_FALLBACK_PROVIDER = ""
    assert isinstance(tts_build(), ElevenLabsTTS)
    settings.TTS_PROVIDER = settings.TTS_FALLBACK_PROVIDER = "voice.phone.tts.espeak.EspeakTTS"
    assert isinstance(tts_build(), EspeakTTS)
