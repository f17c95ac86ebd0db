"""What the server adds to a turn when the speech and the model are cloud services (issue 11).

Run: `make bench-relay`. The web role runs as the Procfile runs it (uvicorn, WEB_CONCURRENCY processes) on
127.0.0.1, with Deepgram, Claude and ElevenLabs pointed at the protocol-faithful fakes of tests/fakes/, which run
in this process and answer with fixed delays: the final transcript 150 ms after the Finalize, the model's first
token 400 ms after the request, the first audio byte 150 ms after the request. `simulate_call --calls N` places N
simultaneous calls (N = 50, 100, 200 on one process, then 200 on one process per core): each caller asks the hours,
hears the answer, says goodbye, and the model ends the call.

Server-added latency = turn latency (last caller speech frame sent to first reply frame received, as the simulated
Twilio client sees it) - the injected delays (700 ms) - the end-of-turn window (500 ms, less the quiet frame that
ends each of the caller's lines). The server's own record of each turn (end of turn decided to first frame sent,
less the delays injected after that decision) is printed beside it. CPU is the server's and its
children's, per minute of call; the simulator's and the fakes' CPU, on the same cores, are printed apart.
Targets: p95 under 30 ms at 200 calls, every turn answered, under 0.5 CPU-seconds per call-minute; it exits
non-zero on a miss. BENCH_DATABASE_URL (an empty database of its own) runs on PostgreSQL instead of SQLite.
"""

import asyncio
import contextlib
import datetime as dt
import functools
import io
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import machine, percentile
from tests.fakes import elevenlabs_api
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.anthropic_api import Reply as ModelReply
from tests.fakes.deepgram_api import SPEECH_RMS, FakeDeepgram
from tests.fakes.elevenlabs_api import FakeElevenLabs
from tests.fakes.elevenlabs_api import Reply as VoiceReply
from tests.servers import free_port, web_command, web_role
from voice.phone.audio import FRAME_MS, frames, rms, ulaw_to_pcm
from voice.simulator.voices import espeak

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ["What are your hours on Friday?", "No, that's all. Thank you, bye."]
HOURS = "On Fridays we're open from eight in the morning until three in the afternoon. Is there anything else I can help with?"
GOODBYE = "You're welcome. Thank you for calling Bright Smile Dental, goodbye!"
SUMMARY = "The caller asked for Friday's opening hours."
END_OF_TURN_MS = 500
FINAL_SECONDS, FIRST_TOKEN_SECONDS, FIRST_BYTE_SECONDS = 0.150, 0.400, 0.150
INJECTED_MS = (FINAL_SECONDS + FIRST_TOKEN_SECONDS + FIRST_BYTE_SECONDS) * 1000
TARGET_P95_MS, TARGET_CPU_PER_CALL_MINUTE, TARGET_CALLS = 30.0, 0.5, 200
START_SECONDS, RUN_SECONDS, SETTLE_SECONDS = 60, 600, 3
NAN = float("nan")


class _LateFinals:
    """A fake's websocket whose endpointed finals leave FINAL_SECONDS late, as the fake's answers to Finalize do
    (final_delay): Deepgram needs that long to give the final words, however the utterance ended."""

    def __init__(self, websocket):
        self._websocket = websocket

    def __getattr__(self, name: str):
        return getattr(self._websocket, name)

    def __aiter__(self):
        return self._websocket.__aiter__()

    async def send(self, message: str) -> None:
        if '"is_final": true' in message and '"from_finalize": false' in message:
            await asyncio.sleep(FINAL_SECONDS)
        await self._websocket.send(message)


class CallerDeepgram(FakeDeepgram):
    """Every connection is one caller saying SCRIPT.

    The fake keeps one script for all its connections, which suits one call; with hundreds at once one call
    would take another's words. Each connection's handler runs in a task of its own, so a context variable gives
    each its own copy of the lines.
    """

    def __init__(self, lines: list[str]):
        self._lines = tuple(lines)
        self._script: ContextVar[list[str]] = ContextVar("script")
        super().__init__()
        self.final_delay = FINAL_SECONDS

    @property
    def transcripts(self) -> list[str]:
        return self._script.get([])

    @transcripts.setter
    def transcripts(self, lines: list[str]) -> None:
        self._script.set(lines)

    async def _handle(self, websocket) -> None:
        self.transcripts = list(self._lines)
        await super()._handle(_LateFinals(websocket))


