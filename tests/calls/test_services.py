"""Recording calls as they happen: each service on its own."""

import pytest

from calls.models import Call, Message, Turn
from calls.selectors import call_records_expired_counts
from calls.services import (
    CallAlreadyEnded,
    CallNotFound,
    StreamAlreadyAttached,
    call_end,
    call_engine_record,
    call_from_incoming,
    call_records_purge,
    call_start,
    call_status_update,
    call_stream_attach,
    message_create,
    turn_record,
)
from tenants.batches import InvalidBatchSize
from tenants.services import Actor
from tenants.twilio import MissingSid
from tests import retention
from tests.servers import free_port

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


@pytest.mark.sqlite_too
def test_call_records_purge_clears_old_calls_and_keeps_recent_ones(fake_twilio):
    tenant = retention.practice("purge")
    ancient, months_old, recent = (retention.call(tenant, days_ago=days) for days in (400, 100, 10))
    held = retention.twilio_holds(fake_twilio, [ancient, months_old, recent])
    expected = call_records_expired_counts(tenant=tenant, now=retention.NOW)

    counts = call_records_purge(tenant=tenant, now=retention.NOW)

    assert counts == {**expected, "recordings_failed": 0}
    assert expected == {"recordings": 2, "turns": 2, "tool_calls": 1, "summaries": 1, "states": 1}
    assert fake_twilio.recordings_deleted == held[:2] and fake_twilio.recordings == {recent.recording_sid}
    ancient.refresh_from_db()
    assert (ancient.recording_sid, ancient.recording_url, ancient.summary, ancient.state) == ("", "", "", "")
    assert not ancient.turns.exists() and not ancient.tool_calls.exists()
    assert ancient.outcome == "" and ancient.recording_duration_seconds == 42  # the row stays, for statistics
    months_old.refresh_from_db()
    assert (months_old.recording_sid, months_old.recording_url) == ("", "")
    assert months_old.summary == retention.SUMMARY and months_old.turns.count() == 2
    recent.refresh_from_db()
    assert recent.recording_sid and recent.recording_url and recent.turns.count() == 2 and recent.state
    assert call_records_expired_counts(tenant=tenant, now=retention.NOW) == dict.fromkeys(expected, 0)


@pytest.mark.sqlite_too
def test_call_records_purge_in_batches_of_one_purges_them_all(fake_twilio):
    tenant = retention.practice("batches")
    calls = [retention.call(tenant, days_ago=days) for days in (400, 500, 600)]
    held = retention.twilio_holds(fake_twilio, calls)
    counts = call_records_purge(tenant=tenant, now=retention.NOW, batch_size=1)
    assert counts == {"recordings": 3, "turns": 6, "tool_calls": 3, "summaries": 3, "states": 3, "recordings_failed": 0}
    assert not Turn.objects.exists() and not Call.objects.exclude(recording_sid="").exists()
    assert fake_twilio.recordings_deleted == held


@pytest.mark.sqlite_too
def test_a_recording_twilio_does_not_delete_keeps_its_reference_for_the_next_run(fake_twilio):
    tenant = retention.practice("outage")
    refused, deleted = (retention.call(tenant, days_ago=days) for days in (400, 500))
    retention.twilio_holds(fake_twilio, [refused, deleted])
    fake_twilio.recordings_failing.add(refused.recording_sid)

    counts = call_records_purge(tenant=tenant, now=retention.NOW, batch_size=1)

    assert (counts["recordings"], counts["recordings_failed"], counts["turns"]) == (1, 1, 4)  # the rest goes on
    assert fake_twilio.recordings_deleted == [deleted.recording_sid]
    kept = Call.objects.get(pk=refused.pk)
    assert (kept.recording_sid, kept.recording_url) == (refused.recording_sid, refused.recording_url)
    fake_twilio.recordings_failing.clear()  # Twilio is back: the next run deletes what it kept
    assert call_records_purge(tenant=tenant, now=retention.NOW)["recordings"] == 1
    assert fake_twilio.recordings == set() and not Call.objects.exclude(recording_sid="").exists()


@pytest.mark.sqlite_too
def test_twilio_out_of_reach_keeps_every_recording_reference(settings):
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "test-token"
    tenant = retention.practice("offline")
    old = retention.call(tenant, days_ago=400)
    counts = call_records_purge(tenant=tenant, now=retention.NOW)
    assert (counts["recordings"], counts["recordings_failed"], counts["turns"]) == (0, 1, 2)
    assert Call.objects.get(pk=old.pk).recording_sid == old.recording_sid


@pytest.mark.sqlite_too
def test_a_recording_twilio_no_longer_has_and_one_it_never_had_are_cleared_too(fake_twilio):
    tenant = retention.practice("gone")
    deleted_before = retention.call(tenant, days_ago=400)  # Twilio answers 404: gone already
    url_only = retention.call(tenant, days_ago=400)
    Call.objects.filter(pk=url_only.pk).update(recording_sid="")  # no RecordingSid: no REST call for it
    counts = call_records_purge(tenant=tenant, now=retention.NOW)
    assert (counts["recordings"], counts["recordings_failed"]) == (2, 0)
    assert fake_twilio.recordings_deleted == []
    assert not Call.objects.exclude(recording_sid="").exists()
    assert Call.objects.get(pk=deleted_before.pk).recording_url == ""


@pytest.mark.sqlite_too
def test_call_records_purge_refuses_a_batch_size_below_one(db):
    tenant = retention.practice("zero")
    retention.call(tenant, days_ago=400)
    with pytest.raises(InvalidBatchSize):
        call_records_purge(tenant=tenant, now=retention.NOW, batch_size=0)
    assert Turn.objects.count() == 2
