"""What a simulated call left behind: the server's record of it (its turns, the appointments it made or
changed, its outcome), read through the ORM from the server's database, and the simulator's own latency figures."""

import asyncio
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from channels.db import database_sync_to_async

from bookings.models import Appointment, TextMessage
from bookings.selectors import appointment_list_by_ids
from calls.models import Call, Turn
from calls.selectors import call_by_sid, call_turns_after
from voice.conversation.session import appointment_outcome
from voice.simulator.caller import CallResult

POLL_SECONDS = 0.2
FINISH_WAIT_SECONDS = 5  # after the caller has gone, how long the server may take to save the call's end
HEADER = ('Call #{call} as the server saves it ("500 + 45 ms": the silence that ends a caller\'s turn '
          "+ the time to start replying):")


@dataclass
class Recorded:
    call_id: int
    finished: bool  # the server has saved the call's outcome: no turn is still to come
    turns: list[Turn]
    last_index: int


def turn_line(turn: Turn) -> str:
    if turn.speaker == Turn.Speaker.CALLER:
        return f"CALLER (heard as): {turn.text}"
    return f"AGENT{_latency(turn.latency)}: {turn.text}"


def _latency(latency: dict) -> str:
    notes = []
    reply_ms = latency.get("first_frame_sent_ms")
    if reply_ms is not None:
        notes.append(f"{latency.get('end_of_turn_wait_ms', 0)} + {reply_ms:.0f} ms")
    if latency.get("interrupted"):
        notes.append("cut off by the caller")
    return f" ({', '.join(notes)})" if notes else ""


def recorded_since(call_sid: str, after_index: int) -> Recorded | None:
    """The call's turns saved after `after_index`; None before the webhook has created the call."""
    call = call_by_sid(call_sid=call_sid)
    if call is None:
        return None
    # Read after the call: when it says finished, every turn is already saved.
    turns = call_turns_after(call=call, index=after_index)
    return Recorded(call_id=call.pk, finished=call.conversation_finished, turns=turns,
                    last_index=turns[-1].index if turns else after_index)


async def follow(call_sid: str, write: Callable[[str], None], caller_done: asyncio.Event) -> None:
    """Writes each turn as the server saves it, until the server has finished the call.

    Gives up FINISH_WAIT_SECONDS after the caller has gone (a call the server
    never took, or one it has not finished by then).
    """
    shown, header_written, give_up_at = 0, False, math.inf
    while time.monotonic() < give_up_at:
        record = await database_sync_to_async(recorded_since)(call_sid, shown)
        if record is not None:
            if not header_written:
                write(HEADER.format(call=record.call_id))
                header_written = True
            for turn in record.turns:
                write("  " + turn_line(turn))
            shown = record.last_index
            if record.finished:
                return
        if caller_done.is_set():
            give_up_at = min(give_up_at, time.monotonic() + FINISH_WAIT_SECONDS)
        await asyncio.sleep(POLL_SECONDS)


def _tools_state(call: Call) -> dict:
    """What the call's tools remembered, as the server saved it: the appointments changed, the message taken."""
    return (json.loads(call.state) if call.state else {}).get("tools", {})


def _changed_appointments(call: Call) -> list[Appointment]:
    return appointment_list_by_ids(tenant=call.tenant, ids=_tools_state(call).get("changed_appointment_ids", []))


def appointment_lines(call_sid: str) -> list[str] | None:
    """The appointments the call made or changed, in their final state; None when the server has no such call."""
    call = call_by_sid(call_sid=call_sid)
    if call is None:
        return None
    tz = call.tenant.tzinfo
    return [
        f"{a.appointment_type.name} with {a.provider.name} on {a.start.astimezone(tz):%A, %B %d at %H:%M} "
        f"for {a.patient.full_name}: {a.status}"
        for a in _changed_appointments(call)
    ]


def text_lines(call_sid: str) -> list[str]:
    """The texts the call's bookings sent the patient (with no SMS provider: recorded, not sent)."""
    call = call_by_sid(call_sid=call_sid)
    if call is None:
        return []
    texts = TextMessage.objects.filter(appointment__in=_changed_appointments(call)).order_by("pk")
    return [f"{t.get_kind_display()} to {t.phone} ({t.get_status_display()}): {t.body}" for t in texts]


def call_outcome(call_sid: str) -> dict | None:
    """How the call ended, from the server's record, in the shape `manage.py talk` prints last.

    None until the server has finished the call: its outcome is saved then.
    """
    call = call_by_sid(call_sid=call_sid)
    if call is None or not call.conversation_finished:
        return None
    tz = call.tenant.tzinfo
    appointments = [appointment_outcome(a, tz) for a in _changed_appointments(call)]
    return {"call": call.pk, "outcome": call.outcome, "appointments": appointments,
            "transferred_to": call.transferred_to or None, "message": _tools_state(call).get("message")}


def summary_line(results: list[CallResult]) -> str | None:
    """The caller's side of the latency, over every call: what a person on the phone would wait."""
    latencies = sorted(ms for r in results for ms in r.latencies_ms)
    if not latencies:
        return None
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return (
        f"{len(results)} call(s), {len(latencies)} turns answered, "
        f"{sum(r.unanswered for r in results)} unanswered; turn latency (last caller speech frame sent "
        f"to first reply frame received): p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, "
        f"max {latencies[-1]:.0f} ms; late frames {sum(r.late_frames for r in results)} of "
        f"{sum(r.frames_received for r in results)} received"
    )


def report(results: list[CallResult]) -> list[str]:
    """What to print once the calls are over (one call's turns were printed while it ran).

    After one call: how it ended, what the simulator heard when asked to listen,
    the latency summary, and last what the call booked. After many: the summary.
    """
    summary = summary_line(results)
    summary_lines = [summary] if summary else []
    if len(results) > 1:
        return summary_lines
    result = results[0]
    lines = [*result.notes, f"[call ended: {result.ended_by or result.error}]"]
    if result.heard:
        lines.append("The agent's audio as the simulator's own recogniser heard it (a rough check; "
                     "the exact words are above):")
        lines += [f"  {text}" for text in result.heard]
    lines += summary_lines
    appointments = appointment_lines(result.call_sid)
    if appointments is not None:
        lines.append("Appointments made or changed on this call:")
        lines += [f"  {line}" for line in appointments or ["(none)"]]
    texts = text_lines(result.call_sid)
    if texts:
        lines.append("Texts to the patient (see them in the admin on the patient and the appointment):")
        lines += [f"  {line}" for line in texts]
    return lines
