"""Streaming speech-to-text: audio in as it arrives, partial transcripts back, a final one at end of turn.

Shaped like Deepgram's live API (send audio continuously, receive interim and
final results, finalize at the end of an utterance), so a cloud provider
slots in behind the same calls. Chosen by dotted path in STT_PROVIDER.
"""

import contextlib
import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from voice.conversation.vocabulary import Vocabulary
from voice.phone import metrics
from voice.phone.audio import FRAME_BYTES, SAMPLE_RATE, resample, ulaw_to_pcm

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transcript:
    """What the caller said in one utterance, as the provider heard it."""

    text: str
    # False when the provider doubts it: the answer it was told to expect fits the audio far worse than a
    # hearing of it without that expectation.
    confident: bool = True


class SpeechToText:
    """One recognition stream for one call."""

    # What feed() takes: 16-bit mono PCM at `sample_rate`, or with encoding "mulaw" the phone's own 8 kHz mu-law.
    encoding = "linear16"
    sample_rate = 16000
    # The recogniser a call fell back to; a plain provider never switches.
    switched = False

    @property
    def name(self) -> str:
        """What a call's review shows as the recogniser that heard a turn; providers give a short name."""
        return type(self).__name__

    def __init__(self, *, vocabulary: Vocabulary):
        """Providers take what they need of the vocabulary here and keep none of it.

        It is thousands of sentences built for each call: held for every call's
        length, a burst of calls left the server's Python heap scattered with them.
        """

    def listen_for(self, expectation: str) -> None:
        """A hint about the next answer ("yes_no", "date_time", "dob", "name", "free") to narrow recognition."""

    async def connect(self) -> None:
        """Get ready for the call's first turn (a cloud provider opens its connection) while the greeting plays."""

    async def begin(self) -> None:
        """A new utterance starts (speech was detected)."""

    async def feed(self, audio: bytes) -> str | None:
        """Recognise a piece of the utterance; returns what was heard of it so far when that changed."""
        raise NotImplementedError

    def turn_ended(self) -> str | None:
        """How the provider's own endpointing ended the utterance ("speech_final", ...), or None while it has not."""
        return None

    async def finish(self) -> Transcript:
        """The utterance ended: the final transcript."""
        raise NotImplementedError

    async def close(self) -> None:
        pass


def stt_class(path: str | None = None) -> type[SpeechToText]:
    return import_string(path or settings.STT_PROVIDER)


def audio_for(stt: SpeechToText, ulaw: bytes, state=None) -> tuple[bytes, object]:
    """The phone's audio as `stt` takes it, and the resampler's state to pass with the next piece of the turn."""
    if stt.encoding == "mulaw":
        return ulaw, state
    return resample(ulaw_to_pcm(ulaw), SAMPLE_RATE, stt.sample_rate, state)


class FallbackSTT(SpeechToText):
    """The primary recogniser until it fails; then the fallback, for the rest of the call.

    Takes the phone's own audio and keeps the turn's, so a recogniser that
    fails in the middle of a turn (refused, dropped, no final words in time)
    hands the whole turn to the fallback, which hears it from its start.
    `on_switch` is told once, when the call changes recogniser.
    """

    encoding = "mulaw"
    sample_rate = SAMPLE_RATE

    def __init__(self, primary: SpeechToText, fallback: SpeechToText, *, on_switch: Callable[[], None] = lambda: None):
        self.primary, self.fallback, self.on_switch = primary, fallback, on_switch
        self.current = primary
        self.turn = bytearray()
        self._state = None

    @property
    def switched(self) -> bool:
        return self.current is self.fallback

    @property
    def name(self) -> str:
        return self.current.name

    def listen_for(self, expectation: str) -> None:
        self.primary.listen_for(expectation)
        self.fallback.listen_for(expectation)

    async def connect(self) -> None:
        try:
            await self.current.connect()
        except Exception as error:
            await self._switch(error, in_turn=False)

    async def begin(self) -> None:
        self.turn.clear()
        self._state = None
        try:
            await self.current.begin()
        except Exception as error:
            await self._switch(error)

    async def feed(self, audio: bytes) -> str | None:
        self.turn += audio
        piece, self._state = audio_for(self.current, audio, self._state)
        try:
            return await self.current.feed(piece)
        except Exception as error:
            await self._switch(error)
            return None

    def turn_ended(self) -> str | None:
        return self.current.turn_ended()

    async def finish(self) -> Transcript:
        try:
            return await self.current.finish()
        except Exception as error:
            await self._switch(error)
            return await self.fallback.finish()

    async def close(self) -> None:
        for stt in (self.primary, self.fallback):
            with contextlib.suppress(Exception):
                await stt.close()

    async def _switch(self, error: Exception, *, in_turn: bool = True) -> None:
        """The fallback takes the call, starting with everything the caller has said this turn."""
        if self.switched:
            raise error
        logger.warning("speech recognition failed (%s: %s); the fallback recogniser hears the rest of the call",
                       type(error).__name__, error)
        metrics.PROVIDER_FALLBACKS.labels("stt").inc()
        self.on_switch()
        self.current = self.fallback
        with contextlib.suppress(Exception):
            await self.primary.close()
        if not in_turn:
            return
        await self.fallback.begin()
        self._state = None
        for start in range(0, len(self.turn), FRAME_BYTES):
            piece, self._state = audio_for(self.fallback, bytes(self.turn[start:start + FRAME_BYTES]), self._state)
            await self.fallback.feed(piece)


def stt_build(*, vocabulary: Vocabulary, on_switch: Callable[[], None] = lambda: None) -> SpeechToText:
    """The configured recogniser for one call, with STT_FALLBACK_PROVIDER behind it when that is another one."""
    primary = stt_class()(vocabulary=vocabulary)
    fallback_path = settings.STT_FALLBACK_PROVIDER
    if not fallback_path or fallback_path == settings.STT_PROVIDER:
        return primary
    return FallbackSTT(primary, stt_class(fallback_path)(vocabulary=vocabulary), on_switch=on_switch)


_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's; musl and macOS have none


def release_freed_memory() -> None:
    """Give the pages of freed C memory back to the system.

    A call's decoder, audio and buffers are thousands of allocations; freed,
    glibc keeps them in its heaps (in holes under memory still in use) for the
    life of the process, so a burst of calls would leave the process at its peak.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
