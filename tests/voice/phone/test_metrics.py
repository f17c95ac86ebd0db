"""A turn's latency record."""

from voice.frames import EndOfTurn
from voice.phone.metrics import TurnTiming


def test_a_replys_firsts_are_kept_once_and_measured_from_the_end_of_the_callers_turn():
    timing = TurnTiming.after(EndOfTurn(at=10.0, waited_ms=500), now=10.05)
    for seconds in (0.2, 0.9):  # a reply of two sentences
        timing.engine_answered(seconds)
        timing.audio_synthesized(seconds / 20)
        timing.frame_sent(10.0 + seconds + 0.1)
    assert timing.as_dict() == {"end_of_turn_wait_ms": 500, "turn_ended_by": "silence", "final_transcript_ms": 50.0, "engine_first_sentence_ms": 200.0,
                                "first_audio_ms": 10.0, "first_frame_sent_ms": 300.0}
