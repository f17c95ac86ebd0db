"""pocketsphinx's voice activity detector, chosen as the default provider, and the C memory it gives back."""

import ctypes
import gc

import pytest

from voice.phone.audio import FRAME_MS, frames, silence_ulaw, ulaw_to_pcm
from voice.phone.vad.base import vad_class
from voice.phone.vad.pocketsphinx import PocketsphinxVAD


def test_it_is_the_provider_unless_another_is_configured(settings):
    assert vad_class() is PocketsphinxVAD
    settings.VAD_PROVIDER = "tests.voice.phone.fakes.LoudnessVAD"
    assert vad_class().__name__ == "LoudnessVAD"


def test_speech_is_speech_and_silence_is_not(spoken_request):
    vad = PocketsphinxVAD()
    assert not any(vad.is_speech(ulaw_to_pcm(silence_ulaw(FRAME_MS))) for _ in range(50))
    decisions = [vad.is_speech(ulaw_to_pcm(frame)) for frame in frames(spoken_request)]
    assert sum(decisions) > len(decisions) / 2


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _c_bytes_in_use() -> int:
    mallinfo2 = getattr(ctypes.CDLL(None), "mallinfo2", None)
    if mallinfo2 is None:
        pytest.skip("needs glibc 2.33's mallinfo2")
    mallinfo2.restype = _MallInfo2
    return mallinfo2().uordblks


def test_detectors_free_their_c_state(spoken_request):
    """A call's detector is gone with the call (the cause `benchmarks/stream_burst.py` found: pocketsphinx's Endpointer)."""
    audio = [ulaw_to_pcm(frame) for frame in frames(spoken_request)[:100]]

    def calls(n: int) -> None:
        for _ in range(n):
            vad = PocketsphinxVAD()
            for pcm in audio:
                vad.is_speech(pcm)

    calls(5)
    gc.collect()
    before = _c_bytes_in_use()
    calls(200)
    gc.collect()
    assert _c_bytes_in_use() - before < 200 * 1024  # pocketsphinx's Endpointer kept 17 KB each: 3.4 MB
