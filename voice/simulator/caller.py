"""A simulated caller: Twilio's side of one call, from the incoming-call webhook to the stream's `stop`.

It posts a correctly signed webhook, follows the TwiML to the stream URL,
sends `connected` and `start`, streams the caller's turns (each line its
`Lines` give once the agent has finished speaking, in its voice) as 8 kHz
mu-law in 20 ms frames at real-time pace (silence between turns, as Twilio
does, also while the next line is being chosen and synthesized), plays
the agent's audio back at real time, echoes each `mark` once the audio before
it has played, honours `clear`, and learns of a hang-up or transfer from the
fake Twilio REST API the server calls.
"""

import asyncio
import base64
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import websockets

from voice.phone.audio import FRAME_BYTES, MULAW_SILENCE, frames, resample, ulaw_to_pcm
from voice.simulator.protocol import Endpoint, SimulatorError, TwilioCall, incoming_call
from voice.simulator.twilio_api import FakeTwilioApi
from voice.simulator.voices import Voice, espeak

SILENCE = bytes([MULAW_SILENCE]) * FRAME_BYTES
FRAME_SECONDS = 0.02
AGENT_DONE_SECONDS = 0.9  # quiet after the agent's last mark before the caller speaks
UNANSWERED_SECONDS = 10  # after this long without a reply the caller carries on
HANG_UP_WAIT_SECONDS = 3  # with nothing left to say, the caller lets the agent hang up first
MAX_CALL_SECONDS = 180
SOCKET_CLOSED = "socket closed"


@dataclass
class CallResult:
    """What the caller's side saw: Twilio's view of the call, not the server's record of it."""

    call_sid: str
    latencies_ms: list[float] = field(default_factory=list)  # last speech frame sent to first reply frame
    unanswered: int = 0
    late_frames: int = 0  # the agent's audio ran dry in the middle of a reply
    frames_received: int = 0
    ended_by: str = ""
    error: str = ""
    notes: list[str] = field(default_factory=list)  # protocol events worth a line: `clear`, a stray streamSid
    heard: list[str] = field(default_factory=list)  # the agent's turns as the simulator's own recogniser heard them


class Lines(Protocol):
    """What the caller says next, asked once the agent has finished speaking; None: nothing more to say."""

    async def next_line(self, call_sid: str) -> str | None: ...


class Script:
    """The same lines in order, whatever the agent says."""

    def __init__(self, lines: list[str]):
        self.lines = list(lines)

    async def next_line(self, call_sid: str) -> str | None:
        return self.lines.pop(0) if self.lines else None


class _Pacer:
    """Real time, one frame every 20 ms; when late, it starts counting again from now."""

    def __init__(self) -> None:
        self.next_tick = time.monotonic()

    async def wait(self) -> None:
        self.next_tick += FRAME_SECONDS
        delay = self.next_tick - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            self.next_tick = time.monotonic()


