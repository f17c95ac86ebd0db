"""One phone call: the stages of `voice.phone.stages` wired to its conversation.

The caller's turns go to the conversation as they end; its sentences are
spoken as they come, and its transfer or hang-up waits until they have been
heard. The caller speaking (or pressing a key) over the agent interrupts the
reply, and the agent's turn records only what the marks say was heard, with
the rest of the reply kept apart as unheard. Each agent turn also records
which providers served it. The websocket consumer only translates Twilio's
JSON to and from a PhoneCall.
"""

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar

from voice.conversation.understanding.turns import SoFar, heard_so_far
from voice.frames import AgentSentence, Audio, CallerTurn, CallStarted, EndCall, Event, Interrupt, ToPhone, TransferCall
from voice.phone import metrics
from voice.phone.keypad import KeypadEntry
from voice.phone.metrics import TurnTiming
from voice.phone.stages import IdleTimer, Player, Recognizer, Speaker, TurnDetector
from voice.phone.stt.base import SpeechToText, release_freed_memory
from voice.phone.tts.base import TextToSpeech
from voice.phone.vad.base import VoiceActivityDetector

logger = logging.getLogger(__name__)

APOLOGY = AgentSentence("I'm sorry, something went wrong on my side. Let me connect you to our team.")


class Telephony:
    """Hangs up and transfers the live call (Twilio REST in production)."""

    async def hang_up(self) -> None:
        pass

    async def transfer(self, number: str) -> None:
        pass


