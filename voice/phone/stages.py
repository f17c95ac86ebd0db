"""The stages of the phone speech loop, each a plain object that takes frames and gives frames.

    caller Audio ─▶ TurnDetector ─▶ Recognizer ─▶ (conversation) ─▶ Speaker ─▶ Player ─▶ phone
                    Interrupt,        CallerText      AgentSentence      Audio      Audio, Mark,
                    the turn's Audio,                                               Interrupt
                    EndOfTurn

                    IdleTimer ─▶ SilenceTimeout ─▶ (conversation), when the caller says nothing

`voice.phone.pipeline.PhoneCall` wires them for one call.
"""

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from voice.frames import AgentSentence, Audio, CallerText, CallerTurn, EndOfTurn, Interrupt, Mark, SilenceTimeout, ToPhone
from voice.phone import metrics
from voice.phone.audio import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, frames, ulaw_to_pcm
from voice.phone.stt.base import SpeechToText, audio_for
from voice.phone.tts.base import TextToSpeech
from voice.phone.vad.base import VoiceActivityDetector, voiced

logger = logging.getLogger(__name__)


class TurnDetector:
    """The caller's turns in their audio: an Interrupt when they start, their speech, an EndOfTurn.

    The voice-activity provider judges each 20 ms frame. A turn ends after a
    window of silence, by pocketsphinx's Endpointer's rule: fewer than a tenth
    of the window's frames speech. The window is `end_of_turn_ms` (much
    shorter ones split callers' sentences at commas) until the words heard so
    far say otherwise: the call sets `window_ms` shorter once they are a whole
    answer, longer while they stop mid-sentence, up to `longest_ms`. A turn
    starts sooner, once most of a 200 ms window is speech with a voice in it:
    a 300 ms "no" is a whole answer, and breath, hiss and line noise, which
    the provider's loose mode takes for speech, are not voiced. The rule is
    applied here because pocketsphinx 5.1's Endpointer never frees its C state.
    """

    RATIO = 0.9  # of the end-of-turn window that must be silence to end a turn
    START_MS = 200
    START_SPEECH = 8  # frames of the start window the provider must call speech,
    START_VOICED = 6  # and frames with a voice in them: over a tenth of a second of voicing

    def __init__(self, vad: VoiceActivityDetector, *, end_of_turn_ms: int = 500, longest_ms: int | None = None):
        self.vad = vad
        self.end_of_turn_ms = end_of_turn_ms
        self._start_frames = self.START_MS // FRAME_MS
        longest = max(longest_ms or end_of_turn_ms, end_of_turn_ms)
        # Silence before the call: a turn that starts early still ends only after a whole window of silence.
        self._decisions: collections.deque[bool] = collections.deque([False] * self._frames(longest), maxlen=self._frames(longest))
        self._voiced: collections.deque[bool] = collections.deque(maxlen=self._start_frames)
        self.window_ms = end_of_turn_ms
        self.speaking = False
        # Speech is decided a little late: keep a window of audio so no word loses its start.
        self._recent: collections.deque[bytes] = collections.deque(maxlen=end_of_turn_ms // FRAME_MS + 5)

    def _frames(self, window_ms: int) -> int:
        """pocketsphinx's arithmetic, so turns end on the same frames as with its Endpointer."""
        window = int(window_ms / FRAME_MS + 0.5)
        if not (0 < int((1.0 - self.RATIO) * window + 0.5) and self._start_frames <= window):
            raise ValueError(f"an end-of-turn window of {window_ms} ms is too short to find turns in")
        return window

    @property
    def window_ms(self) -> int:
        return self._window_ms

    @window_ms.setter
    def window_ms(self, ms: int) -> None:
        window = min(self._frames(ms), self._decisions.maxlen)
        self._window_ms, self._window = window * FRAME_MS, window
        self._end_frames = int((1.0 - self.RATIO) * window + 0.5)

    def _in_speech(self, pcm8k: bytes) -> bool:
        speech = self.vad.is_speech(pcm8k)
        self._decisions.append(speech)
        self._voiced.append(speech and voiced(pcm8k))
        recent = reversed(self._decisions)
        if self.speaking:
            return sum(itertools.islice(recent, self._window)) >= self._end_frames
        return sum(itertools.islice(recent, self._start_frames)) >= self.START_SPEECH and sum(self._voiced) >= self.START_VOICED

    def process(self, frame: Audio, now: float) -> list[CallerTurn]:
        """One 20 ms frame of the caller's audio in; what it tells about their turn out."""
        out: list[CallerTurn] = []
        self._recent.append(frame.ulaw)
        in_speech = self._in_speech(ulaw_to_pcm(frame.ulaw))
        if in_speech and not self.speaking:
            self.speaking = True
            self.window_ms = self.end_of_turn_ms
            out += [Interrupt(), Audio(b"".join(self._recent))]
        elif self.speaking:
            out.append(frame)
        if self.speaking and not in_speech:
            self.speaking = False
            out.append(EndOfTurn(at=now, waited_ms=self.window_ms))
        return out

    def end_now(self, now: float, *, by: str) -> EndOfTurn:
        """Something surer than silence (the recogniser's own endpointing) says the turn is over."""
        self.speaking = False
        self._voiced.clear()  # what this detector still takes for speech is not the start of another turn
        silent = sum(1 for _ in itertools.takewhile(lambda speech: not speech, reversed(self._decisions)))
        return EndOfTurn(at=now, waited_ms=silent * FRAME_MS, by=by)


class Recognizer:
    """Feeds the caller's speech to the speech-to-text provider while they talk; their words at the end of the turn.

    Partial transcripts are not passed on; the call reads `heard` to tell the
    turn detector how long a silence ends the turn. Words the provider doubts
    go on marked not confident, for the conversation to check rather than act on.
    """

    def __init__(self, stt: SpeechToText):
        self.stt = stt
        self.heard = ""  # of the turn so far, as the provider last told it
        self._resample_state = None

    async def process(self, frame: CallerTurn) -> CallerText | None:
        if isinstance(frame, Interrupt):
            self._resample_state = None
            self.heard = ""
            await self.stt.begin()
        elif isinstance(frame, Audio):
            audio, self._resample_state = audio_for(self.stt, frame.ulaw, self._resample_state)
            if (partial := await self.stt.feed(audio)) is not None:
                self.heard = partial
        else:
            heard = await self.stt.finish()
            return CallerText(heard.text.strip(), confident=heard.confident)
        return None


class Speaker:
    """A sentence in, the agent's Audio out in whole 20 ms frames, several to a message.

    Twilio takes any chunk size; five frames (100 ms) a message is a fifth of
    the websocket traffic of one frame a message, which is most of the server's
    work per call, while staying fine-grained enough for pacing and `clear`.
    A sentence the provider fails on is cut short, and the reply goes on.
    """

    def __init__(self, tts: TextToSpeech, *, frames_per_message: int = 5):
        self.tts = tts
        self.message_bytes = FRAME_BYTES * frames_per_message

    async def process(self, sentence: AgentSentence) -> AsyncIterator[Audio]:
        remainder = b""
        try:
            async for chunk in self.tts.synthesize(sentence.text):
                data = remainder + chunk
                whole = len(data) - len(data) % self.message_bytes
                for i in range(0, whole, self.message_bytes):
                    yield Audio(data[i : i + self.message_bytes])
                remainder = data[whole:]
        except Exception:
            logger.exception("speech synthesis failed")
            metrics.PROVIDER_ERRORS.labels("tts").inc()
            return
        if remainder:
            yield Audio(b"".join(frames(remainder)))


class Player:
    """Sends the agent's Audio to the phone at real-time pace, a little ahead, with a Mark after each sentence.

    Twilio plays what it is sent in order and echoes a mark once everything
    before it has played: the echoes tell what the caller actually heard.
    Sending far ahead would make a barge-in's `clear` throw away more, so
    it keeps at most `lead_ms` queued.
    """

    def __init__(self, send: Callable[[ToPhone], Awaitable[None]], *, lead_ms: int = 200,
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

    async def play(self, frame: Audio) -> None:
        now = self.clock()
        if self.play_until and self.play_until < now and self.outstanding:
            metrics.LATE_FRAMES.inc()  # the caller's queue ran dry: a gap in what they hear
        ahead = self.play_until - now
        if ahead > self.lead:
            await asyncio.sleep(ahead - self.lead)
        self.play_until = max(self.play_until, self.clock()) + len(frame.ulaw) / SAMPLE_RATE
        self.segment_open = True
        await self.send(frame)
        metrics.FRAMES_OUT.inc(len(frame.ulaw) // FRAME_BYTES)

    async def end_segment(self, sentence: str) -> str:
        self._counter += 1
        self.segment_open = False
        name = f"reply-{self._counter}"
        self.outstanding[name] = sentence
        await self.send(Mark(name))
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
        await self.send(Interrupt())
        return unheard

    def take_heard(self) -> list[str]:
        heard, self.heard = self.heard, []
        return heard


class IdleTimer:
    """Reprompts a silent caller: a SilenceTimeout after `seconds` of waiting, counting the silences in a row.

    Started when it is the caller's turn to speak; their speaking stops it and starts the count again.
    """

    def __init__(self, detector: TurnDetector, respond: Callable[[SilenceTimeout], None], *, seconds: float = 8.0):
        self.detector = detector
        self.respond = respond
        self.seconds = seconds
        self.silences = 0
        self._task: asyncio.Task | None = None
        self._closed = False

    def start(self) -> None:
        self._cancel()
        if not self._closed:
            self._task = asyncio.ensure_future(self._wait())

    def caller_spoke(self) -> None:
        self.silences = 0
        self._cancel()

    def close(self) -> None:
        """The call is over: no more reprompts."""
        self._closed = True
        self._cancel()
        self._task = None  # the cancelled task's traceback refers to this timer: no cycle to wait for the collector

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _wait(self) -> None:
        await asyncio.sleep(self.seconds)
        if not self.detector.speaking:
            self.silences += 1
            self.respond(SilenceTimeout(self.silences))
