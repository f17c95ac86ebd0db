"""A call whose recogniser fails keeps being heard: the fallback takes over, with the whole turn in progress."""

import asyncio

import pytest
from prometheus_client import REGISTRY

from voice.conversation.vocabulary import vocabulary_for
from voice.phone.audio import frames
from voice.phone.stt.base import FallbackSTT, SpeechToText, Transcript, stt_build
from voice.phone.stt.deepgram import DeepgramSTT
from voice.phone.tts.espeak import synthesize_ulaw

VOCABULARY = vocabulary_for(practice="Bright Smile Dental", types=[("Cleaning", [])], providers=[], insurers=[])


class Listening(SpeechToText):
    """A fallback that notes how much 16 kHz PCM it was given for each turn."""

    def __init__(self, *, vocabulary):
        self.turns: list[int] = []

    async def begin(self) -> None:
        self.turns.append(0)

    async def feed(self, audio: bytes) -> str | None:
        self.turns[-1] += len(audio)
        return None

    async def finish(self) -> Transcript:
        return Transcript(f"heard {self.turns[-1]} bytes")


@pytest.fixture
def fake(deepgram, settings):
    settings.STT_PROVIDER = "voice.phone.stt.deepgram.DeepgramSTT"
    settings.STT_FALLBACK_PROVIDER = "tests.voice.phone.stt.test_base.Listening"
    return deepgram


def fallbacks() -> float:
    return REGISTRY.get_sample_value("receptionist_provider_fallbacks_total", {"provider": "stt"}) or 0


async def turns(stt, *lines: str) -> list[Transcript]:
    heard = []
    for line in lines:
        await stt.begin()
        for frame in frames(synthesize_ulaw(line)):
            await stt.feed(frame)
            await asyncio.sleep(0.001)
        heard.append(await stt.finish())
    await stt.close()
    return heard


@pytest.mark.parametrize("fault", ["refused", "dropped mid-turn", "no final words in time"])
def test_a_failing_recogniser_hands_the_whole_turn_and_the_rest_of_the_call_to_the_fallback(fake, fault):
    fake.script("I'd like a cleaning.", "Yes, please.")
    if fault == "refused":
        fake.refuse = 503
    elif fault == "dropped mid-turn":
        fake.drop_after = 6000
    else:
        fake.final_delay = 2
    switched, before = [], fallbacks()
    stt = stt_build(vocabulary=VOCABULARY, on_switch=lambda: switched.append(True))
    assert isinstance(stt, FallbackSTT)
    first, second = asyncio.run(turns(stt, "I'd like a cleaning.", "Yes, please."))
    spoken = len(synthesize_ulaw("I'd like a cleaning."))
    heard = int(first.text.split()[1])
    assert abs(heard - 4 * spoken) < 4 * 800  # the whole first turn from its start, as 16 kHz PCM
    assert second.text.startswith("heard ") and stt.fallback.turns[-1] > 0  # and the next turn
    assert switched == [True] and fallbacks() == before + 1
    assert len(fake.connections) == (0 if fault == "refused" else 1)  # Deepgram is not asked again


def test_a_working_recogniser_hears_every_turn_and_the_fallback_none(fake):
    fake.script("I'd like a cleaning.", "Yes, please.")
    stt = stt_build(vocabulary=VOCABULARY)
    heard = asyncio.run(turns(stt, "I'd like a cleaning.", "Yes, please."))
    assert [t.text for t in heard] == ["I'd like a cleaning.", "Yes, please."]
    assert stt.fallback.turns == [] and not stt.switched


def test_no_fallback_when_none_is_set(fake, settings):
    settings.STT_FALLBACK_PROVIDER = ""
    assert isinstance(stt_build(vocabulary=VOCABULARY), DeepgramSTT)


def test_while_the_cloud_recogniser_works_the_offline_fallback_holds_no_decoder(fake, settings):
    settings.STT_FALLBACK_PROVIDER = "voice.phone.stt.pocketsphinx.PocketsphinxSTT"
    fake.script("I'd like a cleaning.")

    async def call():
        stt = stt_build(vocabulary=VOCABULARY)
        await stt.connect()
        heard = await turns(stt, "I'd like a cleaning.")
        return stt, heard

    stt, heard = asyncio.run(call())
    assert [t.text for t in heard] == ["I'd like a cleaning."] and not hasattr(stt.fallback, "recogniser")
