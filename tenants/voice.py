"""A practice's cloud voice as plain values, for the speech providers (which import no models)."""

from dataclasses import dataclass
from decimal import Decimal

# ElevenLabs' voice_settings.speed: the range its API accepts, for a practice's rate and the server's default.
SPEED_MIN, SPEED_MAX = Decimal("0.7"), Decimal("1.2")


@dataclass(frozen=True)
class PracticeVoice:
    """Blank (or None) leaves that part to the server's ELEVENLABS_* settings."""

    voice_id: str = ""
    model: str = ""
    speed: float | None = None  # 1.0 is the voice's normal pace
