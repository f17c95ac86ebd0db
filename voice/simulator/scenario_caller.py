"""A caller scenario through the audio loop: the caller answers, by the scenario's rules, what the server recorded
the agent saying; then the server's own record of the call (its turns and outcome) is judged."""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from channels.db import database_sync_to_async

from calls.models import Turn
from voice.simulator.caller import CallResult
from voice.simulator.report import POLL_SECONDS, call_outcome, recorded_since
from voice.simulator.scenarios import DEFAULT_FALLBACK, LOOP_TURNS, Transcript, failures, loops, reply_for

MAX_CALLER_TURNS = 15  # with about 10 s an exchange, within the simulator's 180 s a call
TURN_SAVED_SECONDS = 2  # the agent's turn is saved as its last mark comes back; wait this long for it to show


class ScenarioLines:
    """The scenario's caller: the opening after the greeting, then a reply to what the agent said since.

    `before_line` is told each line as it is chosen, before it is synthesized and spoken: a fake recogniser that
    cannot hear (tests/fakes/deepgram_api.py) is scripted with it.
    """

    def __init__(self, scenario: dict, defaults: list, write: Callable[[str], None],
                 before_line: Callable[[str], None] | None = None):
        self.scenario, self.defaults, self.write, self.before_line = scenario, defaults, write, before_line
        self.said: list[str] = []
        self.seen_index = 0  # the last turn of the server's record already answered

    async def next_line(self, call_sid: str) -> str | None:
        if len(self.said) >= MAX_CALLER_TURNS:
            return None
        agent = await self._agent_since(call_sid)
        if not self.said:
            line = self.scenario["opening"]
        elif agent:
            line = reply_for(" ".join(agent), self.scenario, self.defaults, DEFAULT_FALLBACK)
        else:  # no answer came: a caller says it again
            line = self.said[-1]
        self.said.append(line)
        self.write(f"  CALLER (says): {line}")
        if self.before_line is not None:
            self.before_line(line)
        return line

    async def _agent_since(self, call_sid: str) -> list[str]:
        """The agent's turns the server saved since the caller last spoke."""
        agent: list[str] = []
        give_up_at = time.monotonic() + TURN_SAVED_SECONDS
        while not agent and time.monotonic() < give_up_at:
            record = await database_sync_to_async(recorded_since)(call_sid, self.seen_index)
            if record is not None:
                agent += [t.text for t in record.turns if t.speaker == Turn.Speaker.AGENT]
                self.seen_index = record.last_index
            if not agent:
                await asyncio.sleep(POLL_SECONDS)
        return agent


@dataclass
class ScenarioRun:
    """One scenario played by phone, and the judge's verdict on the server's record of it."""

    scenario_id: str
    result: CallResult
    transcript: Transcript  # lines: as written while the call ran; the rest from the server's record
    problems: list[str]
    loops: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems

    def verdict(self) -> str:
        problems = "; ".join(self.problems)
        return f"PASS {self.scenario_id}" if self.passed else f"FAIL {self.scenario_id}: {problems}"

    def report(self) -> list[str]:
        """What to print after the call's turns: how it ended, the outcome, the verdict, any loop."""
        outcome = json.dumps(self.transcript.outcome) if self.transcript.outcome else "(none recorded)"
        return [
            f"[call ended: {self.result.ended_by or self.result.error}]",
            f"Outcome (the server's record): {outcome}",
            self.verdict(),
            *[f"LOOP: the agent said {sentence!r} in {LOOP_TURNS} turns in a row" for sentence in self.loops],
        ]


def scenario_judged(scenario: dict, result: CallResult, lines: ScenarioLines, written: list[str]) -> ScenarioRun:
    """The server's record of the finished call, judged by the scenario's `expect`. Synchronous: uses the ORM."""
    record = recorded_since(result.call_sid, 0)
    agent = [t.text for t in record.turns if t.speaker == Turn.Speaker.AGENT] if record else []
    transcript = Transcript(lines=written, agent=agent, caller_turns=len(lines.said),
                            outcome=call_outcome(result.call_sid))
    problems = failures(scenario["expect"], transcript)
    if result.error:
        problems.insert(0, f"the call failed: {result.error}")
    return ScenarioRun(scenario["id"], result, transcript, problems, loops(agent))
