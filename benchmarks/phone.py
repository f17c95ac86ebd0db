"""Concurrent phone calls through daphne with the offline providers (pocketsphinx, rules engine, espeak-ng).

Run: `make bench-phone`. For N in 1, 10, 20, 50 it places N simultaneous
simulated Twilio calls (simulate_call --calls N) against one server on
127.0.0.1 with a 500 ms end-of-turn window, and prints turn latency (last
caller speech frame sent to first reply frame received) p50/p95/max, turns
left unanswered, late frames, server CPU seconds per call-minute and the
server's peak memory (and each process's: the server, each recognition worker).

Options (environment variables):
  BENCH_CALLS=50        only these numbers of calls (comma-separated; default 1,10,20,50)
  BENCH_DATABASE_URL    an empty database of its own instead of a fresh SQLite file
  BENCH_PROFILE=DIR     sample the server and its workers with py-spy (`pip install py-spy`, not a
                        requirement) while the calls run: DIR/profile-N.txt holds collapsed stacks,
                        and the top functions by samples are printed; BENCH_PROFILE_OPTIONS adds py-spy
                        options (`--gil`: only the thread holding the GIL, i.e. the server's Python work)
After each N it also prints where the server's own share of the turn went, from the agent turns' latency
records: transcript ready, engine's first sentence, first audio, first frame sent, measured from when the
server decided the turn had ended (so not counting the end-of-turn window or frames queued before it).
"""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, percentile
from tests.servers import daphne, free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ["What are your hours on Friday?", "No, that's all. Thank you, bye."]


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


def cpu_seconds_each(pid: int) -> dict[int, float]:
    """CPU seconds (user and system) of the server and of each of its worker processes."""
    seconds = {}
    for each in server_pids(pid):
        try:
            fields = _stat(each)
        except OSError:
            continue
        seconds[each] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds_each(pid).values())


def peak_rss_each_mb(pid: int) -> list[float]:
    """Each process's peak resident memory (VmHWM): the server first, then its workers."""
    peaks = []
    for each in server_pids(pid):
        try:
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
        except OSError:
            continue
        peaks.append(next((int(line.split()[1]) for line in lines if line.startswith("VmHWM:")), 0) / 1024)
    return peaks


def peak_rss_mb(pid: int) -> float:
    return sum(peak_rss_each_mb(pid))


STAGES = ("final_transcript_ms", "engine_first_sentence_ms", "first_audio_ms", "first_frame_sent_ms")


def turn_records(database: str, after_id: int) -> tuple[int, list[dict]]:
    """The agent turns' latency records saved after turn `after_id` (SQLite only), and the last turn's id."""
    import json

    if not database.startswith("sqlite:///"):
        return after_id, []
    with sqlite3.connect(database.removeprefix("sqlite:///")) as db:
        rows = db.execute("SELECT id, latency FROM calls_turn WHERE id > ? ORDER BY id", (after_id,)).fetchall()
    last = rows[-1][0] if rows else after_id
    return last, [record for _, text in rows if (record := json.loads(text or "{}")).get("first_frame_sent_ms")]


def stage_summary(records: list[dict]) -> str:
    parts = []
    for stage in STAGES:
        values = [r[stage] for r in records if r.get(stage) is not None]
        if values:
            parts.append(f"{stage.removesuffix('_ms')} p50 {percentile(values, 50):.0f} / p95 {percentile(values, 95):.0f}")
    return "; ".join(parts)


def profile_summary(path: Path, top: int = 25) -> list[str]:
    """The functions that most samples were in (self), and the share of samples per process, from py-spy's raw output."""
    import collections

    own, processes, total = collections.Counter(), collections.Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        processes[next(f for f in reversed(frames) if f.startswith("process "))[:90]] += int(count)
        own[frames[-1]] += int(count)
    lines = [f"        {count / total:6.1%}  {name}" for name, count in processes.most_common(8)]
    lines += [f"        {count / total:6.1%}  {name}" for name, count in own.most_common(top)]
    return lines


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
    print(f"phone benchmark; {machine()}; offline providers; end-of-turn window 500 ms")
    with daphne(env, port=port) as server:
        profile_dir = os.environ.get("BENCH_PROFILE")
        last_turn = 0
        for calls in [int(n) for n in os.environ.get("BENCH_CALLS", "1,10,20,50").split(",")]:
            last_turn, _ = turn_records(env["DATABASE_URL"], last_turn)
            each_before, started = cpu_seconds_each(server.pid), time.monotonic()
            cpu_before = sum(each_before.values())
            profiler = None
            if profile_dir:
                Path(profile_dir).mkdir(parents=True, exist_ok=True)
                profile = Path(profile_dir) / f"profile-{calls}.txt"
                profiler = subprocess.Popen(
                    [shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                     str(server.pid), "--subprocesses", "--rate", "50", "--format", "raw", *os.environ.get("BENCH_PROFILE_OPTIONS", "").split(),
                     "--output", str(profile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            result = subprocess.run(
                [*manage, "simulate_call", "--calls", str(calls), "--script", str(script), "--url",
                 f"http://127.0.0.1:{port}", "--twilio-port", str(twilio_port), "--voice", "espeak"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
            )
            wall = time.monotonic() - started
            each_after = cpu_seconds_each(server.pid)
            cpu = sum(each_after.values()) - cpu_before
            own = each_after.get(server.pid, 0) - each_before.get(server.pid, 0)
            if profiler is not None:
                profiler.send_signal(2)  # py-spy writes its output on SIGINT
                profiler.wait(timeout=60)
            summary = re.search(r"\d+ call\(s\).*", result.stdout)
            print(f"  N={calls:>2}: {summary.group(0) if summary else 'no summary: ' + result.stderr[-300:]}")
            peaks = peak_rss_each_mb(server.pid)
            print(f"        server CPU {cpu:.1f} s over {calls} calls of ~{wall:.0f} s: "
                  f"{cpu / (calls * wall / 60):.2f} CPU-seconds per call-minute (server {own:.1f} s, workers {cpu - own:.1f} s); peak memory {sum(peaks):.0f} MB "
                  f"(server {peaks[0]:.0f} MB, workers {' + '.join(f'{p:.0f}' for p in peaks[1:]) or 'none'} MB)")
            _, records = turn_records(env["DATABASE_URL"], last_turn)
            if records:
                print(f"        server side, from the decided end of turn (ms): {stage_summary(records)}")
            if profiler is not None and profile.exists():
                print(f"        profile ({profile}): share of samples by process, then by function (self):")
                print("\n".join(profile_summary(profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
