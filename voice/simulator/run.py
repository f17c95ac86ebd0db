"""Placing simulated calls: one, followed turn by turn in the server's record, or many at once to measure."""

import asyncio
from collections.abc import Callable

from voice.simulator.caller import CallResult, SimulatedCaller
from voice.simulator.protocol import Endpoint, SimulatorError
from voice.simulator.report import follow
from voice.simulator.twilio_api import FakeTwilioApi


def caller_ids(caller: str, calls: int) -> list[str]:
    """One call comes from `caller`; many come from numbers of their own, so none is a known patient."""
    return [caller] if calls == 1 else [f"+1555300{i:04d}" for i in range(calls)]


def place_calls(*, endpoint: Endpoint, callers: list[str], script: list[str], account_sid: str, twilio_port: int,
                write: Callable[[str], None], hear_agent: bool = False) -> list[CallResult]:
    """Places one call from each of `callers` at once; a single call's turns are written as the server saves them.

    The fake Twilio REST API listens on `twilio_port` meanwhile: the server's
    TWILIO_API_BASE_URL must point at it for the agent to hang up or transfer.
    """
    try:
        api = FakeTwilioApi(twilio_port)
    except OSError as error:
        raise SimulatorError(f"cannot listen on 127.0.0.1:{twilio_port} for the fake Twilio API: {error}") from None
    simulated = [SimulatedCaller(endpoint=endpoint, caller=caller, script=script, api=api, account_sid=account_sid,
                                 hear_agent=hear_agent)
                 for caller in callers]
    try:
        if len(simulated) == 1:
            return [asyncio.run(_followed(simulated[0], write))]
        return asyncio.run(_together(simulated))
    finally:
        api.close()


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
