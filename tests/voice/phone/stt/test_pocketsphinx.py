"""Offline recognition, in the event loop and in worker processes, on telephone-quality synthetic speech."""

import asyncio
import gc
from pathlib import Path

import pytest

from voice.conversation.vocabulary import vocabulary_for
from voice.phone.audio import FRAME_MS, SAMPLE_RATE, resample, ulaw_to_pcm
from voice.phone.stt import pocketsphinx_workers
from voice.phone.stt.base import Transcript
from voice.phone.stt.pocketsphinx import DECODER_RATE, PocketsphinxSTT
from voice.phone.stt.pocketsphinx_workers import PocketsphinxWorkerSTT
from voice.phone.tts.espeak import synthesize_ulaw

VOCABULARY = vocabulary_for(
    practice="Bright Smile Dental",
    types=[("Cleaning", ["hygiene", "teeth cleaning"]), ("Exam", ["checkup"])],
    providers=["Dr. Maya Patel", "Lisa Chen"],
    insurers=["Cigna", "Medicaid"],
)


def speech(text: str) -> bytes:
    pcm, _ = resample(ulaw_to_pcm(synthesize_ulaw(text)), SAMPLE_RATE, DECODER_RATE)
    return pcm


async def recognise(stt, pcm: bytes, expectation: str) -> tuple[Transcript, list[str]]:
    stt.listen_for(expectation)
    await stt.begin()
    partials = []
    frame = DECODER_RATE * 2 * FRAME_MS // 1000  # 20 ms at a time, as the phone delivers it
    for i in range(0, len(pcm), frame):
        partial = await stt.feed(pcm[i : i + frame])
        if partial:
            partials.append(partial)
    return await stt.finish(), partials


def test_narrow_answers_are_recognised_the_same_in_the_loop_and_in_workers():
    # One recording for both: espeak-ng's output varies slightly from one synthesis to the next.
    yes_audio, birthday_audio = speech("Yes please."), speech("April twelfth, nineteen eighty.")

    async def scenario(provider):
        stt = provider(vocabulary=VOCABULARY)
        try:
            yes = await recognise(stt, yes_audio, "yes_no")
            birthday = await recognise(stt, birthday_audio, "dob")
        finally:
            await stt.close()
        return yes, birthday

    in_loop = asyncio.run(scenario(PocketsphinxSTT))
    in_workers = asyncio.run(scenario(PocketsphinxWorkerSTT))
    # The same decoder, wherever it runs; a worker's call does not wait long for partial transcripts, so it may
    # skip some of them (it is given the latest one decoded), never show others.
    assert [heard for heard, _ in in_loop] == [heard for heard, _ in in_workers]
    for (_, loop_partials), (_, worker_partials) in zip(in_loop, in_workers):
        remaining = iter(loop_partials)
        assert all(partial in remaining for partial in worker_partials)
    (yes, yes_partials), (birthday, _) = in_workers
    assert yes == Transcript("yes please") and yes_partials  # recognised while the caller was still talking
    assert birthday.confident and birthday.text.startswith("april twelfth")  # espeak's "nineteen" is often lost


def _rss_kb(pid: int) -> int:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))


def _settle(workers) -> None:
    """Closes still queued (from collected recognisers) reach the workers before anything is measured."""
    gc.collect()
    for worker in workers:
        worker.submit(0, "close", ()).result(timeout=30)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
async def test_workers_give_back_decoders_closed_or_abandoned():
    """A call's decoder is gone with the call (one of the causes `benchmarks/stream_burst.py` found)."""
    workers = pocketsphinx_workers._workers()
    warm = [PocketsphinxWorkerSTT(vocabulary=VOCABULARY) for _ in workers]
    for stt in warm:
        await stt.connect()  # as a call does when it starts
        await stt.close()
    _settle(workers)
    before = {w.process.pid: _rss_kb(w.process.pid) for w in workers}

    streams = [PocketsphinxWorkerSTT(vocabulary=VOCABULARY) for _ in range(4 * len(workers))]
    for stt in streams:
        await stt.connect()
    during = {pid: _rss_kb(pid) for pid in before}
    for stt in streams[::2]:
        await stt.close()
    del stt, streams  # the others never call close(), as when daphne cancels a call's handler
    _settle(workers)

    for pid, kb in before.items():
        assert during[pid] > kb + 20_000  # each worker held two or more decoders of some 13 MB
        assert _rss_kb(pid) < kb * 1.10


def test_the_decoder_is_made_when_the_call_starts_or_at_its_first_turn_not_before():
    async def call():
        waiting, started = PocketsphinxSTT(vocabulary=VOCABULARY), PocketsphinxSTT(vocabulary=VOCABULARY)
        assert not hasattr(waiting, "recogniser")  # a fallback that is never needed makes no decoder
        await started.connect()
        assert started.recogniser is not None
        heard, _ = await recognise(waiting, speech("yes please"), "yes_no")  # the first turn makes it
        return heard

    assert asyncio.run(call()).text == "yes please"


def test_a_recogniser_built_as_a_fallback_starts_no_worker_processes_until_a_call_uses_it():
    """A server on the cloud recogniser builds this one behind it for every call; idle, it must cost no processes."""
    import subprocess
    import sys

    from tests import ROOT

    script = (
        "import multiprocessing\n"
        "from voice.conversation.vocabulary import vocabulary_for\n"
        "from voice.phone.stt.pocketsphinx_workers import PocketsphinxWorkerSTT\n"
        "stt = PocketsphinxWorkerSTT(vocabulary=vocabulary_for(practice='P', types=[], providers=[], insurers=[]))\n"
        "print(len(multiprocessing.active_children()))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["0"], result.stderr[-2000:]