class PhoneCall:
    """Runs the stages for one call: its public methods are the phone's events; it sends frames back through `send`."""

    in_progress: ClassVar[int] = 0  # calls of this process started and not yet stopped

    def __init__(
        self, *, conversation, stt: SpeechToText, tts: TextToSpeech, vad: VoiceActivityDetector,
        send: Callable[[ToPhone], Awaitable[None]], telephony: Telephony, end_of_turn_ms: int = 500,
        answer_ms: int | None = None, mid_sentence_ms: int | None = None, idle_seconds: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.conversation = conversation
        self.stt = stt
        # The silence that ends a turn, by what the words so far are: a whole answer, nothing to tell, half a sentence.
        self.windows = {SoFar.ANSWERED: answer_ms or end_of_turn_ms, SoFar.OPEN: end_of_turn_ms,
                        SoFar.UNFINISHED: mid_sentence_ms or end_of_turn_ms}
        self.detector = TurnDetector(vad, end_of_turn_ms=end_of_turn_ms, longest_ms=max(self.windows.values()))
        self._expecting = "free"
        self._judged = ("", SoFar.OPEN)  # the words last judged, and what they were
        self.recognizer = Recognizer(stt)
        self.speaker = Speaker(tts)
        self.player = Player(send, clock=clock)
        self.idle = IdleTimer(self.detector, self._respond, seconds=idle_seconds)
        self.keypad = KeypadEntry(self._respond)
        self.telephony = telephony
        self.clock = clock
        self._reply: asyncio.Task | None = None
        self._connecting: asyncio.Task | None = None
        self._after_playback: EndCall | TransferCall | None = None
        self._spoken: list[str] = []
        self._timing: TurnTiming | None = None
        self.ended = False

    async def start(self) -> None:
        PhoneCall.in_progress += 1
        metrics.ACTIVE_CALLS.inc()
        self._respond(CallStarted())
        # The recogniser connects while the greeting plays; a failure shows again at the first turn.
        self._connecting = asyncio.ensure_future(self.stt.connect())
        self._connecting.add_done_callback(lambda task: task.cancelled() or task.exception())

    async def audio(self, ulaw: bytes) -> None:
        metrics.FRAMES_IN.inc()
        now = self.clock()
        for frame in self.detector.process(Audio(ulaw), now):
            await self._turn(frame)
        if self.detector.speaking:
            so_far = self._so_far()
            self.detector.window_ms = self.windows[so_far]
            # The recogniser's endpointing may be surer than silence, but never over half a sentence.
            if (by := self.stt.turn_ended()) is not None and so_far is not SoFar.UNFINISHED:
                await self._turn(self.detector.end_now(now, by=by))

    def _so_far(self) -> SoFar:
        heard = self.recognizer.heard
        if heard != self._judged[0]:
            self._judged = (heard, heard_so_far(heard, expecting=self._expecting, today=dt.date.today()))
        return self._judged[1]

    async def _turn(self, frame: CallerTurn) -> None:
        if isinstance(frame, Interrupt):
            self.idle.caller_spoke()
            await self._interrupt()
        said = await self.recognizer.process(frame)
        if said is None:
            return
        timing = TurnTiming.after(frame, self.clock())  # the frame was the turn's EndOfTurn
        if said.text:
            self._respond(said, timing)
        else:
            self.idle.start()

    async def dtmf(self, digit: str) -> None:
        await self._interrupt()
        self.keypad.press(digit, collecting=self.conversation.listening_for() == "dob")

    async def mark(self, name: str) -> None:
        replying = self._reply is not None and not self._reply.done()
        if self.player.marked(name) is not None and not self.player.outstanding and not replying:
            await self._reply_heard()

    async def stop(self) -> None:
        """The call is over: cancel everything of this call, finalise its record and give back its memory."""
        if self.ended:
            return
        self.ended = True
        try:
            await self._wind_up()
        finally:  # also when daphne cancels a handler still running 10 s after its socket closed
            self._release()

    async def _wind_up(self) -> None:
        self.idle.close()
        self.keypad.close()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._reply is not None:
            self._reply.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reply
        if (heard := self.player.take_heard()) or self._spoken:
            await self.conversation.record_agent(" ".join(heard), self._latency(), unheard=self._unheard(heard))
        await self.stt.close()
        await self.conversation.finish()

    def _release(self) -> None:
        """Frees what the call held now rather than at some later collection, and returns it to the system."""
        metrics.ACTIVE_CALLS.dec()
        self._reply = None  # a cancelled task's traceback holds the call: a cycle
        PhoneCall.in_progress -= 1
        if not PhoneCall.in_progress:
            # An idle server allocates nothing, so the collector would not run: the cycles a burst of
            # calls leaves (requests, sockets, consumers and their calls) would stay until the next call.
            gc.collect()
        release_freed_memory()

    async def _interrupt(self) -> None:
        """Barge-in: stop talking now, and keep in the transcript only what the caller heard."""
        if self._reply is not None:
            # Not awaited: the caller is talking now, and the reply may be waiting on a worker thread.
            self._reply.cancel()
        if self.player.busy:
            await self.player.clear()
            heard = self.player.take_heard()
            await self.conversation.record_agent(" ".join(heard), self._latency(), interrupted=True,
                                                 unheard=self._unheard(heard))
            self._spoken = []
            self._after_playback = None

    def _respond(self, event: Event, timing: TurnTiming | None = None) -> None:
        self._timing = timing
        self._reply = asyncio.ensure_future(self._run_reply(event, timing))

    async def _run_reply(self, event: Event, timing: TurnTiming | None) -> None:
        started = self.clock()
        try:
            async for output in self.conversation.handle(event, record_agent=False):
                if isinstance(output, AgentSentence):
                    if timing:
                        timing.engine_answered(self.clock() - started)
                    await self._say(output, timing)
                else:
                    self._after_playback = output
            self._expecting = self.conversation.listening_for()
            self.stt.listen_for(self._expecting)
        except Exception:
            logger.exception("reply failed on call %s", self.conversation.call.pk)
            metrics.PROVIDER_ERRORS.labels("engine").inc()
            await self._say(APOLOGY, timing)
            self._after_playback = EndCall()
        if not self.player.outstanding:
            await self._reply_heard()

    async def _say(self, sentence: AgentSentence, timing: TurnTiming | None) -> None:
        self._spoken.append(sentence.text)
        started = self.clock()
        async for frame in self.speaker.process(sentence):
            if timing:
                timing.audio_synthesized(self.clock() - started)
            await self.player.play(frame)
            if timing:
                timing.frame_sent(self.clock())
        await self.player.end_segment(sentence.text)

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
        else:
            self.idle.start()

    def _unheard(self, heard: list[str]) -> str:
        """The reply's sentences after those heard: marks come back in order, so the heard ones come first."""
        return " ".join(self._spoken[len(heard):])

    def _latency(self) -> dict:
        """The turn's timing, and the providers serving the call as it ends (after any switch to a fallback).

        The recogniser only when the turn answers the caller's words: a greeting or a reprompt heard nothing.
        """
        engine = self.conversation.engine
        stages = {"engine": (engine.serving, engine.fell_back), "tts": (self.speaker.tts.name, self.speaker.tts.switched)}
        if self._timing:
            stages = {"stt": (self.stt.name, self.stt.switched), **stages}
        latency = {**(self._timing.as_dict() if self._timing else {}),
                   "providers": {stage: name for stage, (name, _) in stages.items()}}
        if fallbacks := [stage for stage, (_, switched) in stages.items() if switched]:
            latency["fallbacks"] = fallbacks
        return latency
