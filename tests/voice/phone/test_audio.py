"""The telephone codec and the output stages of the speech loop."""

import asyncio
import struct
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from voice.phone.audio import FRAME_BYTES, frames, pcm_to_ulaw, ulaw_to_pcm
from voice.phone.pipeline import OutAudio, OutClear, OutMark, Player, Speaker, TurnDetector
from voice.phone.tts.espeak import EspeakTTS, synthesize_ulaw


def test_mulaw_decode_is_bit_exact_for_all_256_inputs():
    every = bytes(range(256))
    assert ulaw_to_pcm(every) == audioop.ulaw2lin(every, 2)


def test_mulaw_encode_is_bit_exact_for_all_65536_inputs():
    every = struct.pack("<65536h", *range(-32768, 32768))
    assert pcm_to_ulaw(every) == audioop.lin2ulaw(every, 2)


def test_frames_are_20_ms_and_padded_with_silence():
    cut = frames(b"\x00" * 350)
    assert [len(f) for f in cut] == [160, 160, 160] and cut[-1].endswith(b"\xff" * 130)


def test_espeak_speaks_telephone_audio():
    audio = synthesize_ulaw("Thank you for calling Bright Smile Dental.")
    seconds = len(audio) / 8000
    assert 1.5 < seconds < 5
    pcm = ulaw_to_pcm(audio)
    assert audioop.rms(pcm, 2) > 500  # speech, not silence


def test_speaker_turns_a_sentence_into_whole_frames_five_to_a_message():
    async def collect():
        return [f async for f in Speaker(EspeakTTS()).process("Yes, we accept Cigna.")]

    out = asyncio.run(collect())
    assert out and all(isinstance(f, OutAudio) for f in out)
    assert all(len(f.ulaw) == 5 * FRAME_BYTES for f in out[:-1])
    assert 0 < len(out[-1].ulaw) <= 5 * FRAME_BYTES and len(out[-1].ulaw) % FRAME_BYTES == 0


def test_turn_detector_finds_speech_and_the_end_of_the_turn():
    detector = TurnDetector(end_of_turn_ms=500)
    speech = synthesize_ulaw("I'd like to book a teeth cleaning.")
    audio = b"\xff" * 8000 + speech + b"\xff" * 16000
    seen = []
    for i, frame in enumerate(frames(audio)):
        for event in detector.process(ulaw_to_pcm(frame), now=i * 0.02):
            seen.append((type(event).__name__, round(i * 0.02, 2)))
    names = [n for n, _ in seen]
    assert names[0] == "SpeechStarted" and names[-1] == "SpeechEnded" and names.count("SpeechStarted") == 1
    started, ended = seen[0][1], seen[-1][1]
    speech_end = 1 + len(speech) / 8000
    assert 1.0 <= started < 1.6
    assert speech_end + 0.3 <= ended <= speech_end + 1.0  # about the 500 ms window after the words stop


def test_player_marks_what_was_heard_and_clear_drops_the_rest():
    sent = []

    async def send(frame):
        sent.append(frame)

    async def scenario():
        player = Player(send, lead_ms=10_000)
        await player.play(OutAudio(b"\xff" * 160))
        first = await player.end_segment("First sentence.")
        await player.play(OutAudio(b"\xff" * 160))
        await player.end_segment("Second sentence.")
        assert player.marked(first) == "First sentence."
        unheard = await player.clear()
        return player, unheard

    player, unheard = asyncio.run(scenario())
    assert unheard == ["Second sentence."] and player.take_heard() == ["First sentence."]
    assert [type(f) for f in sent] == [OutAudio, OutMark, OutAudio, OutMark, OutClear]
    assert sent[1].name == "reply-1" and sent[3].name == "reply-2"
