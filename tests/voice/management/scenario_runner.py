"""Plays a scenario caller against `python manage.py talk`, by the reply rules of tests/scenarios/*.json.

The caller opens with `opening`, then answers each agent turn by the first rule
of the scenario whose regex matches the agent's last turn, then by the default
rules, else with the fallback. `expect` is checked against the JSON that
`talk` prints last.
"""

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from tests import ROOT

MAX_CALLER_TURNS = 25
TIMEOUT_SECONDS = 90
DEFAULT_FALLBACK = "Sorry, I'm not sure."


@dataclass
class Transcript:
    lines: list[str] = field(default_factory=list)
    agent: list[str] = field(default_factory=list)
    caller_turns: int = 0
    outcome: dict | None = None


def reply_for(agent_turn: str, scenario: dict, defaults: list, fallback: str) -> str:
    for pattern, reply in [*scenario.get("replies", []), *defaults]:
        if re.search(pattern, agent_turn, re.I):
            return reply.format(**scenario["caller"])
    return fallback.format(**scenario["caller"])


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


def _matches(appointment: dict, wanted: dict) -> bool:
    if "type" in wanted and appointment["type"] not in wanted["type"]:
        return False
    if "provider" in wanted and appointment["provider"] not in wanted["provider"]:
        return False
    if "start" in wanted and not appointment["start"].startswith(wanted["start"]):
        return False
    if "date" in wanted and not appointment["start"].startswith(wanted["date"]):
        return False
    return not ("patient" in wanted and appointment["patient"] != wanted["patient"])


def failures(expect: dict, transcript: Transcript) -> list[str]:
    """What the outcome gets wrong against `expect`; empty when it passes."""
    outcome = transcript.outcome
    if outcome is None:
        return ["talk printed no outcome JSON"]
    if "any_of" in expect:
        options = [failures(option, transcript) for option in expect["any_of"]]
        return [] if any(not f for f in options) else [f"none of any_of passed: {options}"]
    problems = []
    booked = [a for a in outcome["appointments"] if a["status"] == "booked"]
    cancelled = [a for a in outcome["appointments"] if a["status"] == "cancelled"]
    for wanted in expect.get("booked", []):
        if not any(_matches(a, wanted) for a in booked):
            problems.append(f"no booked appointment like {wanted}")
    for wanted in expect.get("cancelled", []):
        if not any(_matches(a, wanted) for a in cancelled):
            problems.append(f"no cancelled appointment like {wanted}")
    if expect.get("no_booking") and booked:
        problems.append(f"booked when it should not: {booked}")
    for start in expect.get("not_active", []):
        if any(a["start"].startswith(start) for a in booked):
            problems.append(f"an appointment at {start} is active")
    if expect.get("transferred") and not outcome.get("transferred_to"):
        problems.append("the call was not transferred")
    for pattern in expect.get("agent_says", []):
        if not any(re.search(pattern, line, re.I) for line in transcript.agent):
            problems.append(f"the agent never said /{pattern}/")
    # Checks used by this project's own scenarios (tests/scenarios/more.json).
    for pattern in expect.get("agent_never_says", []):
        if any(re.search(pattern, line, re.I) for line in transcript.agent):
            problems.append(f"the agent said /{pattern}/")
    if "outcome" in expect and outcome["outcome"] != expect["outcome"]:
        problems.append(f"outcome {outcome['outcome']!r}, expected {expect['outcome']!r}")
    if "message" in expect and expect["message"] not in (outcome.get("message") or ""):
        problems.append(f"no message containing {expect['message']!r}")
    if "max_caller_turns" in expect and transcript.caller_turns > expect["max_caller_turns"]:
        problems.append(f"the call went on for {transcript.caller_turns} caller turns")
    return problems


def subprocess_env(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="receptionist_site.settings")
    return env
