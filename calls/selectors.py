"""Reads of calls and their turns."""

import datetime as dt
from typing import TypedDict

from calls.models import Call, Turn

# The providers every phone call with a media stream uses; the call records which ones fell back.
PROVIDER_ROLES = ("stt", "tts", "conversation")


class ProviderOutcome(TypedDict):
    ok: bool
    at: dt.datetime


def call_by_sid(*, call_sid: str) -> Call | None:
    """The call Twilio knows by this CallSid, with its practice."""
    return Call.objects.select_related("tenant").filter(call_sid=call_sid).first() if call_sid else None


def call_turns_after(*, call: Call, index: int) -> list[Turn]:
    """The call's turns saved after turn number `index`, in order."""
    return list(call.turns.filter(index__gt=index).order_by("index"))


def provider_last_outcomes() -> dict[str, ProviderOutcome | None]:
    """Per provider role, whether its primary served the latest finished phone call to the end, and when it ended.

    Read from the database, so every web process gives the same answer, also after a restart.
    One query, of the latest phone call only. A call counts once its conversation has finished:
    the conversation's fallback (fell_back_to_rules) is recorded then, while speech providers'
    (Call.fallbacks) are recorded as they happen. Only calls with a media stream used the
    providers. None for every role while no phone call has finished. Nothing about the caller.
    """
    last = (
        Call.objects.filter(channel=Call.Channel.PHONE, conversation_finished=True)
        .exclude(stream_sid="")
        .order_by("-ended_at", "-pk")
        .values("ended_at", "fallbacks", "fell_back_to_rules")
        .first()
    )
    if last is None:
        return dict.fromkeys(PROVIDER_ROLES)
    fell_back = {*last["fallbacks"], *(["conversation"] if last["fell_back_to_rules"] else [])}
    return {role: {"ok": role not in fell_back, "at": last["ended_at"]} for role in PROVIDER_ROLES}
