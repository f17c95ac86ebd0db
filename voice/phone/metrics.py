"""Prometheus metrics of the phone loop (served with django-prometheus's at /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

ACTIVE_CALLS = Gauge("receptionist_active_calls", "Phone calls in progress")
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
