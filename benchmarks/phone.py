"""Concurrent phone calls through daphne with the offline providers (pocketsphinx, rules engine, espeak-ng).

Run: `make bench-phone`. For N in 1, 10, 20, 50 it places N simultaneous
simulated Twilio calls (simulate_call --calls N) against one server on
127.0.0.1 with a 500 ms end-of-turn window, and prints turn latency (last
caller speech frame sent to first reply frame received) p50/p95/max, turns
left unanswered, late frames, server CPU seconds per call-minute and the
server's peak memory.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import machine

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ["What are your hours on Friday?", "No, that's all. Thank you, bye."]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_pids(pid: int) -> list[int]:
    """The server and its worker processes (speech recognition runs in children)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    children.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return [pid, *children]


def cpu_seconds(pid: int) -> float:
    total = 0
    for each in server_pids(pid):
        try:
            fields = _stat(each)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    total = 0
    for each in server_pids(pid):
        try:
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith("VmHWM:")), 0)
    return total / 1024


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="receptionist-phone-bench-"))
    port, twilio_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder / 'bench.sqlite3'}",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", TWILIO_API_BASE_URL=f"http://127.0.0.1:{twilio_port}",
        VOICE_END_OF_TURN_MS="500", LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="receptionist_site.settings",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    script = folder / "caller.txt"
    script.write_text("\n".join(SCRIPT) + "\n")
    daphne = Path(sys.executable).with_name("daphne")
    server = subprocess.Popen([str(daphne), "-b", "127.0.0.1", "-p", str(port), "receptionist_site.asgi:application"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"phone benchmark; {machine()}; offline providers; end-of-turn window 500 ms")
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        for calls in [int(n) for n in os.environ.get("BENCH_CALLS", "1,10,20,50").split(",")]:
            cpu_before, started = cpu_seconds(server.pid), time.monotonic()
            result = subprocess.run(
                [*manage, "simulate_call", "--calls", str(calls), "--script", str(script), "--url",
                 f"http://127.0.0.1:{port}", "--twilio-port", str(twilio_port), "--voice", "espeak"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
            )
            wall = time.monotonic() - started
            cpu = cpu_seconds(server.pid) - cpu_before
            summary = re.search(r"\d+ call\(s\).*", result.stdout)
            print(f"  N={calls:>2}: {summary.group(0) if summary else 'no summary: ' + result.stderr[-300:]}")
            print(f"        server CPU {cpu:.1f} s over {calls} calls of ~{wall:.0f} s: "
                  f"{cpu / (calls * wall / 60):.2f} CPU-seconds per call-minute; peak memory {peak_rss_mb(server.pid):.0f} MB "
                  "(server and its recognition workers)")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
