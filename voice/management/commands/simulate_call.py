"""Play Twilio: phone the receptionist through its real webhook and media stream, with synthesized speech.

It posts a correctly signed incoming-call webhook, follows the TwiML to the
stream URL, sends `connected` and `start`, streams the caller's turns as
8 kHz mu-law in 20 ms frames at real-time pace (silence between turns, as
Twilio does), plays the agent's audio back at real time, echoes each `mark`
once the audio before it has played, honours `clear`, and answers the REST
calls the server makes to hang up or transfer (a fake Twilio API on
127.0.0.1; point the server's TWILIO_API_BASE_URL at it).
"""

import asyncio
import base64
import json
import re
import statistics
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import websockets
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from twilio.request_validator import RequestValidator

from voice.simulator.twilio_api import FakeTwilioApi
from voice.phone.audio import FRAME_BYTES, MULAW_SILENCE, frames, resample, ulaw_to_pcm
from voice.phone.tts.espeak import synthesize_ulaw

SILENCE = bytes([MULAW_SILENCE]) * FRAME_BYTES
# Maria Garcia (the default caller ID) books a cleaning. Phrased as an offline
# recogniser hears espeak well; a cloud recogniser needs no such care.
DEFAULT_SCRIPT = [
    "I'd like to book a teeth cleaning.",
    "Monday at nine a m.",
    "April twelfth nineteen eighty.",
    "Yes please.",
    "No, that's all. Thank you, bye.",
]
AGENT_DONE_SECONDS = 0.9  # quiet after the agent's last mark before the caller speaks
MAX_CALL_SECONDS = 180


@dataclass
class CallResult:
    call_sid: str
    lines: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    unanswered: int = 0
    late_frames: int = 0
    frames_received: int = 0
    ended_by: str = ""
    call_id: int | None = None
    error: str = ""


