"""Reads of calls and their turns."""

from calls.models import Call, Turn


def call_by_sid(*, call_sid: str) -> Call | None:
    """The call Twilio knows by this CallSid, with its practice."""
    return Call.objects.select_related("tenant").filter(call_sid=call_sid).first() if call_sid else None


def call_turns_after(*, call: Call, index: int) -> list[Turn]:
    """The call's turns saved after turn number `index`, in order."""
    return list(call.turns.filter(index__gt=index).order_by("index"))