class SimulatedCaller:
    """One call: the Twilio side of the webhook and the media stream."""

    def __init__(self, *, endpoint: Endpoint, caller: str, lines: Lines, api: FakeTwilioApi | None,
                 account_sid: str, hear_agent: bool = False, voice: Voice = espeak):
        self.endpoint, self.caller, self.lines, self.voice = endpoint, caller, lines, voice
        self.api = api
        self.hear_agent = hear_agent
        self.ids = TwilioCall(account_sid)
        self.result = CallResult(self.ids.call_sid)
        self.sequence = 1
        # What Twilio would be playing to the caller, and marks waiting for it to play.
        self.playback = bytearray()
        self.marks: list[tuple[int, str]] = []  # (bytes still to play before it, name)
        self.agent_audio = bytearray()  # the agent's current turn, kept only to hear it
        self.last_agent_activity = time.monotonic()
        self.waiting_since: float | None = None  # the caller's last speech frame
        self.in_reply = False
        # A caller speaks after hearing the agent (the greeting, then each answer), as people do.
        self.agent_spoke = False

    @property
    def call_sid(self) -> str:
        return self.ids.call_sid

    async def run(self) -> CallResult:
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                stream_url, parameters = await incoming_call(client, self.endpoint, self.ids, self.caller)
            hung_up = self.api.expect(self.call_sid) if self.api else asyncio.Event()
            async with websockets.connect(stream_url, max_size=2**20) as socket:
                await socket.send(self.ids.connected())
                await socket.send(self.ids.start(parameters))
                receiver = asyncio.ensure_future(self._receive(socket))
                try:
                    await asyncio.wait_for(self._talk(socket, hung_up), timeout=MAX_CALL_SECONDS)
                finally:
                    receiver.cancel()
                if self.result.ended_by != SOCKET_CLOSED:
                    await socket.send(self.ids.stop())
        except (OSError, httpx.HTTPError, websockets.WebSocketException, TimeoutError,
                SimulatorError) as error:
            self.result.error = f"{type(error).__name__}: {error}"
        return self.result

    async def _receive(self, socket) -> None:
        try:
            async for raw in socket:
                message = json.loads(raw)
                event = message.get("event")
                if message.get("streamSid") != self.ids.stream_sid:
                    self.result.notes.append(f"[protocol] message without our streamSid: {event}")
                if event == "media":
                    self._play(base64.b64decode(message["media"]["payload"]))
                elif event == "mark":
                    self.marks.append((len(self.playback), message["mark"]["name"]))
                    self.last_agent_activity = time.monotonic()
                elif event == "clear":
                    await self._clear(socket)
        except websockets.ConnectionClosed:
            self.result.ended_by = self.result.ended_by or SOCKET_CLOSED

    def _play(self, audio: bytes) -> None:
        self.result.frames_received += 1
        if self.waiting_since is not None:
            self.result.latencies_ms.append((time.monotonic() - self.waiting_since) * 1000)
            self.waiting_since = None
        if self.in_reply and not self.playback:
            self.result.late_frames += 1
        self.in_reply = True
        self.agent_spoke = True
        self.playback += audio
        if self.hear_agent:
            self.agent_audio += audio
        self.last_agent_activity = time.monotonic()

    async def _clear(self, socket) -> None:
        self.playback.clear()
        pending, self.marks = self.marks, []
        for _, name in pending:  # Twilio echoes marks cleared away too
            await socket.send(self.ids.mark(name))
        self.result.notes.append("[clear] the agent stopped talking")

    async def _talk(self, socket, hung_up: asyncio.Event) -> None:
        pacer = _Pacer()
        speech: list[bytes] = []
        coming: asyncio.Future | None = None  # the next line, being chosen and synthesized
        leave_at = math.inf  # set once there is nothing left to say
        try:
            while not hung_up.is_set():
                if self.result.ended_by == SOCKET_CLOSED:
                    return
                if time.monotonic() > leave_at:
                    self.result.ended_by = "caller hung up"
                    return
                if not speech and coming is None and leave_at == math.inf and self._caller_may_speak():
                    coming = asyncio.ensure_future(self._next_speech())
                if coming is not None and coming.done():
                    said, coming = coming.result(), None
                    if said is None:
                        leave_at = time.monotonic() + HANG_UP_WAIT_SECONDS
                    speech = said or []
                await self._send_frame(socket, speech)
                await pacer.wait()
        finally:
            if coming is not None:
                coming.cancel()
        await self._hear_agent_turn()
        self.result.ended_by = self._how_the_agent_ended()

    def _caller_may_speak(self) -> bool:
        """The agent has spoken, all of it has played, a moment has passed, and no reply is awaited."""
        quiet = time.monotonic() - self.last_agent_activity
        return (self.agent_spoke and not self.playback and not self.marks and quiet > AGENT_DONE_SECONDS
                and self.waiting_since is None)

    async def _next_speech(self) -> list[bytes] | None:
        """The next line's audio frames; None when the caller has nothing more to say."""
        await self._hear_agent_turn()
        line = await self.lines.next_line(self.call_sid)
        if line is None:
            return None
        self.agent_spoke = False
        return frames(await asyncio.to_thread(self.voice, line))

    async def _send_frame(self, socket, speech: list[bytes]) -> None:
        """Sends the caller's next frame (or silence); notes when the caller stops and waits for a reply."""
        frame = speech.pop(0) if speech else SILENCE
        await self._tick(socket, frame)
        if frame is not SILENCE and not speech:
            self.waiting_since = time.monotonic()
        elif self.waiting_since is not None and time.monotonic() - self.waiting_since > UNANSWERED_SECONDS:
            self.result.unanswered += 1
            self.waiting_since = None
            self.agent_spoke = True  # give up waiting; the caller carries on

    async def _tick(self, socket, audio: bytes) -> None:
        """One 20 ms step: send a caller frame, play one agent frame, echo marks it reached."""
        self.sequence += 1
        await socket.send(self.ids.media(self.sequence, audio))
        played = min(FRAME_BYTES, len(self.playback))
        del self.playback[:played]
        ready = [(left - played, name) for left, name in self.marks]
        self.marks = [(left, name) for left, name in ready if left > 0]
        for left, name in ready:
            if left <= 0:
                await socket.send(self.ids.mark(name))
                self.last_agent_activity = time.monotonic()
        if not self.playback and not self.marks:
            self.in_reply = False

    def _how_the_agent_ended(self) -> str:
        update = self.api.calls.get(self.call_sid, {}) if self.api else {}
        if "Twiml" not in update:
            return "agent hung up"
        number = re.search(r"<Dial>([^<]+)</Dial>", update["Twiml"])
        return f"transferred to {number.group(1) if number else '?'}"

    async def _hear_agent_turn(self) -> None:
        if not self.agent_audio:
            return
        audio, self.agent_audio = bytes(self.agent_audio), bytearray()
        self.result.heard.append(await asyncio.to_thread(hear, audio))


def hear(ulaw: bytes) -> str:
    """The simulator's own recognition of the agent's audio: a rough check of what a caller hears.

    A general-purpose pocketsphinx model on telephone audio of a synthetic voice
    gets most words wrong; it shows that speech arrives, not what was said (the
    server's record has the exact words).
    """
    import pocketsphinx  # only for --hear-agent: loading it costs the other runs nothing

    pcm16, _ = resample(ulaw_to_pcm(ulaw), 8000, 16000)
    decoder = pocketsphinx.Decoder(samprate=16000, logfn=os.devnull)
    decoder.start_utt()
    decoder.process_raw(pcm16, False, True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis else ""
