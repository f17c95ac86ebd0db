"""Reads of calls and their turns."""

import datetime as dt
from typing import TypedDict

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan

from calls.models import Call, ToolCall, Turn
from calls.review import FOLLOW_UP_OUTCOMES
from tenants.models import Tenant

# The providers every phone call with a media stream uses; the call records which ones fell back.
PROVIDER_ROLES = ("stt", "tts", "conversation")


class ProviderOutcome(TypedDict):
    ok: bool
    at: dt.datetime


def call_by_sid(*, call_sid: str) -> Call | None:
    """The call Twilio knows by this CallSid, with its practice."""
    return Call.objects.select_related("tenant").filter(call_sid=call_sid).first() if call_sid else None


def calls_needing_follow_up() -> Q:
    """Calls someone at the practice should pick up (the same as calls.review.follow_up_reasons says)."""
    return Q(is_test=False) & (Q(outcome__in=FOLLOW_UP_OUTCOMES) | Q(fell_back_to_rules=True) | ~Q(fallbacks=[]))


def calls_started_today(*, tenants: QuerySet[Tenant], now: dt.datetime) -> Q:
    """Calls started today, each practice's today in its own time zone."""
    today = Q(pk__in=[])
    for tenant in tenants:
        local = now.astimezone(tenant.tzinfo)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # Aware arithmetic is by the wall clock: a day of a change to or from daylight saving is 23 or 25 hours.
        next_midnight = midnight + dt.timedelta(days=1)
        today |= Q(tenant=tenant, started_at__gte=midnight, started_at__lt=next_midnight)
    return today


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


# A call still in progress is never purged, however short a practice's retention: a call
# left "in progress" by a crash is purged once it is older than this.
PURGE_IN_PROGRESS_GRACE = dt.timedelta(days=1)


def filled(field: str) -> GreaterThan:
    """The column holds something. Encrypted columns allow no lookup but isnull; an empty value is stored as ''."""
    return GreaterThan(Length(field), 0)


def _purgeable_calls(*, tenant: Tenant, cutoff: dt.datetime, now: dt.datetime) -> QuerySet[Call]:
    return (
        Call.objects.for_tenant(tenant)
        .filter(started_at__lt=cutoff)
        .exclude(status=Call.Status.IN_PROGRESS, started_at__gte=now - PURGE_IN_PROGRESS_GRACE)
    )


def calls_recording_expired(*, tenant: Tenant, now: dt.datetime) -> QuerySet[Call]:
    """The practice's calls older than retention_call_audio_days that still hold a reference to a recording."""
    cutoff = now - dt.timedelta(days=tenant.retention_call_audio_days)
    return _purgeable_calls(tenant=tenant, cutoff=cutoff, now=now).filter(~Q(recording_sid="") | Q(filled("recording_url")))


def calls_transcript_expired(*, tenant: Tenant, now: dt.datetime) -> QuerySet[Call]:
    """The practice's calls older than retention_transcript_days that still hold what was said.

    What was said: the turns, the tool calls (their arguments and results name patients), the
    summary, and the engine's saved state (it holds what the caller said about themselves).
    """
    cutoff = now - dt.timedelta(days=tenant.retention_transcript_days)
    return _purgeable_calls(tenant=tenant, cutoff=cutoff, now=now).filter(
        Exists(Turn.objects.filter(call=OuterRef("pk")))
        | Exists(ToolCall.objects.filter(call=OuterRef("pk")))
        | Q(filled("summary"))
        | Q(filled("state"))
    )


def call_records_expired_counts(*, tenant: Tenant, now: dt.datetime) -> dict[str, int]:
    """What `call_records_purge` would delete or clear now, by kind: counts only, nothing about a caller."""
    transcripts = calls_transcript_expired(tenant=tenant, now=now)
    return {
        "recordings": calls_recording_expired(tenant=tenant, now=now).count(),
        "turns": Turn.objects.filter(call__in=transcripts).count(),
        "tool_calls": ToolCall.objects.filter(call__in=transcripts).count(),
        "summaries": transcripts.filter(filled("summary")).count(),
        "states": transcripts.filter(filled("state")).count(),
    }
