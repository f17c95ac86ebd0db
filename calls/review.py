"""A call as staff review it: what the receptionist did, in words, and where each reply's time went.

Pure: plain values in (a tool call's name, arguments, result; a turn's latency record), plain values out.
"""

import datetime as dt
import json
from dataclasses import dataclass

from tenants.spoken import say_article, say_date, say_when

# Outcomes someone at the practice has to pick up: a person was asked for, a message left, a caller gone.
FOLLOW_UP_OUTCOMES = ("transferred", "message_taken", "abandoned")


def follow_up_reasons(*, outcome: str, fell_back_to_rules: bool, fallbacks: list[str], is_test: bool) -> list[str]:
    """Why a call needs a look from staff, in words; empty when it does not.

    The same calls as calls.selectors.calls_needing_follow_up. A staff member's test call has nobody to call back.
    """
    if is_test:
        return []
    reasons = {"transferred": "transferred", "message_taken": "message taken", "abandoned": "caller hung up"}
    found = [reasons[outcome]] if outcome in FOLLOW_UP_OUTCOMES else []
    if fell_back_to_rules or fallbacks:
        found.append("provider fallback")
    return found


def json_object(text: str) -> dict:
    """A tool call's stored arguments or result; anything but a JSON object reads as nothing."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class ToolAction:
    sentence: str
    ok: bool
    appointment_id: int | None = None  # the appointment the result names, for a link to it


def _kind(key: str) -> str:
    return key.replace("_", " ").lower()


def _a(kind: str) -> str:
    return f"{say_article(kind)} {kind}" if kind else "an appointment"


def _when(value) -> str:
    """An ISO date-time the engine gave (practice-local, as find_slots returned it) as staff would say it."""
    try:
        return say_when(dt.datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def _requested_day(arguments: dict) -> str:
    try:
        day = dt.date.fromisoformat(str(arguments["date"]))
    except (KeyError, ValueError):
        return ""
    try:
        return say_when(dt.datetime.combine(day, dt.time.fromisoformat(str(arguments["time"]))))
    except (KeyError, ValueError):
        return say_date(day)


def _appointment(view: dict) -> str:
    """'a cleaning with Lisa Chen on Monday, November 30 at 9 AM'."""
    with_whom = f" with {view['provider']}" if view.get("provider") else ""
    return f"{_a(_kind(str(view.get('type', ''))))}{with_whom} on {view.get('spoken', '?')}"


def _slots(offers: list) -> str:
    return "; ".join(f"{o.get('spoken', '?')} with {o.get('provider', '?')}" for o in offers if isinstance(o, dict))


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


# What each tool tried to do, to say what did not happen when it was refused.
ATTEMPTS = {
    "identify_caller": "look up the caller ID",
    "verify_patient": "verify the caller",
    "register_patient": "register a new patient",
    "list_appointments": "list the patient's appointments",
    "find_slots": "look up open times",
    "practice_info": "look up the practice's details",
    "check_insurance": "check insurance",
    "transfer_to_human": "transfer to the front desk",
    "take_message": "take a message",
    "end_call": "end the call",
}


def _attempt(name: str, arguments: dict) -> str:
    if name == "book_appointment":
        return f"book {_a(_kind(str(arguments.get('type', ''))))} on {_when(arguments.get('start'))}"
    if name == "reschedule_appointment":
        return f"move appointment #{arguments.get('appointment_id', '?')} to {_when(arguments.get('start'))}"
    if name == "cancel_appointment":
        return f"cancel appointment #{arguments.get('appointment_id', '?')}"
    return ATTEMPTS.get(name, f"use {name}")


def _refusal(name: str, arguments: dict, result: dict) -> str:
    sentence = f"Could not {_attempt(name, arguments)}"
    if result.get("error"):
        sentence += f": {result['error']}"
    if offers := _slots(result.get("alternatives") or []):
        sentence += f" Offered instead: {offers}."
    return sentence


def _find_slots(arguments: dict, result: dict) -> str:
    kind = _a(_kind(str(arguments.get("type", ""))))
    day = _requested_day(arguments)
    if result.get("available") is not None:  # one exact time was asked about
        if result["available"]:
            slot = result.get("slot") or {}
            return f"Checked {kind} on {day}: free, with {slot.get('provider', '?')}"
        sentence = f"Checked {kind} on {day}: not free"
        sentence += f" ({result['reason']})" if result.get("reason") else ""
        if offers := _slots(result.get("alternatives") or []):
            sentence += f". Offered instead: {offers}"
        return sentence
    part = arguments.get("part_of_day")
    narrowed = (f" on {day}" if day else "") + (f" in the {part}" if part else "")
    sentence = f"Looked up open times for {kind}{narrowed}: "
    if offers := _slots(result.get("slots") or []):
        return sentence + offers
    sentence += "none"
    sentence += f" ({result['reason']})" if result.get("reason") else ""
    if offers := _slots(result.get("alternatives") or []):
        sentence += f". Nearest: {offers}"
    return sentence


def _insurance(result: dict) -> str:
    plan = result.get("plan", "?")
    if result.get("accepted") is None:
        return f"Checked insurance: {plan} is on neither of the practice's lists"
    return f"Checked insurance: {plan} is {'accepted' if result['accepted'] else 'not accepted'}"


def _message(arguments: dict) -> str:
    parts = ["Took a message"]
    if arguments.get("for_whom"):
        parts.append(f"for {arguments['for_whom']}")
    if arguments.get("caller_name"):
        parts.append(f"from {arguments['caller_name']}")
    if arguments.get("callback_number"):
        parts.append(f"(call back on {arguments['callback_number']})")
    return " ".join(parts) + (f": “{arguments['about']}”" if arguments.get("about") else "")


def _done(name: str, arguments: dict, result: dict) -> str:
    appointment = result.get("appointment") or {}
    match name:
        case "book_appointment":
            return f"Booked {_appointment(appointment)}"
        case "reschedule_appointment":
            return f"Moved the appointment: now {_appointment(appointment)}"
        case "cancel_appointment":
            return f"Cancelled {_appointment(appointment)}"
        case "find_slots":
            return _find_slots(arguments, result)
        case "identify_caller":
            matches = int(result.get("matches") or 0)
            return f"Looked up the caller ID: {_count(matches, 'patient') if matches else 'no patient'} on file"
        case "verify_patient":
            if result.get("verified"):
                return f"Verified the caller as {result.get('full_name', '?')}"
            left = result.get("attempts_left")
            tries = f" ({left} {'try' if left == 1 else 'tries'} left)" if isinstance(left, int) else ""
            return f"Could not verify the caller: no patient with that name and date of birth{tries}"
        case "register_patient":
            if result.get("existing"):
                return f"Found {result.get('full_name', '?')} already on file; no new record"
            return f"Registered a new patient, {result.get('full_name', '?')}"
        case "list_appointments":
            found = [_appointment(a) for a in result.get("appointments") or [] if isinstance(a, dict)]
            return "Listed the patient's upcoming appointments: " + ("; ".join(found) if found else "none")
        case "practice_info":
            day = (result.get("day") or {}).get("sentence")
            return "Looked up the practice's hours and details" + (f": {day}" if day else "")
        case "check_insurance":
            return _insurance(result)
        case "transfer_to_human":
            reason = f" ({arguments['reason']})" if arguments.get("reason") else ""
            return f"Transferred to the front desk{reason}"
        case "take_message":
            return _message(arguments)
        case "end_call":
            return "Ended the call"
    return f"Used {name}"


def tool_call_describe(*, name: str, arguments: dict, result: dict, ok: bool) -> ToolAction:
    """What one tool call did, as a sentence staff read; a refusal says what did not happen and why."""
    if not ok:
        return ToolAction(sentence=_refusal(name, arguments, result), ok=False)
    appointment_id = (result.get("appointment") or {}).get("id")
    return ToolAction(sentence=_done(name, arguments, result), ok=True,
                      appointment_id=appointment_id if isinstance(appointment_id, int) else None)


@dataclass(frozen=True)
class Stage:
    key: str  # also the segment's CSS class: latency-<key>
    label: str
    ms: float
    title: str  # what the figure measures, from where
    provider: str = ""
    fallback: bool = False
    width: float = 0  # percent of the strips' common scale


@dataclass(frozen=True)
class LatencyStrip:
    stages: list[Stage]
    first_frame_ms: float | None  # from the caller's last word to the reply's first audio frame sent


PROVIDER_STAGES = {"recognition": "stt", "engine": "engine", "voice": "tts"}


def _stages(latency: dict) -> list[Stage]:
    """A reply's stages laid end to end, from the caller's last word.

    The recorded figures start from different moments (see voice.phone.metrics.TurnTiming): the wait ends
    where the turn was decided, and recognition starts there; the engine's first sentence is measured from
    the start of the reply and the first audio from the start of that sentence's synthesis, so they follow
    one another; the first frame sent is measured from the turn's decision again. What the first frame took
    beyond the stages before it (sending, pacing) is the last segment, so the strip ends where the caller
    heard the first sound.
    """
    providers = latency.get("providers") or {}
    fallbacks = set(latency.get("fallbacks") or [])
    by = latency.get("turn_ended_by", "silence")
    figures = [
        ("wait", "End-of-turn wait", latency.get("end_of_turn_wait_ms"),
         f"The silence waited after the caller's last word before deciding their turn was over (ended by {by})."),
        ("recognition", "Recognition", latency.get("final_transcript_ms"),
         "From the end of the caller's turn to the final transcript of their words."),
        ("engine", "First sentence", latency.get("engine_first_sentence_ms"),
         "From the start of the reply to the conversation engine's first sentence."),
        ("voice", "First audio", latency.get("first_audio_ms"),
         "From the start of synthesising the first sentence to its first audio."),
    ]
    stages = [
        Stage(key=key, label=label, ms=ms, title=title, provider=providers.get(PROVIDER_STAGES.get(key, ""), ""),
              fallback=PROVIDER_STAGES.get(key) in fallbacks)
        for key, label, ms, title in figures if isinstance(ms, int | float)
    ]
    first_frame = latency.get("first_frame_sent_ms")
    if isinstance(first_frame, int | float):
        rest = max(first_frame - sum(s.ms for s in stages if s.key != "wait"), 0)
        stages.append(Stage(key="sending", label="First frame sent", ms=rest,
                            title=f"The first audio frame went to the phone {first_frame:.0f} ms after the end of the "
                                  f"caller's turn: {rest:.0f} ms after the stages before it."))
    return stages


def latency_strips(latencies: list[dict]) -> list[LatencyStrip | None]:
    """Each agent turn's strip (None when the reply answered no timed caller turn), all drawn to one scale:
    the longest reply of the call fills the width, so the replies compare at a glance."""
    staged = [_stages(latency) if "end_of_turn_wait_ms" in latency else None for latency in latencies]
    scale = max([sum(s.ms for s in stages) for stages in staged if stages] + [1])
    strips: list[LatencyStrip | None] = []
    for latency, stages in zip(latencies, staged, strict=True):
        if stages is None:
            strips.append(None)
            continue
        first_frame = latency.get("first_frame_sent_ms")
        waited = latency["end_of_turn_wait_ms"] + first_frame if isinstance(first_frame, int | float) else None
        drawn = [Stage(**{**s.__dict__, "width": round(s.ms * 100 / scale, 2)}) for s in stages]
        strips.append(LatencyStrip(stages=drawn, first_frame_ms=waited))
    return strips


def providers_line(latency: dict) -> list[tuple[str, str, bool]]:
    """(stage, provider, fell back) for each provider that served an agent turn, in the loop's order."""
    providers = latency.get("providers") or {}
    fallbacks = set(latency.get("fallbacks") or [])
    labels = {"stt": "Speech recognition", "engine": "Conversation", "tts": "Voice"}
    return [(labels[stage], providers[stage], stage in fallbacks) for stage in labels if providers.get(stage)]
