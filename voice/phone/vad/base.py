"""Voice activity: whether a 20 ms frame of the caller's audio is speech.

The turn detector (`voice.phone.stages.TurnDetector`) smooths these
frame-by-frame decisions into turns. Chosen by dotted path in VAD_PROVIDER,
like the speech-to-text and text-to-speech providers.
"""

from django.conf import settings
from django.utils.module_loading import import_string


class VoiceActivityDetector:
    """One call's detector: it may keep state from one frame to the next."""

    def is_speech(self, pcm8k: bytes) -> bool:
        """One 20 ms frame of 8 kHz 16-bit mono PCM."""
        raise NotImplementedError


def vad_class(path: str | None = None) -> type[VoiceActivityDetector]:
    return import_string(path or settings.VAD_PROVIDER)
