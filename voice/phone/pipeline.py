"""The phone speech loop: small stages passing typed frames.

    caller audio ─▶ TurnDetector ─▶ Recognizer ─▶ (Conversation) ─▶ Speaker ─▶ Player ─▶ Twilio
                    speech start/      partial and      sentences,        mu-law          paced frames,
                    audio/end          final text       actions           audio           marks, clear

Each stage is a plain object that takes a frame and returns or yields frames,
so each can be tested by feeding frames and checking what comes out.
`PhoneCall` wires them for one call; the websocket consumer only translates
Twilio's JSON to and from it.
"""

import asyncio
import collections
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

import pocketsphinx

from voice.phone import metrics
from voice.phone.audio import FRAME_BYTES, FRAME_MS, frames, resample, ulaw_to_pcm
from voice.frames import AgentSentence, CallerText, CallStarted, DtmfDigits, EndCall, SilenceTimeout, TransferCall
from voice.phone.stt.base import SpeechToText, release_freed_memory
from voice.phone.tts.base import TextToSpeech

logger = logging.getLogger(__name__)


# -- frames -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechStarted:
    at: float


@dataclass(frozen=True)
class SpeechAudio:
    pcm8k: bytes


@dataclass(frozen=True)
class SpeechEnded:
    at: float  # when the end of the turn was decided
    waited_ms: float  # silence waited for before deciding


@dataclass(frozen=True)
class Transcript:
    text: str
    final: bool


@dataclass(frozen=True)
class OutAudio:
    ulaw: bytes  # whole 20 ms frames of mu-law


@dataclass(frozen=True)
class OutMark:
    name: str


@dataclass(frozen=True)
class OutClear:
    pass


OutFrame = OutAudio | OutMark | OutClear


# -- stages -------------------------------------------------------------------------------


