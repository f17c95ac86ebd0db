"""Streaming text-to-speech: a sentence in, 8 kHz mu-law audio out in pieces.

Shaped like ElevenLabs' streaming endpoint with output_format=ulaw_8000, so a
cloud provider slots in behind the same call. Chosen by dotted path in TTS_PROVIDER.
"""

import logging
from collections.abc import AsyncIterator, Callable
from typing import Self

from django.conf import settings
from django.utils.module_loading import import_string

from tenants.voice import PracticeVoice
from voice.phone import metrics

logger = logging.getLogger(__name__)


class TextToSpeech:
    # The voice a call fell back to; a plain provider never switches.
    switched = False

    @property
    def name(self) -> str:
        """What a call's review shows as the voice that spoke a turn; providers give a short name."""
        return type(self).__name__

    @classmethod
    def for_call(cls, *, voice: PracticeVoice) -> Self:
        """The provider for one call; a provider with one voice of its own ignores the practice's choice."""
        return cls()

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """Yield raw mu-law 8 kHz mono audio (no header) as it is produced."""
        raise NotImplementedError
        yield b""  # pragma: no cover


def tts_class(path: str | None = None) -> type[TextToSpeech]:
    return import_string(path or settings.TTS_PROVIDER)


class FallbackTTS(TextToSpeech):
    """The primary provider until it fails; then the fallback, for the rest of the call.

    A sentence the primary fails on (refused, or cut off mid-stream) is spoken
    whole by the fallback, so the caller hears every sentence, once cleanly.
    `on_switch` is told once, when the call changes voice.
    """

    def __init__(self, primary: TextToSpeech, fallback: TextToSpeech, *, on_switch: Callable[[], None] = lambda: None):
        self.primary, self.fallback, self.on_switch = primary, fallback, on_switch
        self.switched = False

    @property
    def name(self) -> str:
        return (self.fallback if self.switched else self.primary).name

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        if not self.switched:
            try:
                async for chunk in self.primary.synthesize(text):
                    yield chunk
                return
            except Exception as error:
                self.switched = True
                logger.warning("speech synthesis failed (%s: %s); the fallback voice speaks for the rest of the call",
                               type(error).__name__, error)
                metrics.PROVIDER_FALLBACKS.labels("tts").inc()
                self.on_switch()
        async for chunk in self.fallback.synthesize(text):
            yield chunk


def tts_build(*, voice: PracticeVoice = PracticeVoice(), on_switch: Callable[[], None] = lambda: None) -> TextToSpeech:
    """The configured provider for one call, in the practice's voice where it has a choice, with
    TTS_FALLBACK_PROVIDER behind it when that is another one."""
    primary = tts_class().for_call(voice=voice)
    fallback_path = settings.TTS_FALLBACK_PROVIDER
    if not fallback_path or fallback_path == settings.TTS_PROVIDER:
        return primary
    return FallbackTTS(primary, tts_class(fallback_path).for_call(voice=voice), on_switch=on_switch)
