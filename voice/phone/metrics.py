"""What the phone loop measures: each reply's latency record, and Prometheus metrics (served at /metrics)."""

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from voice.frames import EndOfTurn

# Summed over the web role's live processes when they share PROMETHEUS_MULTIPROC_DIR (the Procfile's).
ACTIVE_CALLS = Gauge("receptionist_active_calls", "Phone calls in progress", multiprocess_mode="livesum")
TURN_LATENCY = Histogram(
    "receptionist_turn_latency_seconds",
    "From the end of the caller's turn being decided to the first reply frame sent",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
)
STAGE_LATENCY = Histogram(
    "receptionist_stage_latency_seconds", "Time spent per stage of a turn", ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
FRAMES_IN = Counter("receptionist_frames_in_total", "Media frames received from the phone")
FRAMES_OUT = Counter("receptionist_frames_out_total", "Media frames sent to the phone")
LATE_FRAMES = Counter("receptionist_late_frames_total", "Reply frames sent after the caller's audio ran dry")
PROVIDER_ERRORS = Counter("receptionist_provider_errors_total", "Failures of a speech or conversation provider", ["provider"])
PROVIDER_FALLBACKS = Counter("receptionist_provider_fallbacks_total",
                             "Calls moved to a fallback provider for the rest of the call", ["provider"])


@dataclass
class TurnTiming:
    """Where the time to answer a caller's turn went; saved with the agent's turn that answers it.

    Each first is kept once: a reply of several sentences has one first sentence, one first audio.
    """

    speech_ended: float  # when the end of the caller's turn was decided
    waited_ms: float
    transcript_ms: float
    ended_by: str = "silence"  # what decided it: the turn detector's silence, or the recogniser's endpointing
    engine_first_ms: float | None = None
    first_audio_ms: float | None = None
    first_frame_ms: float | None = None

    @classmethod
    def after(cls, turn: EndOfTurn, now: float) -> "TurnTiming":
        """The caller's final transcript came `now`."""
        STAGE_LATENCY.labels("final_transcript").observe(now - turn.at)
        return cls(speech_ended=turn.at, waited_ms=turn.waited_ms, transcript_ms=(now - turn.at) * 1000,
                   ended_by=turn.by)

    def engine_answered(self, seconds: float) -> None:
        if self.engine_first_ms is None:
            self.engine_first_ms = seconds * 1000

    def audio_synthesized(self, seconds: float) -> None:
        if self.first_audio_ms is None:
            self.first_audio_ms = seconds * 1000

    def frame_sent(self, now: float) -> None:
        if self.first_frame_ms is None:
            self.first_frame_ms = (now - self.speech_ended) * 1000
            TURN_LATENCY.observe(now - self.speech_ended)

    def as_dict(self) -> dict:
        return {
            "end_of_turn_wait_ms": round(self.waited_ms),
            "turn_ended_by": self.ended_by,
            "final_transcript_ms": round(self.transcript_ms, 1),
            "engine_first_sentence_ms": None if self.engine_first_ms is None else round(self.engine_first_ms, 1),
            "first_audio_ms": None if self.first_audio_ms is None else round(self.first_audio_ms, 1),
            "first_frame_sent_ms": None if self.first_frame_ms is None else round(self.first_frame_ms, 1),
        }
