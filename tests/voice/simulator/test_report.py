"""The report reads the server's record of a call: its turns as they are saved, its appointments, the summary."""

import asyncio
import datetime as dt

import pytest
from channels.db import database_sync_to_async

from bookings.models import Appointment, AppointmentType, Patient, Provider, TextMessage
from calls.models import Call, Turn
from calls.services import call_end, call_save_state, turn_record
from voice.simulator import report
from voice.simulator.caller import CallResult

SID = "CA" + "3" * 32
REPLY = {"end_of_turn_wait_ms": 500, "final_transcript_ms": 30.9, "engine_first_sentence_ms": 10.4,
         "first_audio_ms": 3.5, "first_frame_sent_ms": 45.1}


@pytest.fixture
def call(demo) -> Call:
    return Call.objects.create(tenant=demo, channel=Call.Channel.PHONE, call_sid=SID, caller_number="+15551110001")


def say(call: Call, *turns: tuple[str, str, dict]) -> None:
    for speaker, text, latency in turns:
        turn_record(call=call, speaker=speaker, text=text, latency=latency)


def test_a_turn_reads_as_who_spoke_what_the_server_heard_and_how_long_the_reply_took():
    line = report.turn_line
    assert line(Turn(speaker="agent", text="How can I help you today?", latency={})) == (
        "AGENT: How can I help you today?")
    assert line(Turn(speaker="caller", text="i'd like a cleaning", latency={})) == (
        "CALLER (heard as): i'd like a cleaning")
    assert line(Turn(speaker="agent", text="What day?", latency=REPLY)) == "AGENT (500 + 45 ms): What day?"
    assert line(Turn(speaker="agent", text="Thank you for calling.", latency={"interrupted": True})) == (
        "AGENT (cut off by the caller): Thank you for calling.")


@pytest.mark.django_db
def test_the_record_gives_only_the_turns_not_yet_shown_and_whether_the_call_is_finished(call):
    assert report.recorded_since("CA-unknown", 0) is None
    say(call, ("agent", "Hello.", {}), ("caller", "hi", {}))
    first = report.recorded_since(SID, 0)
    assert (first.call_id, [(t.speaker, t.text) for t in first.turns], first.last_index, first.finished) == (
        call.pk, [("agent", "Hello."), ("caller", "hi")], 2, False)
    say(call, ("agent", "Goodbye!", REPLY))
    call_end(call=call, outcome="answered")
    later = report.recorded_since(SID, first.last_index)
    assert ([t.text for t in later.turns], later.last_index, later.finished) == (["Goodbye!"], 3, True)


@pytest.mark.django_db(transaction=True)
async def test_following_a_call_writes_each_turn_once_as_it_is_saved_until_the_server_finishes(call):
    written: list[str] = []
    follower = asyncio.ensure_future(report.follow(SID, written.append, asyncio.Event()))
    await database_sync_to_async(say)(call, ("agent", "Hello.", {}))
    await asyncio.sleep(report.POLL_SECONDS * 3)
    assert written[1:] == ["  AGENT: Hello."]
    await database_sync_to_async(say)(call, ("caller", "bye", {}), ("agent", "Goodbye!", REPLY))
    await database_sync_to_async(call_end)(call=call, outcome="answered")
    await asyncio.wait_for(follower, 5)
    assert written == [report.HEADER.format(call=call.pk), "  AGENT: Hello.", "  CALLER (heard as): bye",
                       "  AGENT (500 + 45 ms): Goodbye!"]


@pytest.mark.django_db(transaction=True)
async def test_following_a_call_the_server_never_took_ends_soon_after_the_caller(monkeypatch):
    monkeypatch.setattr(report, "FINISH_WAIT_SECONDS", 0.3)
    gone = asyncio.Event()
    gone.set()
    written: list[str] = []
    await asyncio.wait_for(report.follow("CA-never-answered", written.append, gone), 5)
    assert written == []


@pytest.mark.django_db
def test_the_appointments_the_call_made_are_read_in_their_final_state(call, demo):
    start = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    booked = Appointment.objects.create(
        tenant=demo, patient=next(p for p in Patient.objects.filter(tenant=demo) if p.full_name == "Maria Garcia"),
        provider=Provider.objects.get(tenant=demo, key="chen"),
        appointment_type=AppointmentType.objects.get(tenant=demo, key="cleaning"),
        start=start, end=start + dt.timedelta(hours=1),
    )
    assert report.appointment_lines(SID) == []
    call_save_state(call=call, state={"tools": {"changed_appointment_ids": [booked.pk]}})
    assert report.appointment_lines(SID) == [
        "Cleaning with Lisa Chen on Monday, November 30 at 09:00 for Maria Garcia: booked"]
    assert report.appointment_lines("CA-unknown") is None
    TextMessage.objects.create(tenant=demo, appointment=booked, patient=booked.patient, kind="booked", key="k",
                               phone="+15551110001", body="Hi Maria, you're booked.", status="recorded")
    assert report.text_lines(SID) == [
        "Booking confirmation to +15551110001 (Recorded, not sent (no SMS provider)): Hi Maria, you're booked."]


def test_the_summary_gives_the_callers_side_of_the_latency_over_every_call():
    results = [CallResult("CA1", latencies_ms=[600, 700], frames_received=300),
               CallResult("CA2", latencies_ms=[650, 900], unanswered=1, late_frames=2, frames_received=200)]
    assert report.summary_line(results) == (
        "2 call(s), 4 turns answered, 1 unanswered; turn latency (last caller speech frame sent to first reply "
        "frame received): p50 675 ms, p95 900 ms, max 900 ms; late frames 2 of 500 received")
    assert report.summary_line([CallResult("CA1")]) is None


@pytest.mark.django_db
def test_after_one_call_the_report_says_how_it_ended_the_summary_and_last_what_it_booked(call):
    result = CallResult(SID, latencies_ms=[640], frames_received=90, ended_by="agent hung up")
    assert report.report([result]) == [
        "[call ended: agent hung up]",
        "1 call(s), 1 turns answered, 0 unanswered; turn latency (last caller speech frame sent to first reply "
        "frame received): p50 640 ms, p95 640 ms, max 640 ms; late frames 0 of 90 received",
        "Appointments made or changed on this call:", "  (none)"]


@pytest.mark.django_db
def test_after_many_calls_the_report_is_the_summary_alone():
    results = [CallResult("CA1", latencies_ms=[600]), CallResult("CA2", error="ConnectError: refused")]
    assert report.report(results) == [report.summary_line(results)]


@pytest.mark.django_db
def test_what_the_simulator_heard_itself_is_reported_only_when_it_listened(call):
    listened = CallResult(SID, ended_by="agent hung up", heard=["and you were talking"])
    assert "  and you were talking" in report.report([listened])
    assert not any("recogniser" in line for line in report.report([CallResult(SID, ended_by="agent hung up")]))
