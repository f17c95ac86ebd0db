"""Memory after a burst of media streams: what a call allocates must be given back when it ends.

Run: `.venv/bin/python -m benchmarks.stream_burst`. It starts daphne on
127.0.0.1 with the offline providers (a fresh SQLite database, the demo
practice), warms it up with one complete simulated call per recognition worker
(so every worker exists, has decoded, and the language models are built), and
records the resident memory (VmRSS) of the server and of each worker. Then it
opens and closes BURST_CALLS (default 200) media streams, BURST_WAVE (default
20) at a time. Each gets its Call from a correctly signed incoming-call
webhook; half send a valid `start` and a question (the greeting is
interrupted, the question recognised and the answer started), the others only
`connected`; half of each end with `stop`, the rest vanish (the TCP connection
dropped with no close handshake). After IDLE_SECONDS (default 5) of quiet it
records memory again, and exits non-zero when the server's or any worker's is
more than 10% above what it was before the burst, or a stream failed.

The server runs with DEBUG off unless DEBUG is set, and inherits this
environment but for DATABASE_URL and REDIS_URL:
`MALLOC_ARENA_MAX=2 .venv/bin/python -m benchmarks.stream_burst` measures it as
run with that setting.
"""

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

from benchmarks.common import machine
from benchmarks.phone import ROOT, SCRIPT, server_pids
from tests.servers import free_port
from voice.phone.audio import FRAME_BYTES, MULAW_SILENCE, frames
from voice.phone.tts.espeak import synthesize_ulaw
from voice.simulator.protocol import PLACEHOLDER_ACCOUNT_SID, Endpoint, TwilioCall, incoming_call
from voice.simulator.twilio_api import FakeTwilioApi

TOLERANCE = 1.10
CALL_SECONDS = 30  # one stream of the burst, webhook to close, at most
SPEECH = "What are your hours on Friday?"
AFTER_SPEECH_FRAMES = 35  # 0.7 s of silence: past the end-of-turn window, so the turn is recognised and answered
MANAGE = [sys.executable, "manage.py"]


@dataclass
class Server:
    endpoint: Endpoint  # the demo practice's line; the server's URL is also its PUBLIC_BASE_URL
    pid: int


@dataclass
class Memory:
    server_kb: int
    workers_kb: dict[int, int]  # worker pid -> VmRSS


@dataclass
class Peak:
    server_kb: int = 0
    workers_kb: dict[int, int] = field(default_factory=dict)

    def update(self, memory: Memory) -> None:
        self.server_kb = max(self.server_kb, memory.server_kb)
        for pid, kb in memory.workers_kb.items():
            self.workers_kb[pid] = max(self.workers_kb.get(pid, 0), kb)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def recognition_workers(pid: int) -> list[int]:
    """The server's multiprocessing children that run recognition (not its resource tracker)."""
    workers = []
    for child in server_pids(pid)[1:]:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
        except OSError:
            continue
    return sorted(workers)


def memory(server: Server, workers: list[int]) -> Memory:
    return Memory(server_kb=rss_kb(server.pid), workers_kb={pid: rss_kb(pid) for pid in workers})


