"""Placing simulated calls: one, followed turn by turn in the server's record, or many at once to measure; or one
caller scenario, followed and then judged."""

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from voice.simulator.caller import CallResult, Script, SimulatedCaller
from voice.simulator.protocol import Endpoint, SimulatorError
from voice.simulator.report import follow
from voice.simulator.scenario_caller import ScenarioLines, ScenarioRun, scenario_judged
from voice.simulator.twilio_api import FakeTwilioApi
from voice.simulator.voices import Voice, espeak


def caller_ids(caller: str, calls: int) -> list[str]:
    """One call comes from `caller`; many come from numbers of their own, so none is a known patient."""
    return [caller] if calls == 1 else [f"+1555300{i:04d}" for i in range(calls)]


@contextlib.contextmanager
def _fake_twilio(port: int) -> Iterator[FakeTwilioApi]:
    """The fake Twilio REST API on `port`: the server's TWILIO_API_BASE_URL must point at it for the agent to
    hang up or transfer."""
    try:
        api = FakeTwilioApi(port)
    except OSError as error:
        raise SimulatorError(f"cannot listen on 127.0.0.1:{port} for the fake Twilio API: {error}") from None
    try:
        yield api
    finally:
        api.close()


def place_calls(*, endpoint: Endpoint, callers: list[str], script: list[str], account_sid: str, twilio_port: int,
                write: Callable[[str], None], hear_agent: bool = False, voice: Voice = espeak) -> list[CallResult]:
    """Places one call from each of `callers` at once; a single call's turns are written as the server saves them."""
    with _fake_twilio(twilio_port) as api:
        simulated = [SimulatedCaller(endpoint=endpoint, caller=caller, lines=Script(script), api=api,
                                     account_sid=account_sid, hear_agent=hear_agent, voice=voice)
                     for caller in callers]
        if len(simulated) == 1:
            return [asyncio.run(_followed(simulated[0], write))]
        return asyncio.run(_together(simulated))


def place_scenario_call(*, endpoint: Endpoint, scenario: dict, defaults: list, account_sid: str, twilio_port: int,
                        write: Callable[[str], None], voice: Voice = espeak,
                        before_line: Callable[[str], None] | None = None) -> ScenarioRun:
    """Plays the scenario's caller through the media stream, writing each turn as it happens, and judges the call.

    The server must run on the scenario's clock (FROZEN_NOW, see
    scenarios.scenario_clock) with freshly seeded demo data. `before_line` is told each caller line before it is
    spoken (see ScenarioLines).
    """
    written: list[str] = []

    def keep(line: str) -> None:
        written.append(line)
        write(line)

    lines = ScenarioLines(scenario, defaults, keep, before_line)
    with _fake_twilio(twilio_port) as api:
        caller = SimulatedCaller(endpoint=endpoint, caller=scenario["caller_id"], lines=lines, api=api,
                                 account_sid=account_sid, voice=voice)
        result = asyncio.run(_followed(caller, keep))
    return scenario_judged(scenario, result, lines, written)


async def _followed(caller: SimulatedCaller, write: Callable[[str], None]) -> CallResult:
    done = asyncio.Event()
    printer = asyncio.ensure_future(follow(caller.call_sid, write, done))
    try:
        return await caller.run()
    finally:
        done.set()
        await printer


async def _together(callers: list[SimulatedCaller]) -> list[CallResult]:
    return list(await asyncio.gather(*(caller.run() for caller in callers)))
