"""What a call allocates is given back when it ends: the turn detector's C state, the worker's decoder.

The whole-server figure (a burst of a few hundred streams through daphne) is
`benchmarks/stream_burst.py`; these pin down the two causes it found.
"""

import ctypes
import gc
from pathlib import Path

import pocketsphinx
import pytest

from voice.phone.audio import frames, ulaw_to_pcm
from voice.phone.pipeline import TurnDetector
from voice.phone.stt import pocketsphinx_workers
from voice.phone.stt.pocketsphinx_workers import PocketsphinxWorkerSTT
from voice.phone.tts.espeak import synthesize_ulaw
from voice.conversation.vocabulary import vocabulary_for

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")

VOCABULARY = vocabulary_for(practice="Bright Smile Dental", types=[("Cleaning", ["hygiene"])],
                            providers=["Dr. Maya Patel"], insurers=["Cigna"])


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _c_bytes_in_use() -> int:
    mallinfo2 = getattr(ctypes.CDLL(None), "mallinfo2", None)
    if mallinfo2 is None:
        pytest.skip("needs glibc 2.33's mallinfo2")
    mallinfo2.restype = _MallInfo2
    return mallinfo2().uordblks


def _rss_kb(pid: int) -> int:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))


def _caller_audio() -> list[bytes]:
    audio = b"\xff" * 8000 + synthesize_ulaw("I'd like to book a teeth cleaning, on Monday.") + b"\xff" * 16000
    return [ulaw_to_pcm(frame) for frame in frames(audio)]


def test_turn_detector_decides_on_the_same_frames_as_pocketsphinx_endpointer():
    audio = _caller_audio() * 3
    for end_of_turn_ms in (200, 500, 700):
        endpointer = pocketsphinx.Endpointer(window=end_of_turn_ms / 1000, ratio=0.9, vad_mode=pocketsphinx.Vad.LOOSE,
                                             sample_rate=8000, frame_length=0.02)
        detector = TurnDetector(end_of_turn_ms=end_of_turn_ms)
        theirs, ours = [], []
        for i, pcm in enumerate(audio):
            endpointer.process(pcm)
            theirs.append(endpointer.in_speech)
            detector.process(pcm, now=i * 0.02)
            ours.append(detector.speaking)
        assert ours == theirs and any(ours)


def test_turn_detectors_free_their_c_state():
    audio = _caller_audio()[:100]

    def calls(n: int) -> None:
        for _ in range(n):
            detector = TurnDetector(end_of_turn_ms=500)
            for i, pcm in enumerate(audio):
                detector.process(pcm, now=i * 0.02)

    calls(5)
    gc.collect()
    before = _c_bytes_in_use()
    calls(200)
    gc.collect()
    assert _c_bytes_in_use() - before < 200 * 1024  # pocketsphinx's Endpointer kept 17 KB each: 3.4 MB


def _settle(workers) -> None:
    """Closes still queued (from collected recognisers) reach the workers before anything is measured."""
    gc.collect()
    for worker in workers:
        worker.executor.submit(worker.call, 0, "close", ()).result(timeout=30)


async def test_workers_give_back_decoders_closed_or_abandoned():
    workers = pocketsphinx_workers._workers()
    warm = [PocketsphinxWorkerSTT(vocabulary=VOCABULARY) for _ in workers]
    for stt in warm:
        await stt.close()
    _settle(workers)
    before = {w.process.pid: _rss_kb(w.process.pid) for w in workers}

    streams = [PocketsphinxWorkerSTT(vocabulary=VOCABULARY) for _ in range(4 * len(workers))]
    during = {pid: _rss_kb(pid) for pid in before}
    for stt in streams[::2]:
        await stt.close()
    del stt, streams  # the others never call close(), as when daphne cancels a call's handler
    _settle(workers)

    for pid, kb in before.items():
        assert during[pid] > kb + 20_000  # each worker held two or more decoders of some 13 MB
        assert _rss_kb(pid) < kb * 1.10
