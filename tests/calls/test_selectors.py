"""Reads of calls: the providers' outcome on the latest phone call."""

import pytest

from calls.models import Call
from calls.selectors import provider_last_outcomes
from calls.services import call_end, call_fallback_record, call_from_incoming, call_start, call_stream_attach

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