class SimulatedCaller:
    """One call: the Twilio side of the webhook and the media stream."""

    def __init__(self, *, url: str, to: str, caller: str, script: list[str], api: FakeTwilioApi | None,
                 transcribe: bool, account_sid: str):
        self.url = url.rstrip("/")
        self.to, self.caller, self.script = to, caller, script
        self.api = api
        self.transcribe = transcribe
        self.account_sid = account_sid
        self.call_sid = "CA" + uuid.uuid4().hex
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.result = CallResult(self.call_sid)
        # What Twilio would be playing to the caller, and marks waiting for it to play.
        self.playback = bytearray()
        self.marks: list[tuple[int, str]] = []  # (bytes still to play before it, name)
        self.agent_audio = bytearray()
        self.last_agent_activity = time.monotonic()
        self.waiting_since: float | None = None  # the caller's last speech frame
        self.in_reply = False
        # A caller speaks after hearing the agent (the greeting, then each answer), as people do.
        self.agent_spoke = False

    async def run(self) -> CallResult:
        try:
            stream_url, parameters = await self._webhook()
            hung_up = self.api.expect(self.call_sid) if self.api else asyncio.Event()
            async with websockets.connect(stream_url, max_size=2**20) as socket:
                await socket.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                await socket.send(json.dumps({
                    "event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid,
                    "start": {
                        "accountSid": self.account_sid, "streamSid": self.stream_sid, "callSid": self.call_sid,
                        "tracks": ["inbound"], "customParameters": parameters,
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    },
                }))
                receiver = asyncio.ensure_future(self._receive(socket))
                try:
                    await asyncio.wait_for(self._talk(socket, hung_up), timeout=MAX_CALL_SECONDS)
                finally:
                    receiver.cancel()
                if self.result.ended_by != "socket closed":
                    await socket.send(json.dumps({
                        "event": "stop", "sequenceNumber": "99999", "streamSid": self.stream_sid,
                        "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                    }))
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError, CommandError) as error:
            self.result.error = f"{type(error).__name__}: {error}"
        return self.result

    async def _webhook(self) -> tuple[str, dict]:
        path = "/api/webhooks/incoming-call"
        params = {
            "CallSid": self.call_sid, "AccountSid": self.account_sid, "From": self.caller, "To": self.to,
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01",
        }
        signature = RequestValidator(settings.TWILIO_AUTH_TOKEN or "unset").compute_signature(
            settings.PUBLIC_BASE_URL.rstrip("/") + path, params
        )
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(self.url + path, data=params, headers={"X-Twilio-Signature": signature})
        if response.status_code != 200:
            raise CommandError(f"incoming-call webhook answered {response.status_code}: {response.text[:200]}")
        root = ET.fromstring(response.text)
        stream = root.find("./Connect/Stream")
        if stream is None:
            raise CommandError(f"no <Connect><Stream> in the TwiML: {response.text[:300]}")
        parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
        # The TwiML names the public host; this simulator talks to the server directly.
        public = urlsplit(stream.get("url"))
        local = urlsplit(self.url)
        scheme = "wss" if local.scheme == "https" else "ws"
        self.result.lines.append(f"[webhook] TwiML stream {public.scheme}://{public.netloc}{public.path}")
        return f"{scheme}://{local.netloc}{public.path}", parameters

    async def _receive(self, socket) -> None:
        try:
            async for raw in socket:
                message = json.loads(raw)
                event = message.get("event")
                if message.get("streamSid") != self.stream_sid:
                    self.result.lines.append(f"[protocol] message without our streamSid: {event}")
                if event == "media":
                    audio = base64.b64decode(message["media"]["payload"])
                    self.result.frames_received += 1
                    if self.waiting_since is not None:
                        self.result.latencies_ms.append((time.monotonic() - self.waiting_since) * 1000)
                        self.waiting_since = None
                    if self.in_reply and not self.playback:
                        self.result.late_frames += 1  # the caller's audio ran dry mid-reply
                    self.in_reply = True
                    self.agent_spoke = True
                    self.playback += audio
                    self.agent_audio += audio
                    self.last_agent_activity = time.monotonic()
                elif event == "mark":
                    self.marks.append((len(self.playback), message["mark"]["name"]))
                    self.last_agent_activity = time.monotonic()
                elif event == "clear":
                    self.playback.clear()
                    pending, self.marks = self.marks, []
                    for _, name in pending:  # Twilio echoes marks cleared away too
                        await socket.send(json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}))
                    self.result.lines.append("[clear] the agent stopped talking")
        except websockets.ConnectionClosed:
            self.result.ended_by = self.result.ended_by or "socket closed"

    async def _tick(self, socket, audio: bytes, sequence: list[int]) -> None:
        """One 20 ms step: send a caller frame, play one agent frame, echo marks it reached."""
        sequence[0] += 1
        await socket.send(json.dumps({
            "event": "media", "sequenceNumber": str(sequence[0]), "streamSid": self.stream_sid,
            "media": {"track": "inbound", "chunk": str(sequence[0]), "timestamp": str(sequence[0] * 20),
                      "payload": base64.b64encode(audio).decode()},
        }))
        played = min(FRAME_BYTES, len(self.playback))
        del self.playback[:played]
        ready = [(left - played, name) for left, name in self.marks]
        self.marks = [(left, name) for left, name in ready if left > 0]
        for left, name in ready:
            if left <= 0:
                await socket.send(json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}))
                self.last_agent_activity = time.monotonic()
        if not self.playback and not self.marks:
            self.in_reply = False

    async def _talk(self, socket, hung_up: asyncio.Event) -> None:
        sequence = [1]
        started = time.monotonic()
        next_tick = time.monotonic()
        turns = list(self.script)
        pending_speech: list[bytes] = []
        while True:
            if hung_up.is_set():
                update = self.api.calls.get(self.call_sid, {}) if self.api else {}
                await self._flush_agent_turn()
                if "Twiml" in update:
                    number = re.search(r"<Dial>([^<]+)</Dial>", update["Twiml"])
                    self.result.ended_by = f"transferred to {number.group(1) if number else '?'}"
                else:
                    self.result.ended_by = "agent hung up"
                return
            if self.result.ended_by == "socket closed":
                return
            quiet = time.monotonic() - self.last_agent_activity
            agent_done = self.agent_spoke and not self.playback and not self.marks and quiet > AGENT_DONE_SECONDS
            if not pending_speech and agent_done and self.waiting_since is None:
                if time.monotonic() - started > 2 and not turns:
                    await asyncio.sleep(3)  # give the agent a moment to hang up by itself
                    if not hung_up.is_set():
                        self.result.ended_by = "caller hung up"
                    else:
                        continue
                    return
                if turns:
                    await self._flush_agent_turn()
                    line = turns.pop(0)
                    self.agent_spoke = False
                    self.result.lines.append(f"CALLER: {line}")
                    pending_speech = frames(await asyncio.to_thread(synthesize_ulaw, line))
            frame = pending_speech.pop(0) if pending_speech else SILENCE
            await self._tick(socket, frame, sequence)
            if frame is not SILENCE and not pending_speech:
                self.waiting_since = time.monotonic()  # the caller's last speech frame just went out
            elif self.waiting_since is not None and time.monotonic() - self.waiting_since > 10:
                self.result.unanswered += 1
                self.waiting_since = None
                self.agent_spoke = True  # give up waiting; the caller carries on
            next_tick += 0.02
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_tick = time.monotonic()

    async def _flush_agent_turn(self) -> None:
        if not self.agent_audio:
            return
        audio, self.agent_audio = bytes(self.agent_audio), bytearray()
        if self.transcribe:
            text = await asyncio.to_thread(_transcribe, audio)
            self.result.lines.append(f"AGENT (the simulator's own recogniser heard): {text}")
        else:
            self.result.lines.append(f"AGENT: <{len(audio) / 8000:.1f} s of speech>")


