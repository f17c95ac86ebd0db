"""Streaming text-to-speech: a sentence in, 8 kHz mu-law audio out in pieces.

Shaped like ElevenLabs' streaming endpoint with output_format=ulaw_8000, so a
cloud provider slots in behind the same call. Chosen by dotted path in TTS_PROVIDER.
"""

from collections.abc import AsyncIterator

from django.conf import settings
from django.utils.module_loading import import_string


class TextToSpeech:
    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """Yield raw mu-law 8 kHz mono audio (no header) as it is produced."""
        raise NotImplementedError
        yield b""  # pragma: no cover


def tts_class(path: str | None = None) -> type[TextToSpeech]:
    return import_string(path or settings.TTS_PROVIDER)
