"""Each stage of the speech loop, fed frames: what comes out."""

import asyncio
import logging
from types import SimpleNamespace

import pocketsphinx
import pytest

from tests.voice.phone.fakes import LOUD, QUIET, LoudnessVAD, ScriptedSTT, ToneTTS
from voice.frames import AgentSentence, Audio, CallerText, EndOfTurn, Interrupt, Mark, SilenceTimeout
from voice.phone import metrics
from voice.phone.audio import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, frames, silence_ulaw, ulaw_to_pcm
from voice.phone.stages import IdleTimer, Player, Recognizer, Speaker, TurnDetector
from voice.phone.tts.espeak import EspeakTTS
from voice.phone.vad.pocketsphinx import PocketsphinxVAD


def detect(detector: TurnDetector, audio: list[bytes]) -> list[tuple[object, float]]:
    """Every frame out of the detector, with the time of the frame in that produced it."""
    return [(out, i * FRAME_MS / 1000) for i, frame in enumerate(audio)
            for out in detector.process(Audio(frame), now=i * FRAME_MS / 1000)]


def test_turn_detector_finds_the_callers_speech_and_the_end_of_their_turn(spoken_request):
    audio = frames(silence_ulaw(1000) + spoken_request + silence_ulaw(2000))
    seen = detect(TurnDetector(PocketsphinxVAD(), end_of_turn_ms=500), audio)
    kinds = [type(out) for out, _ in seen]
    assert kinds[0] is Interrupt and kinds[-1] is EndOfTurn and kinds.count(Interrupt) == 1
    assert set(kinds[1:-1]) == {Audio}
    (_, started), (end, ended) = seen[0], seen[-1]
    speech_end = 1 + len(spoken_request) / SAMPLE_RATE
    assert 1.0 <= started < 1.6
    assert speech_end + 0.3 <= ended <= speech_end + 1.0  # about the 500 ms window after the words stop
    assert end == EndOfTurn(at=ended, waited_ms=500)


def test_turn_detector_passes_on_a_window_of_audio_from_before_speech_was_decided():
    detector = TurnDetector(LoudnessVAD(), end_of_turn_ms=500)
    seen = detect(detector, [QUIET] * 10 + [LOUD] * 30 + [QUIET] * 40)
    first_audio = seen[1][0]
    assert first_audio.ulaw == QUIET * 7 + LOUD * 23  # the speech it took to decide, and what came just before
    speech = b"".join(out.ulaw for out, _ in seen if isinstance(out, Audio))
    assert speech.count(LOUD) == 30


def test_turn_detector_decides_on_the_same_frames_as_pocketsphinx_endpointer(spoken_request):
    audio = frames(silence_ulaw(1000) + spoken_request + silence_ulaw(2000)) * 3
    for end_of_turn_ms in (200, 500, 700):
        endpointer = pocketsphinx.Endpointer(window=end_of_turn_ms / 1000, ratio=0.9, vad_mode=pocketsphinx.Vad.LOOSE,
                                             sample_rate=SAMPLE_RATE, frame_length=FRAME_MS / 1000)
        detector = TurnDetector(PocketsphinxVAD(), end_of_turn_ms=end_of_turn_ms)
        theirs, ours = [], []
        for i, frame in enumerate(audio):
            endpointer.process(ulaw_to_pcm(frame))
            theirs.append(endpointer.in_speech)
            detector.process(Audio(frame), now=i * FRAME_MS / 1000)
            ours.append(detector.speaking)
        assert ours == theirs and any(ours)


def test_turn_detector_refuses_a_window_too_short_to_find_turns_in():
    with pytest.raises(ValueError):
        TurnDetector(LoudnessVAD(), end_of_turn_ms=60)


async def test_recognizer_begins_at_the_interrupt_feeds_speech_and_gives_the_words_at_the_end():
    stt = ScriptedSTT("  book a cleaning ")
    recognizer = Recognizer(stt)
    out = [await recognizer.process(frame) for frame in (Interrupt(), Audio(LOUD * 5), Audio(LOUD), EndOfTurn(1.0, 500))]
    assert out == [None, None, None, CallerText("book a cleaning")]
    assert stt.steps == ["begin", "finish"]
    assert stt.fed_bytes == pytest.approx(6 * FRAME_BYTES * 2 * stt.sample_rate / SAMPLE_RATE, abs=8)  # 16-bit, resampled


async def test_speaker_turns_a_sentence_into_whole_frames_five_to_a_message():
    out = [f async for f in Speaker(EspeakTTS()).process(AgentSentence("Yes, we accept Cigna."))]
    assert out and all(isinstance(f, Audio) for f in out)
    assert all(len(f.ulaw) == 5 * FRAME_BYTES for f in out[:-1])
    assert 0 < len(out[-1].ulaw) <= 5 * FRAME_BYTES and len(out[-1].ulaw) % FRAME_BYTES == 0


async def test_speaker_cuts_a_sentence_short_when_synthesis_fails(caplog):
    errors = metrics.PROVIDER_ERRORS.labels("tts")
    before = errors._value.get()
    speaker = Speaker(ToneTTS(), frames_per_message=1)
    with caplog.at_level(logging.ERROR):
        out = [f async for f in speaker.process(AgentSentence("A garbled sentence."))]
    assert out == [Audio(LOUD), Audio(LOUD)]  # what came before the failure
    assert errors._value.get() == before + 1 and "speech synthesis failed" in caplog.text


async def test_player_marks_what_was_heard_and_clear_drops_the_rest():
    sent = []

    async def send(frame):
        sent.append(frame)

    player = Player(send, lead_ms=10_000)
    await player.play(Audio(QUIET))
    first = await player.end_segment("First sentence.")
    await player.play(Audio(QUIET))
    await player.end_segment("Second sentence.")
    assert player.marked(first) == "First sentence."
    assert await player.clear() == ["Second sentence."]
    assert player.take_heard() == ["First sentence."] and not player.busy
    assert sent == [Audio(QUIET), Mark("reply-1"), Audio(QUIET), Mark("reply-2"), Interrupt()]


async def test_player_keeps_only_a_little_audio_ahead_of_the_caller():
    async def send(frame):
        pass

    player = Player(send, lead_ms=100)
    second = Audio(silence_ulaw(200))
    started = asyncio.get_running_loop().time()
    for _ in range(3):
        await player.play(second)
    elapsed = asyncio.get_running_loop().time() - started
    assert 0.25 <= elapsed < 1.0  # each 200 ms frame waits until no more than 100 ms is queued


async def test_idle_timer_reprompts_counting_silences_until_the_caller_speaks():
    detector = SimpleNamespace(speaking=False)
    timeouts = []
    idle = IdleTimer(detector, timeouts.append, seconds=0.01)
    for _ in range(2):
        idle.start()
        await asyncio.sleep(0.05)
    idle.caller_spoke()
    idle.start()
    await asyncio.sleep(0.05)
    assert timeouts == [SilenceTimeout(1), SilenceTimeout(2), SilenceTimeout(1)]


async def test_idle_timer_says_nothing_over_the_caller_or_after_the_call():
    detector = SimpleNamespace(speaking=True)
    timeouts = []
    idle = IdleTimer(detector, timeouts.append, seconds=0.01)
    idle.start()
    await asyncio.sleep(0.05)
    detector.speaking = False
    idle.start()
    idle.close()
    idle.start()
    await asyncio.sleep(0.05)
    assert timeouts == []