def active_calls(server: Server) -> float:
    with urllib.request.urlopen(f"{server.endpoint.url}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("receptionist_active_calls "):
                return float(line.split()[1])
    return 0.0


async def drain(socket) -> None:
    """Reads (and drops) the agent's audio, as Twilio would play it, so the server is never held up."""
    try:
        async for _ in socket:
            pass
    except websockets.ConnectionClosed:
        pass


async def stream_media(socket, call: TwilioCall, speech: list[bytes]) -> None:
    for number, frame in enumerate(speech, start=2):
        await socket.send(call.media(number, frame))
        await asyncio.sleep(0.02)


async def one_stream(client: httpx.AsyncClient, server: Server, index: int, speech: list[bytes]) -> None:
    """One short call: `start` and speech on even streams; `stop` on every other pair, else dropped."""
    call = TwilioCall(PLACEHOLDER_ACCOUNT_SID)
    url, parameters = await incoming_call(client, server.endpoint, call, f"+1555400{index:04d}")
    socket = await websockets.connect(url, max_size=2**20, open_timeout=10, close_timeout=2)
    reader = asyncio.ensure_future(drain(socket))
    try:
        await socket.send(call.connected())
        if index % 2 == 0:
            await socket.send(call.start(parameters))
            await stream_media(socket, call, speech)
        if index % 4 < 2:
            await socket.send(call.stop())
            await socket.close()
        else:
            socket.transport.abort()  # the caller's network vanished: no stop, no close handshake
        await asyncio.wait_for(reader, timeout=5)
    finally:  # on a failure or a timeout too, nothing of the stream is left open on this side
        reader.cancel()
        socket.transport.abort()


async def burst(server: Server, workers: list[int], calls: int, wave: int, peak: Peak) -> list[str]:
    """Opens and closes `calls` streams, `wave` at a time, sampling memory meanwhile; the failures."""
    speech = frames(synthesize_ulaw(SPEECH)) + [bytes([MULAW_SILENCE]) * FRAME_BYTES] * AFTER_SPEECH_FRAMES
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak.update(memory(server, workers))
            await asyncio.sleep(0.1)

    sampler = asyncio.ensure_future(sample())
    failures = []
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for first in range(0, calls, wave):
                batch = [asyncio.wait_for(one_stream(client, server, i, speech), timeout=CALL_SECONDS)
                         for i in range(first, min(first + wave, calls))]
                results = await asyncio.gather(*batch, return_exceptions=True)
                failures += [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    finally:
        done.set()
        await sampler
    return failures


def prepare_database(env: dict) -> str:
    """Migrates and seeds the demo practice; its phone number."""
    subprocess.run([*MANAGE, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*MANAGE, "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    number = ("from tenants.models import PhoneNumber; "
              "print(PhoneNumber.objects.filter(tenant__slug='demo').values_list('number', flat=True).first())")
    shell = subprocess.run([*MANAGE, "shell", "--no-imports", "-c", number], cwd=ROOT, env=env, check=True,
                           capture_output=True, text=True)
    return shell.stdout.strip()


def start_server(folder: Path, port: int, twilio_port: int) -> tuple[subprocess.Popen, Server, dict]:
    url, auth_token = f"http://127.0.0.1:{port}", secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}", PUBLIC_BASE_URL=url,
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{twilio_port}", TWILIO_ACCOUNT_SID=PLACEHOLDER_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=auth_token, VOICE_END_OF_TURN_MS="500", LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="receptionist_site.settings",
    )
    # As in production: with DEBUG Django keeps each connection's last 9,000 queries, megabytes no call owns.
    env.setdefault("DEBUG", "false")
    to = prepare_database(env)
    daphne = Path(sys.executable).with_name("daphne")
    with open(folder / "server.log", "w") as log:
        process = subprocess.Popen([str(daphne), "-b", "127.0.0.1", "-p", str(port),
                                    "receptionist_site.asgi:application"],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    return process, Server(Endpoint(url=url, public_url=url, auth_token=auth_token, number=to), process.pid), env


def warm_up(env: dict, folder: Path, server: Server, twilio_port: int) -> str:
    """One complete call per recognition worker (one per core), all at once; simulate_call's summary line."""
    script = folder / "caller.txt"
    script.write_text("\n".join(SCRIPT) + "\n")
    calls = max(2, os.cpu_count() or 1)  # streams go round the workers in turn
    result = subprocess.run(
        [*MANAGE, "simulate_call", "--calls", str(calls), "--script", str(script), "--url", server.endpoint.url,
         "--twilio-port", str(twilio_port), "--voice", "espeak"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"warm-up calls failed: {result.stderr[-500:]}")
    return result.stdout.strip().splitlines()[-1]


def wait_until_quiet(server: Server, seconds: float) -> float:
    """Waits (at most 60 s) for every call to be finished, then `seconds` more; the calls still active."""
    deadline = time.monotonic() + 60
    while (remaining := active_calls(server)) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(seconds)
    return remaining


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def report(before: Memory, peak: Peak, after: Memory) -> bool:
    """Prints the figures; whether every process came back within the tolerance."""
    rows = [("server", before.server_kb, peak.server_kb, after.server_kb)]
    rows += [(f"recognition worker {pid}", kb, peak.workers_kb.get(pid, 0), after.workers_kb.get(pid, 0))
             for pid, kb in before.workers_kb.items()]
    rows.append(("recognition workers, total", sum(before.workers_kb.values()), sum(peak.workers_kb.values()),
                 sum(after.workers_kb.values())))
    ok = True
    for name, first, highest, last in rows:
        ratio = last / first if first else float("inf")
        ok = ok and ratio <= TOLERANCE
        verdict = "ok" if ratio <= TOLERANCE else f"OVER {TOLERANCE:.2f}"
        print(f"  {name:<28} before {mb(first):>7}  peak {mb(highest):>7}  after {mb(last):>7}  "
              f"after/before {ratio:.2f} {verdict}")
    return ok


def main() -> int:
    calls, wave = int(os.environ.get("BURST_CALLS", "200")), int(os.environ.get("BURST_WAVE", "20"))
    idle = float(os.environ.get("IDLE_SECONDS", "5"))
    folder = Path(tempfile.mkdtemp(prefix="receptionist-burst-bench-"))
    port, twilio_port = free_port(), free_port()
    process, server, env = start_server(folder, port, twilio_port)
    print(f"stream burst benchmark; {machine()}; offline providers; {calls} streams, {wave} at a time")
    try:
        print(f"  warm-up: {warm_up(env, folder, server, twilio_port)}")
        wait_until_quiet(server, idle)
        workers = recognition_workers(server.pid)
        if not workers:
            print("  no recognition worker processes found (STT_PROVIDER?)")
            return 1
        before, peak = memory(server, workers), Peak()
        peak.update(before)
        api = FakeTwilioApi(twilio_port)  # answers the hang-up of any call that lasts long enough
        try:
            started = time.monotonic()
            failures = asyncio.run(burst(server, workers, calls, wave, peak))
            took = time.monotonic() - started
        finally:
            api.close()
        still_active = wait_until_quiet(server, idle)
        after = memory(server, workers)
        print(f"  burst: {calls} streams in {took:.0f} s, {len(failures)} failed, "
              f"{still_active:.0f} calls still active {idle:.0f} s later; server log {folder / 'server.log'}")
        for failure in sorted(set(failures))[:5]:
            print(f"    failure: {failure[:200]}")
        ok = report(before, peak, after)
        ok = ok and not failures and not still_active and recognition_workers(server.pid) == workers
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
