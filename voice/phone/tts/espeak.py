"""Offline text-to-speech: espeak-ng from the espeakng-loader wheel (no apt, no network), through ctypes.

espeak-ng synthesises a sentence in a few milliseconds; it is not thread-safe,
so one lock guards the engine, and synthesis runs in a thread of its own (ctypes
releases the GIL while espeak runs) so the event loop keeps serving other calls.
"""

import asyncio
import concurrent.futures
import ctypes
import functools
import threading
from collections.abc import AsyncIterator

import espeakng_loader

from voice.phone.audio import SAMPLE_RATE, pcm_to_ulaw, resample
from voice.phone.tts.base import TextToSpeech

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Espeak:
    """The one espeak-ng engine of the process (the library keeps global state)."""

    def __init__(self):
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
        )
        if self.rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self._chunks: list[bytes] = []
        self.lock = threading.Lock()
        self._callback = _CALLBACK(self._collect)  # kept referenced: espeak calls it later
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, samples, events):
        if samples > 0:
            self._chunks.append(ctypes.string_at(wav, samples * 2))
        return 0

    def pcm(self, text: str, voice: str, words_per_minute: int) -> bytes:
        """16-bit PCM at self.rate for one sentence."""
        data = text.encode("utf-8")
        with self.lock:
            self.lib.espeak_SetVoiceByName(voice.encode())
            self.lib.espeak_SetParameter(_RATE, words_per_minute, 0)
            self._chunks = []
            self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            return b"".join(self._chunks)


# One thread for every call's sentences: espeak speaks one at a time anyway (its lock), and each
# thread of a growing pool would keep a malloc arena of its own after a burst of calls.
_SYNTHESIS = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="espeak")
_ENGINE: _Espeak | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Espeak:
    global _ENGINE
    with _ENGINE_LOCK:  # calls start in several threads at once; espeak must be initialised once
        if _ENGINE is None:
            _ENGINE = _Espeak()
        return _ENGINE


def synthesize_ulaw(text: str, *, voice: str = "en-us", words_per_minute: int = 165) -> bytes:
    """The whole sentence as 8 kHz mu-law (synchronous; also used by the call simulator)."""
    engine = _engine()
    pcm8, _ = resample(engine.pcm(text, voice, words_per_minute), engine.rate, SAMPLE_RATE)
    return pcm_to_ulaw(pcm8)


class EspeakTTS(TextToSpeech):
    name = "espeak"

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 165):
        self.voice = voice
        self.words_per_minute = words_per_minute

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        job = functools.partial(synthesize_ulaw, text, voice=self.voice, words_per_minute=self.words_per_minute)
        yield await asyncio.get_running_loop().run_in_executor(_SYNTHESIS, job)