def _said(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


def model_reply(body: dict) -> ModelReply:
    """A short call: the hours for any question, goodbye and hang up for a goodbye, and the call's summary."""
    if not body.get("stream"):
        return ModelReply(text=SUMMARY)
    if "bye" in _said(body["messages"][-1]).lower():
        return ModelReply(text=GOODBYE, tool_uses=[("end_call", {})], delay=FIRST_TOKEN_SECONDS)
    return ModelReply(text=HOURS, delay=FIRST_TOKEN_SECONDS)


class ReceptionistClaude(FakeAnthropic):
    """Answers by what the caller said: a queue of replies cannot follow hundreds of calls at once.

    The fake picks a reply before it looks at the request, so the request is read first, kept for the handler's
    thread, and handed back to the fake's own handler as it came.
    """

    def __init__(self):
        self._asked = threading.local()
        super().__init__()

    def _handler(self):
        fake = self

        class Reading(super()._handler()):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                fake._asked.body = json.loads(raw or b"{}")
                self.rfile, wire = io.BytesIO(raw), self.rfile
                try:
                    super().do_POST()
                finally:
                    self.rfile = wire

        return Reading

    def _next(self) -> ModelReply:
        return model_reply(self._asked.body)


class SlowElevenLabs(FakeElevenLabs):
    """Every sentence's first byte FIRST_BYTE_SECONDS after the request; the fake's own synthesis is cached
    (callers hear the same few sentences), so what is measured is the delay, not espeak-ng on the shared cores."""

    def __init__(self):
        elevenlabs_api.synthesize_ulaw = functools.cache(elevenlabs_api.synthesize_ulaw)
        super().__init__()

    def _default_reply(self) -> VoiceReply:
        return VoiceReply(delay=FIRST_BYTE_SECONDS)


@dataclass
class Fakes:
    deepgram: CallerDeepgram
    claude: ReceptionistClaude
    voice: SlowElevenLabs

    def env(self) -> dict[str, str]:
        return {
            "DEEPGRAM_API_KEY": "dg-bench-key", "DEEPGRAM_URL": self.deepgram.url,
            "ANTHROPIC_API_KEY": "sk-bench-key", "ANTHROPIC_BASE_URL": self.claude.base_url,
            "ELEVENLABS_API_KEY": "xi-bench-key", "ELEVENLABS_VOICE_ID": "bench-voice",
            "ELEVENLABS_BASE_URL": self.voice.base_url,
        }


@contextlib.contextmanager
def fakes() -> Iterator[Fakes]:
    with CallerDeepgram(SCRIPT) as deepgram, ReceptionistClaude() as claude, SlowElevenLabs() as voice:
        yield Fakes(deepgram, claude, voice)


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_depths(pid: int) -> dict[int, int]:
    """`pid` and every process under it, with how deep: uvicorn's supervisor (with several workers), its workers,
    and their recognition workers."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
    depths = {pid: 0}
    queue = [pid]
    for each in queue:  # grows as it goes: breadth first, bounded by the processes that exist
        for child in (child for child, parent in parents.items() if parent == each):
            depths[child] = depths[each] + 1
            queue.append(child)
    return depths


def process_tree(pid: int) -> list[int]:
    return list(process_depths(pid))


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat(pid)
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def process_lines(pid: int, processes: int, cpu: dict[int, float]) -> list[str]:
    """Each server process: what it is, its CPU seconds over the run, its resident memory now and at its peak."""
    roles = ["uvicorn supervisor", "web worker", "recognition worker"] if processes > 1 else ["web", "recognition worker"]
    lines = []
    for each, depth in process_depths(pid).items():
        with contextlib.suppress(OSError):
            status = dict(line.split(":", 1) for line in Path(f"/proc/{each}/status").read_text().splitlines())
            command = Path(f"/proc/{each}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            role = "resource tracker" if "resource_tracker" in command else roles[min(depth, len(roles) - 1)]
            lines.append(f"{role} {each}: CPU {cpu.get(each, 0.0):.1f} s, RSS {int(status['VmRSS'].split()[0]) / 1024:.0f} MB, "
                         f"peak {int(status['VmHWM'].split()[0]) / 1024:.0f} MB")
    return lines


@functools.cache
def caller_window_ms() -> float:
    """The end-of-turn window as the caller's side counts it: from the last frame of a line, not from its last
    loud one. The caller's lines end in a quiet frame or two, already part of the window when the last is sent."""
    quiet = []
    for line in SCRIPT:
        loud = [rms(ulaw_to_pcm(frame)) >= SPEECH_RMS for frame in frames(espeak(line))]
        quiet.append(loud[::-1].index(True) * FRAME_MS if True in loud else 0)
    return END_OF_TURN_MS - sum(quiet) / len(quiet)


@dataclass
class Run:
    calls: int
    processes: int
    answered: float
    unanswered: float
    client_p50_ms: float
    client_p95_ms: float
    client_max_ms: float
    server_p50_ms: float  # the server's own record: end of turn decided to first frame sent, less the injected delays
    server_p95_ms: float
    failed_calls: int
    fallbacks: int  # calls that left a cloud provider: the fakes were slow or failed, not the relay
    call_minutes: float
    server_cpu: float
    simulator_cpu: float
    fakes_cpu: float
    processes_seen: list[str]

    @property
    def server_added_p50(self) -> float:
        return self.client_p50_ms - INJECTED_MS - caller_window_ms()

    @property
    def server_added_p95(self) -> float:
        return self.client_p95_ms - INJECTED_MS - caller_window_ms()

    @property
    def cpu_per_call_minute(self) -> float:
        return self.server_cpu / self.call_minutes if self.call_minutes else float("inf")

    def lines(self) -> list[str]:
        return [
            f"  {self.calls} calls, {self.processes} process(es): {self.answered:.0f} turns answered, {self.unanswered:.0f} "
            f"unanswered, {self.failed_calls} calls failed, {self.fallbacks} calls left a cloud provider",
            f"    server-added latency (caller's view): p50 {self.server_added_p50:.0f} ms, p95 "
            f"{self.server_added_p95:.0f} ms (turn latency p50 {self.client_p50_ms:.0f}, p95 {self.client_p95_ms:.0f}, "
            f"max {self.client_max_ms:.0f} ms, less {INJECTED_MS:.0f} ms injected and the {caller_window_ms():.0f} ms of the "
            f"{END_OF_TURN_MS} ms window after the caller's last frame)",
            "    server's own record (end of turn decided to first frame sent, less the delays injected after it): "
            f"p50 {self.server_p50_ms:.0f} ms, p95 {self.server_p95_ms:.0f} ms",
            f"    server CPU {self.server_cpu:.1f} s over {self.call_minutes:.1f} call-minutes: "
            f"{self.cpu_per_call_minute:.2f} CPU-s per call-minute; on the same cores, the simulator "
            f"{self.simulator_cpu:.1f} s, the fakes {self.fakes_cpu:.1f} s",
            *(f"    {line}" for line in self.processes_seen),
        ]

    def misses(self) -> list[str]:
        missed = []
        if self.unanswered or self.failed_calls or self.answered < self.calls * len(SCRIPT):
            missed.append(f"{self.calls} calls on {self.processes}: not every turn answered")
        if self.cpu_per_call_minute >= TARGET_CPU_PER_CALL_MINUTE:
            missed.append(f"{self.calls} calls on {self.processes}: {self.cpu_per_call_minute:.2f} CPU-s per call-minute")
        if self.calls == TARGET_CALLS and not self.server_added_p95 < TARGET_P95_MS:
            missed.append(f"{self.calls} calls on {self.processes}: server-added p95 {self.server_added_p95:.0f} ms")
        return missed


@dataclass
class ServerRecord:
    reply_ms: list[float]
    call_minutes: float
    fallbacks: int


def injected_after_decision_ms(latency: dict) -> float:
    """The injected delays between the server deciding the turn is over and its first reply frame.

    When Deepgram's endpointing ended the turn, its final had already come (late) when the server decided; when the
    server's own silence window did, the server then asked for the final with Finalize and waited for it.
    """
    final = 0.0 if latency.get("turn_ended_by", "silence") != "silence" else FINAL_SECONDS * 1000
    return final + (FIRST_TOKEN_SECONDS + FIRST_BYTE_SECONDS) * 1000


def server_record(since: dt.datetime) -> ServerRecord:
    """The server's record of the calls that started after `since`, read from its database."""
    from calls.models import Call, Turn

    calls = list(Call.objects.filter(started_at__gte=since))
    replies = [turn.latency["first_frame_sent_ms"] - injected_after_decision_ms(turn.latency)
               for turn in Turn.objects.filter(call__in=calls, speaker=Turn.Speaker.AGENT)
               if turn.latency.get("first_frame_sent_ms") is not None]
    minutes = sum((c.ended_at - c.started_at).total_seconds() for c in calls if c.ended_at) / 60
    return ServerRecord(replies, minutes, sum(1 for c in calls if c.fallbacks))


SUMMARY_LINE = re.compile(r"(\d+) call\(s\), (\d+) turns answered, (\d+) unanswered;.* p50 (\d+) ms, p95 (\d+) ms, "
                          r"max (\d+) ms")


FAILED = re.compile(r"some calls failed: (.*)")


def place_calls(calls: int, *, env: dict[str, str], port: int, twilio_port: int, script: Path) -> tuple[str, float]:
    """simulate_call's output and its CPU seconds (it is this process's only child to finish meanwhile)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "manage.py", "simulate_call", "--calls", str(calls), "--script", str(script), "--url",
         f"http://127.0.0.1:{port}", "--twilio-port", str(twilio_port), "--voice", "espeak"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_SECONDS,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return result.stdout + result.stderr, cpu


def measure(calls: int, processes: int, *, server: subprocess.Popen, env: dict[str, str], port: int,
            twilio_port: int, script: Path) -> Run:
    since = dt.datetime.now(dt.UTC)
    pids = process_tree(server.pid)
    server_before, fakes_before = cpu_seconds(pids), time.process_time()
    output, simulator_cpu = place_calls(calls, env=env, port=port, twilio_port=twilio_port, script=script)
    time.sleep(SETTLE_SECONDS)  # the server saves each call's end after its stream's stop
    server_after = cpu_seconds(process_tree(server.pid))
    used = {pid: seconds - server_before.get(pid, 0.0) for pid, seconds in server_after.items()}
    summary = SUMMARY_LINE.search(output)
    # No summary: no call got a single answer (all failed); the run is reported as such, and the next one runs.
    _, answered, unanswered, p50, p95, most = (float(g) for g in summary.groups()) if summary else (0,) * 3 + (NAN,) * 3
    record = server_record(since)
    return Run(
        calls=calls, processes=processes, answered=answered, unanswered=unanswered, client_p50_ms=p50,
        client_p95_ms=p95, client_max_ms=most,
        server_p50_ms=percentile(record.reply_ms, 50) if record.reply_ms else NAN,
        server_p95_ms=percentile(record.reply_ms, 95) if record.reply_ms else NAN,
        failed_calls=len(failed.group(1).split("; ")) if (failed := FAILED.search(output)) else 0, fallbacks=record.fallbacks,
        call_minutes=record.call_minutes, server_cpu=sum(used.values()), simulator_cpu=simulator_cpu,
        fakes_cpu=time.process_time() - fakes_before, processes_seen=process_lines(server.pid, processes, used),
    )


def plan() -> list[tuple[int, list[int]]]:
    """(processes, call counts): RELAY_PLAN="1:50,100,200;2:200" is the default, one process per core last."""
    default = f"1:50,100,200;{os.cpu_count() or 1}:{TARGET_CALLS}"
    steps = []
    for step in os.environ.get("RELAY_PLAN", default).split(";"):
        processes, counts = step.split(":")
        steps.append((int(processes), [int(n) for n in counts.split(",")]))
    return steps


def server_env(folder: Path, fakes_env: dict[str, str], *, port: int, twilio_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        fakes_env,
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder / 'bench.sqlite3'}",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", TWILIO_API_BASE_URL=f"http://127.0.0.1:{twilio_port}",
        VOICE_END_OF_TURN_MS=str(END_OF_TURN_MS), LOG_LEVEL="WARNING", DEBUG="false",
        DJANGO_SETTINGS_MODULE="receptionist_site.settings",
    )
    return env


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="receptionist-relay-bench-"))
    port, twilio_port = free_port(), free_port()
    script = folder / "caller.txt"
    script.write_text("\n".join(SCRIPT) + "\n")
    print(f"relay benchmark; {machine()}; Deepgram, Claude and ElevenLabs fakes on 127.0.0.1 (final "
          f"{FINAL_SECONDS * 1000:.0f} ms, first token {FIRST_TOKEN_SECONDS * 1000:.0f} ms, first audio byte "
          f"{FIRST_BYTE_SECONDS * 1000:.0f} ms); end-of-turn window {END_OF_TURN_MS} ms; web role: "
          f"{shlex.split(web_command(port))[1]} as in the Procfile")
    runs: list[Run] = []
    with fakes() as cloud:
        env = server_env(folder, cloud.env(), port=port, twilio_port=twilio_port)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)
        os.environ.update(DATABASE_URL=env["DATABASE_URL"], DJANGO_SETTINGS_MODULE="receptionist_site.settings",
                          LOG_LEVEL="WARNING")
        import django

        django.setup()
        for processes, counts in plan():
            with web_role(env, port=port, processes=processes) as server:
                # A first call or two per process: imports, connection pools, the fakes' cached voice.
                place_calls(2 * processes, env=env, port=port, twilio_port=twilio_port, script=script)
                for calls in counts:
                    run = measure(calls, processes, server=server, env=env, port=port, twilio_port=twilio_port,
                                  script=script)
                    print("\n".join(run.lines()), flush=True)
                    runs.append(run)
    misses = [miss for run in runs for miss in run.misses()]
    print("targets: p95 server-added under 30 ms at 200 calls, every turn answered, under 0.5 CPU-s per call-minute: "
          + ("met" if not misses else "MISSED: " + "; ".join(misses)))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
