"""Recording calls as they happen: each service on its own."""

import pytest

from calls.models import Call, Message, Turn
from calls.services import (
    CallAlreadyEnded,
    CallNotFound,
    MissingSid,
    StreamAlreadyAttached,
    call_end,
    call_engine_record,
    call_from_incoming,
    call_start,
    call_status_update,
    call_stream_attach,
    message_create,
    turn_record,
)
from tenants.services import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(make_practice):
    return make_practice("calls")[0]


def test_turns_are_numbered_in_order_and_saved_encrypted(tenant):
    call = call_start(tenant=tenant, channel=Call.Channel.TEXT)
    for text in ["Hello", "I'd like a cleaning", "Monday at nine"]:
        turn_record(call=call, speaker=Turn.Speaker.CALLER, text=text)
    assert list(Turn.objects.filter(call=call).values_list("index", "text")) == [
        (1, "Hello"), (2, "I'd like a cleaning"), (3, "Monday at nine")]


def test_a_call_records_its_engine_by_short_name(tenant):
    call = call_from_incoming(tenant=tenant, call_sid="CA1", caller_number="+15551110001", dialled_number="+15005550006")
    assert call.engine == ""
    call_engine_record(call=call, engine="rules")
    assert Call.objects.get(pk=call.pk).engine == "rules"


def test_the_conversations_ending_is_recorded_once(tenant):
    call = call_start(tenant=tenant, channel=Call.Channel.TEXT)
    ended = call_end(call=call, outcome=Call.Outcome.BOOKED, summary="Booked a cleaning.")
    again = call_end(call=call, outcome=Call.Outcome.ABANDONED, summary="late")
    assert (again.outcome, again.summary, again.ended_at) == ("booked", "Booked a cleaning.", ended.ended_at)


def test_a_call_binds_one_stream_and_refuses_others(tenant):
    call = call_from_incoming(tenant=tenant, call_sid="CA2", caller_number="", dialled_number="")
    with pytest.raises(CallNotFound):
        call_stream_attach(call_id=call.pk, call_sid="CA-other", stream_sid="MZ1")
    call_stream_attach(call_id=call.pk, call_sid="CA2", stream_sid="MZ1")
    with pytest.raises(StreamAlreadyAttached):
        call_stream_attach(call_id=call.pk, call_sid="CA2", stream_sid="MZ2")
    call_status_update(call_sid="CA2", status="completed", duration=5)
    other = call_from_incoming(tenant=tenant, call_sid="CA3", caller_number="", dialled_number="")
    call_status_update(call_sid="CA3", status="no-answer")
    with pytest.raises(CallAlreadyEnded):
        call_stream_attach(call_id=other.pk, call_sid="CA3", stream_sid="MZ3")
    assert Call.objects.get(pk=call.pk).stream_sid == "MZ1"


@pytest.mark.parametrize("sid", ["", "   "])
def test_blank_sids_are_refused(tenant, sid):
    call_start(tenant=tenant, channel=Call.Channel.TEXT)  # a blank SID of its own
    with pytest.raises(MissingSid):
        call_status_update(call_sid=sid, status="failed")
    with pytest.raises(MissingSid):
        call_from_incoming(tenant=tenant, call_sid=sid, caller_number="", dialled_number="")
    assert Call.objects.get().status == "in_progress"


def test_a_message_needs_words_and_stays_in_its_practice(tenant, make_practice):
    actor = Actor.system("test")
    with pytest.raises(ValueError, match="needs some text"):
        message_create(tenant=tenant, about="   ", actor=actor)
    with pytest.raises(ValueError, match="at most 200"):
        message_create(tenant=tenant, about="Call me", caller_name="x" * 201, actor=actor)
    message = message_create(tenant=tenant, about=" Call me back ", caller_name=" Dan ", actor=actor)
    assert (message.about, message.caller_name, Message.objects.count()) == ("Call me back", "Dan", 1)