def _transcribe(ulaw: bytes) -> str:
    import os

    import pocketsphinx

    pcm16, _ = resample(ulaw_to_pcm(ulaw), 8000, 16000)
    decoder = pocketsphinx.Decoder(samprate=16000, logfn=os.devnull)
    decoder.start_utt()
    decoder.process_raw(pcm16, False, True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis else ""


def _recorded(call_sid: str) -> tuple[int | None, list[str], list[str]]:
    """The call as the server recorded it: its turns and the appointments it created or changed."""
    from bookings.selectors import appointment_list_by_ids
    from calls.models import Call

    call = Call.objects.filter(call_sid=call_sid).first()
    if call is None:
        return None, [], []
    turns = [f"{t.get_speaker_display().upper()}: {t.text}" + (f"   {t.latency}" if t.latency else "")
             for t in call.turns.order_by("index")]
    state = json.loads(call.state) if call.state else {}
    ids = state.get("tools", {}).get("changed_appointment_ids", [])
    appointments = [
        f"{a.appointment_type.name} with {a.provider.name} on {a.start.astimezone(call.tenant.tzinfo):%A, %B %d at %H:%M} "
        f"for {a.patient.full_name}: {a.status}"
        for a in appointment_list_by_ids(tenant=call.tenant, ids=ids)
    ]
    return call.pk, turns, appointments


class Command(BaseCommand):
    help = "Phone the receptionist as Twilio would, with synthesized speech; with --calls N, measure N at once."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo")
        parser.add_argument("--say", action="append", help="A caller turn (repeat for several).")
        parser.add_argument("--script", help="A file with one caller turn per line.")
        parser.add_argument("--calls", type=int, default=1)
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--from", dest="caller", default="+15551110001")
        parser.add_argument("--twilio-port", type=int, default=8010,
                            help="Port of the fake Twilio REST API (the server's TWILIO_API_BASE_URL).")
        parser.add_argument("--no-transcribe", action="store_true", help="Do not transcribe the agent's audio.")

    def handle(self, *args, tenant, say, script, calls, url, caller, twilio_port, no_transcribe, **options):
        from tenants.models import PhoneNumber

        if calls < 1 or calls > 200:
            raise CommandError("--calls must be between 1 and 200.")
        if script:
            try:
                with open(script) as handle:
                    lines = [line.strip() for line in handle if line.strip()]
            except OSError as error:
                raise CommandError(f"cannot read --script: {error}") from None
        else:
            lines = say or DEFAULT_SCRIPT
        number = PhoneNumber.objects.filter(tenant__slug=tenant).values_list("number", flat=True).first()
        if number is None:
            raise CommandError(f"No practice {tenant!r} with a phone number; run seed_demo first.")
        try:
            api = FakeTwilioApi(twilio_port)
        except OSError as error:
            raise CommandError(f"cannot listen on 127.0.0.1:{twilio_port} for the fake Twilio API: {error}") from None
        try:
            results = asyncio.run(self._run(url, number, caller, lines, calls, api, not no_transcribe and calls == 1))
        finally:
            api.close()
        self._report(results)
        if any(r.error for r in results):
            raise CommandError("some calls failed: " + "; ".join(r.error for r in results if r.error))

    async def _run(self, url, number, caller, lines, calls, api, transcribe):
        account = settings.TWILIO_ACCOUNT_SID or "AC" + "0" * 32
        callers = [
            SimulatedCaller(url=url, to=number, caller=caller if calls == 1 else f"+1555300{i:04d}", script=lines,
                            api=api, transcribe=transcribe, account_sid=account)
            for i in range(calls)
        ]
        return await asyncio.gather(*(c.run() for c in callers))

    def _report(self, results: list[CallResult]) -> None:
        out = self.stdout
        if len(results) == 1:
            result = results[0]
            for line in result.lines:
                out.write(line)
            out.write(f"[call ended: {result.ended_by or result.error}]")
            call_id, turns, appointments = _recorded(result.call_sid)
            if call_id is not None:
                out.write(f"\nThe call as the server recorded it, exact words and latency in ms (call #{call_id}):")
                for turn in turns:
                    out.write("  " + turn)
                out.write("Appointments made or changed on this call:")
                for appointment in appointments or ["  (none)"]:
                    out.write("  " + appointment)
        latencies = [ms for r in results for ms in r.latencies_ms]
        if latencies:
            ordered = sorted(latencies)
            p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
            out.write(
                f"\n{len(results)} call(s), {len(latencies)} turns answered, "
                f"{sum(r.unanswered for r in results)} unanswered; turn latency (last caller speech frame sent "
                f"to first reply frame received): p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, "
                f"max {ordered[-1]:.0f} ms; late frames {sum(r.late_frames for r in results)} of "
                f"{sum(r.frames_received for r in results)} received"
            )
