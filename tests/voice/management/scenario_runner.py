"""Plays a scenario caller against `python manage.py talk`, by the reply rules of tests/scenarios/*.json.

The caller opens with `opening`, then answers each agent turn by the first rule
of the scenario whose regex matches the agent's last turn, then by the default
rules, else with the fallback. `expect` is checked against the JSON that
`talk` prints last, by the judge in voice/simulator/scenarios.py.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time

from tests import ROOT

# `failures` too: the scenario tests judge through this module.
from voice.simulator.scenarios import DEFAULT_FALLBACK, Transcript, failures, reply_for  # noqa: F401

MAX_CALLER_TURNS = 25
TIMEOUT_SECONDS = 90


def play(scenario: dict, defaults: list, *, env: dict, fallback: str = DEFAULT_FALLBACK) -> Transcript:
    command = [
        os.environ.get("TALK_PYTHON", sys.executable), "manage.py", "talk", "--tenant", "demo", "--from", scenario["caller_id"], "--now", scenario["now"],
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout] + [lines.put(None)], daemon=True).start()
    transcript = Transcript()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    turn: list[str] = []
    caller_turns = 0
    try:
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                break
            line = line.rstrip("\n")
            transcript.lines.append(line)
            if line.startswith("AGENT: "):
                turn.append(line[len("AGENT: "):])
                transcript.agent.append(line[len("AGENT: "):])
            elif line == "CALLER>":
                caller_turns += 1
                transcript.caller_turns = caller_turns
                if caller_turns > MAX_CALLER_TURNS:
                    process.stdin.close()
                    continue
                said = scenario["opening"] if caller_turns == 1 else reply_for(" ".join(turn), scenario, defaults, fallback)
                transcript.lines.append(f"CALLER: {said}")
                process.stdin.write(said + "\n")
                process.stdin.flush()
                turn = []
            elif line.startswith("{"):
                transcript.outcome = json.loads(line)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    if process.returncode != 0:
        raise AssertionError(f"talk exited {process.returncode}: {process.stderr.read()[-3000:]}")
    return transcript


def subprocess_env(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="receptionist_site.settings")
    return env
