"""Caller scenarios (tests/scenarios/*.json): what a scenario's caller says, and the judge of how the call went.

A scenario's caller opens with `opening`, then answers each agent turn by the
first rule of the scenario's `replies` whose regex (case-insensitive) matches
it, then by the file's `default_replies`, else with the fallback. `expect` is
judged against the call's outcome, in the shape `manage.py talk` prints last:
{"outcome", "appointments": [{"type", "provider", "start", "end", "status",
"patient"}], "transferred_to", "message"}. The text runner (tests) and the
audio caller (`simulate_call --scenario`) both play and judge with these.
"""

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_FALLBACK = "Sorry, I'm not sure."
LOOP_TURNS = 3  # an agent sentence in this many agent turns in a row is a loop: the call is going round
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


class ScenarioError(Exception):
    """A scenario file that cannot be read, or has no such scenario."""


@dataclass(frozen=True)
class ScenarioFile:
    scenarios: list[dict]
    default_replies: list[list[str]]

    def find(self, scenario_id: str) -> dict:
        for scenario in self.scenarios:
            if scenario["id"] == scenario_id:
                return scenario
        known = ", ".join(s["id"] for s in self.scenarios)
        raise ScenarioError(f"no scenario {scenario_id!r} (there are: {known})")


@dataclass
class Transcript:
    """A played scenario as the judge sees it."""

    lines: list[str] = field(default_factory=list)  # the whole exchange, to show when it fails
    agent: list[str] = field(default_factory=list)  # each agent turn's text
    caller_turns: int = 0
    outcome: dict | None = None


def scenario_file_load(path: str | Path) -> ScenarioFile:
    try:
        data = json.loads(Path(path).read_text())
        return ScenarioFile(scenarios=data["scenarios"], default_replies=data["default_replies"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ScenarioError(f"cannot read scenarios from {path}: {error!r}") from None


def scenario_clock(scenario: dict, tz: dt.tzinfo) -> dt.datetime:
    """The scenario's `now`, practice-local time (tz) unless it names its offset; FROZEN_NOW is its isoformat()."""
    now = dt.datetime.fromisoformat(scenario["now"])
    return now.replace(tzinfo=tz) if now.tzinfo is None else now


def reply_for(agent_turn: str, scenario: dict, defaults: list, fallback: str) -> str:
    for pattern, reply in [*scenario.get("replies", []), *defaults]:
        if re.search(pattern, agent_turn, re.IGNORECASE):
            return reply.format(**scenario["caller"])
    return fallback.format(**scenario["caller"])


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
        return ["no outcome was recorded"]
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
        if not any(re.search(pattern, line, re.IGNORECASE) for line in transcript.agent):
            problems.append(f"the agent never said /{pattern}/")
    # Checks used by this project's own scenarios (tests/scenarios/more.json).
    for pattern in expect.get("agent_never_says", []):
        if any(re.search(pattern, line, re.IGNORECASE) for line in transcript.agent):
            problems.append(f"the agent said /{pattern}/")
    if "outcome" in expect and outcome["outcome"] != expect["outcome"]:
        problems.append(f"outcome {outcome['outcome']!r}, expected {expect['outcome']!r}")
    if "message" in expect and expect["message"] not in (outcome.get("message") or ""):
        problems.append(f"no message containing {expect['message']!r}")
    if "max_caller_turns" in expect and transcript.caller_turns > expect["max_caller_turns"]:
        problems.append(f"the call went on for {transcript.caller_turns} caller turns")
    return problems


def loops(agent_turns: list[str]) -> list[str]:
    """Agent sentences said in LOOP_TURNS or more agent turns in a row: the agent going round in circles."""
    found: list[str] = []
    run: dict[str, int] = {}  # sentence -> how many agent turns in a row have said it, up to this one
    for turn in agent_turns:
        sentences = {s.strip() for s in _SENTENCE_END.split(turn) if s.strip()}
        run = {s: run.get(s, 0) + 1 for s in sentences}
        found += [s for s, count in run.items() if count == LOOP_TURNS]
    return found
