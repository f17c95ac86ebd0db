"""Voice activity: whether a 20 ms frame of the caller's audio is speech.

The turn detector (`voice.phone.stages.TurnDetector`) smooths these
frame-by-frame decisions into turns. Chosen by dotted path in VAD_PROVIDER,
like the speech-to-text and text-to-speech providers.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from voice.phone import audio

# A voiced frame (a vowel, a hum of voice): loud enough to be more than the line, and its energy low in frequency.
# Measured at 8 kHz: the vowels of Piper's and espeak-ng's voices cross zero 5 to 50 times in 20 ms; white line
# noise and breath-like hiss 70 to 115 times.
VOICED_RMS = 250  # about -42 dBFS
VOICED_CROSSINGS = 50  # in 20 ms: energy mostly below about 1.2 kHz


class VoiceActivityDetector:
    """One call's detector: it may keep state from one frame to the next."""

    def is_speech(self, pcm8k: bytes) -> bool:
        """One 20 ms frame of 8 kHz 16-bit mono PCM."""
        raise NotImplementedError


def vad_class(path: str | None = None) -> type[VoiceActivityDetector]:
    return import_string(path or settings.VAD_PROVIDER)


def voiced(pcm8k: bytes) -> bool:
    """Whether a frame of 8 kHz 16-bit PCM carries a voice, rather than breath, hiss or line noise."""
    return audio.rms(pcm8k) >= VOICED_RMS and audio.audioop.cross(pcm8k, 2) <= VOICED_CROSSINGS
