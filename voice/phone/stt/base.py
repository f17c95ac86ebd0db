"""Streaming speech-to-text: audio in as it arrives, partial transcripts back, a final one at end of turn.

Shaped like Deepgram's live API (send audio continuously, receive interim and
final results, finalize at the end of an utterance), so a cloud provider
slots in behind the same calls. Chosen by dotted path in STT_PROVIDER.
"""

import ctypes
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from voice.conversation.vocabulary import Vocabulary


@dataclass(frozen=True)
class Transcript:
    """What the caller said in one utterance, as the provider heard it."""

    text: str
    # False when the provider doubts it: the answer it was told to expect fits the audio far worse than a
    # hearing of it without that expectation.
    confident: bool = True


class SpeechToText:
    """One recognition stream for one call."""

    sample_rate = 16000  # what feed() takes: 16-bit mono PCM

    def __init__(self, *, vocabulary: Vocabulary):
        """Providers take what they need of the vocabulary here and keep none of it.

        It is thousands of sentences built for each call: held for every call's
        length, a burst of calls left the server's Python heap scattered with them.
        """

    def listen_for(self, expectation: str) -> None:
        """A hint about the next answer ("yes_no", "date_time", "dob", "name", "free") to narrow recognition."""

    async def begin(self) -> None:
        """A new utterance starts (speech was detected)."""

    async def feed(self, pcm: bytes) -> str | None:
        """Recognise a piece of the utterance; returns the partial transcript when it changed."""
        raise NotImplementedError

    async def finish(self) -> Transcript:
        """The utterance ended: the final transcript."""
        raise NotImplementedError

    async def close(self) -> None:
        pass


def stt_class(path: str | None = None) -> type[SpeechToText]:
    return import_string(path or settings.STT_PROVIDER)


_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's; musl and macOS have none


def release_freed_memory() -> None:
    """Give the pages of freed C memory back to the system.

    A call's decoder, audio and buffers are thousands of allocations; freed,
    glibc keeps them in its heaps (in holes under memory still in use) for the
    life of the process, so a burst of calls would leave the process at its peak.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
