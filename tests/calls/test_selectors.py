"""Reads of calls: the providers' outcome on the latest phone call; what the retention purge would delete."""

import pytest

from calls.models import Call
from calls.selectors import (
    call_records_expired_counts,
    calls_recording_expired,
    calls_transcript_expired,
    provider_last_outcomes,
)
from calls.services import call_end, call_fallback_record, call_from_incoming, call_start, call_stream_attach
from tests import retention

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(make_practice):
    return make_practice("selectors")[0]


def phone_call(tenant, sid: str, *, fallbacks: tuple[str, ...] = (), fell_back_to_rules: bool = False) -> Call:
    """A phone call that streamed audio, moved to the given fallbacks and finished its conversation."""
    call = call_from_incoming(tenant=tenant, call_sid=sid, caller_number="+15551230001", dialled_number="+15005550006")
    call_stream_attach(call_id=call.pk, call_sid=sid, stream_sid=f"MZ{sid}")
    for provider in fallbacks:
        call_fallback_record(call_id=call.pk, provider=provider)
    return call_end(call=call, outcome=Call.Outcome.ANSWERED, fell_back_to_rules=fell_back_to_rules)


def test_no_phone_call_yet_is_unknown_for_every_provider(tenant):
    call_end(call=call_start(tenant=tenant, channel=Call.Channel.TEXT), outcome=Call.Outcome.ANSWERED)
    call_from_incoming(tenant=tenant, call_sid="CA-ringing", caller_number="", dialled_number="")
    assert provider_last_outcomes() == {"stt": None, "tts": None, "conversation": None}


def test_a_fallback_on_the_latest_call_shows_and_a_later_clean_call_clears_it(tenant):
    first = phone_call(tenant, "CA1", fallbacks=("stt",))
    assert provider_last_outcomes() == {
        "stt": {"ok": False, "at": first.ended_at},
        "tts": {"ok": True, "at": first.ended_at},
        "conversation": {"ok": True, "at": first.ended_at},
    }
    second = phone_call(tenant, "CA2")
    assert provider_last_outcomes() == {role: {"ok": True, "at": second.ended_at} for role in ("stt", "tts", "conversation")}


def test_the_conversation_engines_fallback_counts_for_the_conversation(tenant):
    phone_call(tenant, "CA1", fallbacks=("tts",), fell_back_to_rules=True)
    outcomes = provider_last_outcomes()
    assert {role: outcome["ok"] for role, outcome in outcomes.items()} == {"stt": True, "tts": False, "conversation": False}


def test_calls_that_never_used_the_providers_do_not_count(tenant):
    failed = phone_call(tenant, "CA1", fallbacks=("stt", "tts"))
    # Later, but without a media stream, a text call, and a call whose conversation has not finished.
    call_end(call=call_from_incoming(tenant=tenant, call_sid="CA2", caller_number="", dialled_number=""),
             outcome=Call.Outcome.ABANDONED)
    call_end(call=call_start(tenant=tenant, channel=Call.Channel.TEXT), outcome=Call.Outcome.ANSWERED)
    live = call_from_incoming(tenant=tenant, call_sid="CA3", caller_number="", dialled_number="")
    call_stream_attach(call_id=live.pk, call_sid="CA3", stream_sid="MZ3")
    assert provider_last_outcomes()["stt"] == {"ok": False, "at": failed.ended_at}


def test_it_reads_only_the_latest_call(tenant, django_assert_num_queries):
    for sid in ("CA1", "CA2", "CA3"):
        phone_call(tenant, sid)
    with django_assert_num_queries(1):
        provider_last_outcomes()


def test_nothing_expires_before_its_period(db):
    tenant = retention.practice("fresh")
    retention.call(tenant, days_ago=29.9)
    year_old = retention.call(tenant, days_ago=364.9)
    counts = call_records_expired_counts(tenant=tenant, now=retention.NOW)
    assert counts == {"recordings": 1, "turns": 0, "tool_calls": 0, "summaries": 0, "states": 0}
    assert list(calls_recording_expired(tenant=tenant, now=retention.NOW)) == [year_old]
    assert not calls_transcript_expired(tenant=tenant, now=retention.NOW).exists()


def test_expired_counts_cover_old_calls_of_this_practice_only(db):
    tenant, other = retention.practice("old"), retention.practice("other")
    retention.call(tenant, days_ago=400)
    retention.call(tenant, days_ago=366)
    retention.call(other, days_ago=400)
    counts = call_records_expired_counts(tenant=tenant, now=retention.NOW)
    assert counts == {"recordings": 2, "turns": 4, "tool_calls": 2, "summaries": 2, "states": 2}


def test_an_expired_call_still_in_progress_is_kept_for_a_day(db):
    tenant = retention.practice("live", retention_call_audio_days=0, retention_transcript_days=0)
    retention.call(tenant, days_ago=0.01, status=Call.Status.IN_PROGRESS)
    stale = retention.call(tenant, days_ago=2, status=Call.Status.IN_PROGRESS)
    assert list(calls_transcript_expired(tenant=tenant, now=retention.NOW)) == [stale]
    assert list(calls_recording_expired(tenant=tenant, now=retention.NOW)) == [stale]
