"""Deepgram live recognition over its streaming websocket, with the official SDK (deepgram-sdk).

One connection a call, opened as the call starts (while the greeting plays) and kept: the phone's 8 kHz mu-law goes in as it came
(encoding=mulaw, sample_rate=8000, no transcoding), with interim results and the practice's own words as
keyterms. A turn ends at the first of the project's turn detector and Deepgram's own endpointing
(`speech_final`, or `UtteranceEnd` where noise keeps its endpointer from firing): `turn_ended()` says when
Deepgram has ended it, and its words are then already final. A turn the detector ends first is closed with
`Finalize`, which makes Deepgram give its last words at once. While the agent speaks no audio is sent, so a
KeepAlive goes every few seconds (Deepgram closes a silent connection after ten); `CloseStream` at hang-up.
Any failure raises: the fallback recogniser (STT_FALLBACK_PROVIDER) takes the call over.
"""

import asyncio
import contextlib
import time

from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
from django.conf import settings

from voice.clients import client_shared
from voice.phone.stt.base import SpeechToText, Transcript, Vocabulary

KEEPALIVE_SECONDS = 4
CLOSE_SECONDS = 1  # for Deepgram to close the stream once told the call is over


class DeepgramClosed(ConnectionError):
    """The recognition connection ended while the call still needed it."""


def _environment() -> DeepgramClientEnvironment:
    if not settings.DEEPGRAM_URL:
        return DeepgramClientEnvironment.PRODUCTION
    return DeepgramClientEnvironment(base=settings.DEEPGRAM_URL.replace("ws", "http", 1), production=settings.DEEPGRAM_URL,
                                     agent=settings.DEEPGRAM_URL, agent_rest=settings.DEEPGRAM_URL.replace("ws", "http", 1))


class DeepgramSTT(SpeechToText):
    name = "deepgram"
    encoding = "mulaw"
    sample_rate = 8000

    def __init__(self, *, vocabulary: Vocabulary):
        self.keyterms = list(vocabulary.keyterms)
        self._connection: contextlib.AbstractAsyncContextManager | None = None
        self._opening: asyncio.Future | None = None
        self._socket = None
        self._tasks: list[asyncio.Task] = []
        self._finals: list[str] = []
        self._partial = ""
        self._reported = ""  # the partial transcript feed() last returned
        self._ended_by: str | None = None  # "speech_final" or "utterance_end": Deepgram ended the turn
        self._finalized = asyncio.Event()
        self._failure: BaseException | None = None
        self._last_sent = time.monotonic()

    async def _open(self) -> None:
        client = client_shared(AsyncDeepgramClient, api_key=settings.DEEPGRAM_API_KEY, environment=_environment())
        self._connection = client.listen.v1.connect(
            model=settings.DEEPGRAM_MODEL, encoding="mulaw", sample_rate=8000, channels=1, interim_results="true",
            punctuate="true", smart_format="true", endpointing=settings.VOICE_END_OF_TURN_MS,
            utterance_end_ms=1000, keyterm=self.keyterms or None,
        )
        self._socket = await self._connection.__aenter__()
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._keep_alive())]

    async def _listen(self) -> None:
        try:
            async for message in self._socket:
                kind = getattr(message, "type", None)
                if kind == "UtteranceEnd" and self._finals and self._ended_by is None:
                    self._ended_by = "utterance_end"
                if kind != "Results":
                    continue
                text = message.channel.alternatives[0].transcript if message.channel.alternatives else ""
                if message.is_final:
                    if text:
                        self._finals.append(text)
                    self._partial = ""
                else:
                    self._partial = text
                if message.speech_final and self._finals and self._ended_by is None:
                    self._ended_by = "speech_final"
                if message.from_finalize:
                    self._finalized.set()
            self._failure = DeepgramClosed("Deepgram closed the connection")
        except Exception as error:
            self._failure = error
        finally:
            self._finalized.set()  # nobody waits for a final that cannot come

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(1)
            if time.monotonic() - self._last_sent >= KEEPALIVE_SECONDS:
                await self._socket.send_keep_alive()
                self._last_sent = time.monotonic()

    def _check(self) -> None:
        if self._failure is not None:
            raise DeepgramClosed(f"Deepgram recognition failed: {self._failure!r}")

    async def connect(self) -> None:
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
        await asyncio.shield(self._opening)  # a turn that starts while connecting waits for the same connection

    async def begin(self) -> None:
        await self.connect()
        self._check()
        self._finals.clear()
        self._partial = self._reported = ""
        self._ended_by = None
        self._finalized.clear()

    async def feed(self, audio: bytes) -> str | None:
        self._check()
        await self._socket.send_media(audio)
        self._last_sent = time.monotonic()
        heard = " ".join([*self._finals, self._partial]).strip()
        if heard == self._reported:
            return None
        self._reported = heard
        return heard

    def turn_ended(self) -> str | None:
        return self._ended_by

    async def finish(self) -> Transcript:
        self._check()
        if self._ended_by is not None:
            # Its words are final already. A Finalize now would be answered during the next turn, and its
            # `from_finalize` taken for that turn's.
            return Transcript(" ".join(self._finals))
        await self._socket.send_finalize()
        self._last_sent = time.monotonic()
        try:
            await asyncio.wait_for(self._finalized.wait(), settings.DEEPGRAM_FINAL_SECONDS)
        except TimeoutError:
            raise DeepgramClosed("Deepgram gave no final result in time") from None
        self._check()
        return Transcript(" ".join(self._finals))

    async def close(self) -> None:
        if self._opening is not None and not self._opening.done():  # the call ended while it connected
            self._opening.cancel()
            with contextlib.suppress(BaseException):
                await self._opening
        if self._socket is None:
            return
        listener, keep_alive = self._tasks
        keep_alive.cancel()
        with contextlib.suppress(Exception):
            if self._failure is None:
                await self._socket.send_close_stream()
                # Deepgram sends what it still has and its Metadata, then closes.
                await asyncio.wait_for(asyncio.shield(listener), CLOSE_SECONDS)
        listener.cancel()
        with contextlib.suppress(Exception):
            await self._connection.__aexit__(None, None, None)
        self._socket = None