class TurnDetector:
    """Voice activity and end of turn on 8 kHz frames: pocketsphinx's endpointing, over its VAD.

    Its 20 ms frame at 8 kHz is exactly one Twilio media frame. A turn ends
    after `end_of_turn_ms` of silence; much shorter windows split callers'
    sentences at commas. The rule is pocketsphinx's Endpointer's, kept here
    because pocketsphinx 5.1's Endpointer never frees its C state (about 17 KB
    a call, for the life of the server); its Vad does.
    """

    RATIO = 0.9  # of the window that must be speech to start a turn, or silence to end it

    def __init__(self, *, end_of_turn_ms: int = 500):
        self.end_of_turn_ms = end_of_turn_ms
        self.vad = pocketsphinx.Vad(pocketsphinx.Vad.LOOSE, 8000, FRAME_MS / 1000)
        # pocketsphinx's arithmetic, so turns start and end on the same frames as with its Endpointer.
        window = int(end_of_turn_ms / FRAME_MS + 0.5)
        self._start_frames = int(self.RATIO * window)
        self._end_frames = int((1.0 - self.RATIO) * window + 0.5)
        if not 0 < self._end_frames < self._start_frames < window:
            raise ValueError(f"an end-of-turn window of {end_of_turn_ms} ms is too short to find turns in")
        self._decisions: collections.deque[bool] = collections.deque(maxlen=window)
        self.speaking = False
        # Speech is decided a window late: keep that much audio so no word loses its start.
        self._recent: collections.deque[bytes] = collections.deque(maxlen=end_of_turn_ms // FRAME_MS + 5)

    def _in_speech(self, pcm8k: bytes) -> bool:
        """Whether the caller is speaking after this frame; in speech the oldest decision leaves the window, as in pocketsphinx."""
        self._decisions.append(self.vad.is_speech(pcm8k))
        speech = sum(self._decisions)
        in_speech = speech >= self._end_frames if self.speaking else speech > self._start_frames
        if self.speaking or in_speech:
            self._decisions.popleft()
        return in_speech

    def process(self, pcm8k: bytes, now: float) -> list:
        out = []
        self._recent.append(pcm8k)
        in_speech = self._in_speech(pcm8k)
        if in_speech and not self.speaking:
            self.speaking = True
            out.append(SpeechStarted(at=now))
            out.append(SpeechAudio(b"".join(self._recent)))
        elif self.speaking:
            out.append(SpeechAudio(pcm8k))
        if self.speaking and not in_speech:
            self.speaking = False
            out.append(SpeechEnded(at=now, waited_ms=self.end_of_turn_ms))
        return out


class Recognizer:
    """Feeds speech to the speech-to-text provider while the caller talks; the final text at the end."""

    def __init__(self, stt: SpeechToText):
        self.stt = stt
        self._resample_state = None

    async def process(self, frame) -> Transcript | None:
        if isinstance(frame, SpeechStarted):
            self._resample_state = None
            await self.stt.begin()
            return None
        if isinstance(frame, SpeechAudio):
            pcm, self._resample_state = resample(frame.pcm8k, 8000, self.stt.sample_rate, self._resample_state)
            partial = await self.stt.feed(pcm)
            if partial:
                return Transcript(partial, final=False)
            return None
        if isinstance(frame, SpeechEnded):
            return Transcript(await self.stt.finish(), final=True)
        return None


class Speaker:
    """A sentence in, mu-law audio out in whole 20 ms frames, several to a message.

    Twilio takes any chunk size; five frames (100 ms) a message is a fifth of
    the websocket traffic of one frame a message, which is most of the server's
    work per call, while staying fine-grained enough for pacing and `clear`.
    """

    def __init__(self, tts: TextToSpeech, *, frames_per_message: int = 5):
        self.tts = tts
        self.message_bytes = FRAME_BYTES * frames_per_message

    async def process(self, sentence: str) -> AsyncIterator[OutAudio]:
        remainder = b""
        async for chunk in self.tts.synthesize(sentence):
            data = remainder + chunk
            whole = len(data) - len(data) % self.message_bytes
            for i in range(0, whole, self.message_bytes):
                yield OutAudio(data[i : i + self.message_bytes])
            remainder = data[whole:]
        if remainder:
            yield OutAudio(b"".join(frames(remainder)))


class Player:
    """Sends audio to Twilio at real-time pace, a little ahead, with a mark after each segment.

    Twilio plays what it is sent in order and echoes a mark once everything
    before it has played: the echoes tell what the caller actually heard.
    Sending far ahead would make a barge-in's `clear` throw away more, so
    it keeps at most `lead_ms` queued.
    """

    def __init__(self, send: Callable[[OutFrame], Awaitable[None]], *, lead_ms: int = 200,
                 clock: Callable[[], float] = time.monotonic):
        self.send = send
        self.lead = lead_ms / 1000
        self.clock = clock
        self.play_until = 0.0
        self.outstanding: dict[str, str] = {}  # mark name -> the sentence it closes
        self.heard: list[str] = []
        self._counter = 0
        self.segment_open = False  # frames of a sentence sent, its mark not yet

    @property
    def busy(self) -> bool:
        """Audio sent that the caller has not finished hearing (Twilio has not echoed its mark)."""
        return bool(self.outstanding) or self.segment_open

    async def play(self, frame: OutAudio) -> None:
        now = self.clock()
        if self.play_until and self.play_until < now and self.outstanding:
            metrics.LATE_FRAMES.inc()  # the caller's queue ran dry: a gap in what they hear
        ahead = self.play_until - now
        if ahead > self.lead:
            await asyncio.sleep(ahead - self.lead)
        self.play_until = max(self.play_until, self.clock()) + len(frame.ulaw) / 8000
        self.segment_open = True
        await self.send(frame)
        metrics.FRAMES_OUT.inc(len(frame.ulaw) // FRAME_BYTES)

    async def end_segment(self, sentence: str) -> str:
        self._counter += 1
        self.segment_open = False
        name = f"reply-{self._counter}"
        self.outstanding[name] = sentence
        await self.send(OutMark(name))
        return name

    def marked(self, name: str) -> str | None:
        """A mark came back: its sentence was heard. Returns the sentence."""
        sentence = self.outstanding.pop(name, None)
        if sentence is not None:
            self.heard.append(sentence)
        return sentence

    async def clear(self) -> list[str]:
        """Barge-in: stop playback; returns the sentences that were not (fully) heard."""
        unheard = list(self.outstanding.values())
        self.outstanding.clear()  # their echoes after a clear mean nothing was heard
        self.segment_open = False
        self.play_until = 0.0
        await self.send(OutClear())
        return unheard

    def take_heard(self) -> list[str]:
        heard, self.heard = self.heard, []
        return heard


# -- one call --------------------------------------------------------------------------------


class Telephony:
    """Hangs up and transfers the live call (Twilio REST in production)."""

    async def hang_up(self) -> None:
        pass

    async def transfer(self, number: str) -> None:
        pass


@dataclass
class TurnTiming:
    speech_ended: float = 0.0
    waited_ms: float = 0.0
    transcript_ms: float = 0.0
    engine_first_ms: float | None = None
    first_audio_ms: float | None = None
    first_frame_ms: float | None = None

    def as_dict(self) -> dict:
        return {
            "end_of_turn_wait_ms": round(self.waited_ms),
            "final_transcript_ms": round(self.transcript_ms, 1),
            "engine_first_sentence_ms": None if self.engine_first_ms is None else round(self.engine_first_ms, 1),
            "first_audio_ms": None if self.first_audio_ms is None else round(self.first_audio_ms, 1),
            "first_frame_sent_ms": None if self.first_frame_ms is None else round(self.first_frame_ms, 1),
        }


class PhoneCall:
    """Runs the stages for one call. Feed it Twilio's events; it sends frames back through `send`."""

    in_progress: ClassVar[int] = 0  # calls of this process started and not yet stopped

    def __init__(
        self,
        *,
        conversation,
        stt: SpeechToText,
        tts: TextToSpeech,
        send: Callable[[OutFrame], Awaitable[None]],
        telephony: Telephony,
        end_of_turn_ms: int = 500,
        idle_seconds: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.conversation = conversation
        self.stt = stt
        self.detector = TurnDetector(end_of_turn_ms=end_of_turn_ms)
        self.recognizer = Recognizer(stt)
        self.speaker = Speaker(tts)
        self.player = Player(send, clock=clock)
        self.telephony = telephony
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._reply: asyncio.Task | None = None
        self._idle: asyncio.Task | None = None
        self._silences = 0
        self._after_playback: EndCall | TransferCall | None = None
        self._spoken: list[str] = []
        self._timing: TurnTiming | None = None
        self.ended = False

    # -- events from the phone ----------------------------------------------------------

    async def start(self) -> None:
        PhoneCall.in_progress += 1
        metrics.ACTIVE_CALLS.inc()
        self._respond(CallStarted())

    async def audio(self, ulaw: bytes) -> None:
        metrics.FRAMES_IN.inc()
        now = self.clock()
        for frame in self.detector.process(ulaw_to_pcm(ulaw), now):
            if isinstance(frame, SpeechStarted):
                await self._caller_started(frame)
            transcript = await self.recognizer.process(frame)
            if transcript is not None and transcript.final:
                await self._caller_finished(frame, transcript)

    async def dtmf(self, digits: str) -> None:
        await self._interrupt()
        self._respond(DtmfDigits(digits))

    async def mark(self, name: str) -> None:
        sentence = self.player.marked(name)
        if sentence is not None and not self.player.outstanding and (self._reply is None or self._reply.done()):
            await self._reply_heard()

    async def stop(self) -> None:
        """The call is over: cancel everything of this call, finalise its record and give back its memory."""
        if self.ended:
            return
        self.ended = True
        try:
            await self._wind_up()
        finally:  # also when daphne cancels a handler still running 10 s after its socket closed
            metrics.ACTIVE_CALLS.dec()
            self._release()

    async def _wind_up(self) -> None:
        for task in (self._reply, self._idle):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._reply, self._idle):
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        heard = self.player.take_heard()
        if heard or self._spoken:
            await self.conversation.record_agent(" ".join(heard) if heard else "", self._latency())
        await self.stt.close()
        await self.conversation.finish()

    def _release(self) -> None:
        """Frees what the call held now rather than at some later collection, and returns it to the system."""
        self._reply = self._idle = None  # a cancelled task's traceback holds the call: a cycle
        PhoneCall.in_progress -= 1
        if not PhoneCall.in_progress:
            # An idle server allocates nothing, so the collector would not run: the cycles a burst of
            # calls leaves (requests, sockets, consumers and their calls) would stay until the next call.
            gc.collect()
        release_freed_memory()

    # -- inside ----------------------------------------------------------------------------

    async def _caller_started(self, frame: SpeechStarted) -> None:
        self._silences = 0
        self._cancel_idle()
        if self.player.busy or (self._reply is not None and not self._reply.done()):
            await self._interrupt()

    async def _interrupt(self) -> None:
        """Barge-in: stop talking now, and keep in the transcript only what the caller heard."""
        if self._reply is not None and not self._reply.done():
            # Not awaited: the caller is talking now, and the reply may be waiting on a worker thread.
            self._reply.cancel()
        if self.player.busy:
            await self.player.clear()
            heard = self.player.take_heard()
            await self.conversation.record_agent(" ".join(heard), self._latency(), interrupted=True)
            self._spoken = []
            self._after_playback = None

    async def _caller_finished(self, ended: SpeechEnded, transcript: Transcript) -> None:
        text = transcript.text.strip()
        timing = TurnTiming(speech_ended=ended.at, waited_ms=ended.waited_ms)
        timing.transcript_ms = (self.clock() - ended.at) * 1000
        metrics.STAGE_LATENCY.labels("final_transcript").observe(timing.transcript_ms / 1000)
        if not text:
            self._start_idle()
            return
        self._respond(CallerText(text), timing)

    def _respond(self, event, timing: TurnTiming | None = None) -> None:
        self._timing = timing
        self._reply = asyncio.ensure_future(self._run_reply(event, timing))

    async def _run_reply(self, event, timing: TurnTiming | None) -> None:
        started = self.clock()
        try:
            async for output in self.conversation.handle(event, record_agent=False):
                if isinstance(output, AgentSentence):
                    if timing is not None and timing.engine_first_ms is None:
                        timing.engine_first_ms = (self.clock() - started) * 1000
                    await self._say(output.text, timing)
                elif isinstance(output, (EndCall, TransferCall)):
                    self._after_playback = output
            self.stt.listen_for(self.conversation.listening_for())
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("reply failed on call %s", self.conversation.call.pk)
            metrics.PROVIDER_ERRORS.labels("engine").inc()
            await self._say("I'm sorry, something went wrong on my side. Let me connect you to our team.", timing)
            self._after_playback = EndCall()
        if not self.player.outstanding:
            await self._reply_heard()

    async def _say(self, sentence: str, timing: TurnTiming | None) -> None:
        self._spoken.append(sentence)
        tts_started = self.clock()
        first = True
        try:
            async for frame in self.speaker.process(sentence):
                if first and timing is not None and timing.first_audio_ms is None:
                    timing.first_audio_ms = (self.clock() - tts_started) * 1000
                await self.player.play(frame)
                if first and timing is not None and timing.first_frame_ms is None:
                    timing.first_frame_ms = (self.clock() - timing.speech_ended) * 1000
                    metrics.TURN_LATENCY.observe(self.clock() - timing.speech_ended)
                first = False
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("speech synthesis failed")
            metrics.PROVIDER_ERRORS.labels("tts").inc()
        await self.player.end_segment(sentence)

    async def _reply_heard(self) -> None:
        """Everything said has been played: save the turn, then hang up, transfer or wait for the caller."""
        heard = self.player.take_heard()
        if self._spoken:
            await self.conversation.record_agent(" ".join(heard) or " ".join(self._spoken), self._latency())
            self._spoken = []
        action, self._after_playback = self._after_playback, None
        if isinstance(action, EndCall):
            await self.telephony.hang_up()
        elif isinstance(action, TransferCall):
            await self.telephony.transfer(action.number)
        elif not self.ended:
            self._start_idle()

    def _latency(self) -> dict:
        return self._timing.as_dict() if self._timing else {}

    def _start_idle(self) -> None:
        self._cancel_idle()
        self._idle = asyncio.ensure_future(self._idle_timer())

    def _cancel_idle(self) -> None:
        if self._idle is not None and not self._idle.done():
            self._idle.cancel()

    async def _idle_timer(self) -> None:
        await asyncio.sleep(self.idle_seconds)
        if self.detector.speaking or self.ended:
            return
        self._silences += 1
        self._respond(SilenceTimeout(self._silences))
