"""Each stage of the speech loop, fed frames: what comes out."""

import asyncio
import logging
import math
import random
from array import array
from types import SimpleNamespace

import pocketsphinx
import pytest

from tests.voice.phone.fakes import LOUD, QUIET, LoudnessVAD, ScriptedSTT, ToneTTS
from voice.frames import AgentSentence, Audio, CallerText, EndOfTurn, Interrupt, Mark, SilenceTimeout
from voice.phone import metrics
from voice.phone.audio import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, frames, pcm_to_ulaw, rms, silence_ulaw, ulaw_to_pcm
from voice.phone.stages import IdleTimer, Player, Recognizer, Speaker, TurnDetector
from voice.phone.stt.base import Transcript
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
    assert first_audio.ulaw == QUIET * 10 + LOUD * 8  # the speech it took to decide, and what came just before
    speech = b"".join(out.ulaw for out, _ in seen if isinstance(out, Audio))
    assert speech.count(LOUD) == 30


def test_turn_detector_ends_turns_on_the_same_frames_as_pocketsphinx_endpointer_and_starts_them_no_later(spoken_request):
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
        starts = [[i for i in range(1, len(s)) if s[i] and not s[i - 1]] for s in (theirs, ours)]
        ends = [[i for i in range(1, len(s)) if s[i - 1] and not s[i]] for s in (theirs, ours)]
        assert ends[0] == ends[1] and len(starts[0]) == len(starts[1]) == 3
        assert all(mine <= theirs for theirs, mine in zip(*starts))


def _spoken(voice: str, text: str) -> bytes:
    """The words alone, without the synthesiser's quiet lead-in and tail: as short as a caller says them."""
    if voice == "piper":
        pytest.importorskip("piper")
    from voice.simulator.voices import voice_by_name

    audio = frames(voice_by_name(voice)(text))
    loud = [i for i, frame in enumerate(audio) if rms(ulaw_to_pcm(frame)) > 300]
    return b"".join(audio[loud[0]: loud[-1] + 1])


def _turns(audio: bytes) -> list[type]:
    seen = detect(TurnDetector(PocketsphinxVAD()), frames(silence_ulaw(1000) + audio + silence_ulaw(1000)))
    return [type(out) for out, _ in seen if not isinstance(out, Audio)]


@pytest.mark.parametrize("voice", ["piper", "espeak"])
@pytest.mark.parametrize("word", ["No.", "Yes.", "Two.", "Yeah."])
def test_a_short_answer_is_a_turn(voice, word):
    said = _spoken(voice, word)
    assert len(said) <= 450 * SAMPLE_RATE // 1000  # Piper's "No." is 260 ms, espeak's 380 ms
    assert _turns(said) == [Interrupt, EndOfTurn]


def _noise(ms: int, level: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    return pcm_to_ulaw(array("h", [int(rng.gauss(0, level)) for _ in range(ms * SAMPLE_RATE // 1000)]).tobytes())


def _breath(ms: int, level: int) -> bytes:
    """Hiss swelling and fading, as a breath into the handset: noise shaped by an arch, its low end taken out."""
    rng, n, before, out = random.Random(2), ms * SAMPLE_RATE // 1000, 0.0, []
    for i in range(n):
        sample = rng.gauss(0, level) * math.sin(math.pi * i / n)
        out.append(int(sample - 0.9 * before))
        before = sample
    return pcm_to_ulaw(array("h", out).tobytes())


@pytest.mark.parametrize("audio", [
    pytest.param(silence_ulaw(3000), id="silence"),
    pytest.param(_noise(3000, 330), id="line noise at -40 dBFS"),
    pytest.param(_noise(3000, 3300), id="hiss at -20 dBFS"),
    pytest.param(_breath(300, 600) + silence_ulaw(600) + _breath(400, 1800), id="breaths"),
    pytest.param((silence_ulaw(100) + b"\x80" * 8 + silence_ulaw(20)[8:]) * 20, id="clicks"),
], )
def test_noise_breath_and_clicks_start_no_turn(audio):
    """The provider's loose mode calls all of these but silence speech; none of them is voiced."""
    assert _turns(audio) == []


def test_a_turn_that_starts_with_the_call_ends_only_after_a_whole_window_of_silence():
    """A caller already talking as the stream opens pauses 200 ms mid-sentence: still one turn."""
    seen = detect(TurnDetector(LoudnessVAD(), end_of_turn_ms=500), [LOUD] * 10 + [QUIET] * 10 + [LOUD] * 10 + [QUIET] * 40)
    assert [type(out) for out, _ in seen if not isinstance(out, Audio)] == [Interrupt, EndOfTurn]


def test_turn_detector_ends_a_turn_after_the_window_the_words_so_far_ask_for():
    detector = TurnDetector(LoudnessVAD(), end_of_turn_ms=500, longest_ms=1000)

    def turn_edges(audio: list[bytes]) -> list[type]:
        return [type(out) for out, _ in detect(detector, audio) if not isinstance(out, Audio)]

    assert turn_edges([LOUD] * 10) == [Interrupt]
    detector.window_ms = 1000  # "on Tuesday, um,"
    assert turn_edges([QUIET] * 40 + [LOUD] * 10) == []  # an 800 ms pause: the same turn
    detector.window_ms = 250  # "... in the afternoon, yes"
    assert turn_edges([QUIET] * 12) == []
    [end] = [out for out, _ in detect(detector, [QUIET]) if isinstance(out, EndOfTurn)]
    assert end.waited_ms == 260
    assert turn_edges([LOUD] * 10 + [QUIET] * 25) == [Interrupt, EndOfTurn]  # the next turn: the usual 500 ms


def test_turn_detector_refuses_a_window_too_short_to_find_turns_in():
    with pytest.raises(ValueError):
        TurnDetector(LoudnessVAD(), end_of_turn_ms=60)


class _DoubtingSTT(ScriptedSTT):
    """Hears its transcripts, and doubts them."""

    async def finish(self) -> Transcript:
        self.steps.append("finish")
        return Transcript(self.transcripts.pop(0), confident=False)


async def test_recognizer_begins_at_the_interrupt_feeds_speech_and_gives_the_words_at_the_end():
    stt = _DoubtingSTT("  book a cleaning ")
    recognizer = Recognizer(stt)
    out = [await recognizer.process(frame) for frame in (Interrupt(), Audio(LOUD * 5), Audio(LOUD), EndOfTurn(1.0, 500))]
    assert out == [None, None, None, CallerText("book a cleaning", confident=False)]
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
