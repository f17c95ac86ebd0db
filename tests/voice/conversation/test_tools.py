"""The tool layer: one registry, arguments validated by the same models for every engine, limits no engine can talk past."""

import datetime as dt
import inspect
import json
import typing

import pytest

from calls.models import Call, ToolCall
from calls.services import call_start
from voice.conversation.tools import TOOLS, ReceptionistTools, ToolSession, anthropic_tools
from voice.conversation.tools.results import AppointmentList, Refused, Result, SlotSearch, Verification

pytestmark = pytest.mark.django_db
MARIA = "+15551110001"  # demo patient, born 1980-04-12
NOW = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")


def tools_for(tenant, caller: str = MARIA) -> ReceptionistTools:
    call = call_start(tenant=tenant, channel=Call.Channel.PHONE, caller_number=caller)
    return ReceptionistTools(call=call, tenant=tenant, now=lambda: NOW)


def test_every_tool_is_declared_once_with_a_schema_its_handler_agrees_with():
    schemas = {s["name"]: s for s in anthropic_tools()}
    assert set(schemas) == set(TOOLS) and len(TOOLS) == 13
    for name, tool in TOOLS.items():
        schema = schemas[name]["input_schema"]
        assert schema["type"] == "object" and schemas[name]["description"]
        assert set(schema.get("properties", {})) == set(tool.arguments.model_fields)
        assert set(schema.get("required", [])) == {n for n, f in tool.arguments.model_fields.items() if f.is_required()}
        parameters = list(inspect.signature(tool.handler).parameters.values())
        hints = typing.get_type_hints(tool.handler)
        assert [p.name for p in parameters] == ["tools", "args"] and hints["args"] is tool.arguments
        returns = typing.get_args(hints["return"]) or (hints["return"],)
        assert all(issubclass(r, Result) for r in returns), name
    assert "part_of_day" in schemas["find_slots"]["input_schema"]["properties"]  # once missing from Claude's schema


def test_arguments_from_any_engine_are_validated_by_the_same_model(demo):
    tools = tools_for(demo)
    typed = tools.call_tool("find_slots", type="cleaning", date=dt.date(2026, 12, 1), time=dt.time(10))
    as_json = tools.call_tool("find_slots", {"type": "cleaning", "date": "2026-12-01", "time": "10:00"})
    assert isinstance(typed, SlotSearch) and typed == as_json and typed.available
    for bad in [{"type": "cleaning", "date": "the first"}, {"type": "cleaning", "limit": 99}, {"typo": "cleaning"}, {}]:
        refused = tools.call_tool("find_slots", bad)
        assert isinstance(refused, Refused) and refused.error.startswith("Bad arguments for find_slots")
    assert isinstance(tools.call_tool("no_such_tool"), Refused)
    recorded = list(ToolCall.objects.filter(call=tools.call).order_by("index"))
    assert [r.ok for r in recorded] == [True, True, False, False, False, False, False]
    assert json.loads(recorded[0].arguments) == {"type": "cleaning", "date": "2026-12-01", "time": "10:00:00"}


def test_results_are_typed_objects_the_engines_read_by_attribute(demo):
    tools = tools_for(demo)
    tools.call_tool("identify_caller")
    assert tools.call_tool("verify_patient", date_of_birth=dt.date(1980, 4, 12)).verified
    upcoming = tools.call_tool("list_appointments")
    assert isinstance(upcoming, AppointmentList)
    cleaning = upcoming.appointments[0]
    assert (cleaning.type_key, cleaning.provider_key, cleaning.start.isoformat()) == ("cleaning", "chen", "2026-12-03T10:00:00-05:00")
    assert cleaning.spoken == "Thursday, December 3 at 10 AM" and cleaning.day == dt.date(2026, 12, 3)


def test_a_time_off_the_slot_grid_is_refused_with_the_nearest_times(demo):
    result = tools_for(demo).call_tool("find_slots", type="filling", date=dt.date(2026, 12, 7), time=dt.time(9, 15))
    assert result.available is False and "can't book 9:15 AM exactly" in result.reason
    assert {"9 AM", "9:30 AM"} <= {a.time for a in result.alternatives}  # the two nearest, either side


def test_a_window_gives_the_open_times_inside_it_or_says_why_not(demo):
    tools = tools_for(demo)
    after_three = tools.call_tool("find_slots", type="crown_consult", date=dt.date(2026, 12, 1), after=dt.time(15))
    assert after_three.slots and all(s.start.time() >= dt.time(15) for s in after_three.slots)
    late = tools.call_tool("find_slots", type="crown_consult", date=dt.date(2026, 12, 1), after=dt.time(20))
    assert late.slots == [] and late.reason == "I have nothing after 8 PM on Tuesday, December 1." and late.alternatives


def test_a_call_gets_three_failed_identity_checks_then_no_more(demo):
    tools = tools_for(demo)
    tools.call_tool("identify_caller")
    for guess in ["1980-01-01", "1980-01-02", "1980-01-03"]:
        assert tools.call_tool("verify_patient", date_of_birth=guess).verified is False
    refused = tools.call_tool("verify_patient", date_of_birth="1980-04-12", first_name="Maria", last_name="Garcia")
    assert isinstance(refused, Refused) and "can't check any more details" in refused.error
    assert isinstance(tools.call_tool("register_patient", first_name="Maria", last_name="Garcia", date_of_birth="1980-04-12"), Refused)
    assert tools.session.verified_patient_id is None

    fresh = tools_for(demo)  # the limit is per call
    fresh.call_tool("identify_caller")
    assert fresh.call_tool("verify_patient", date_of_birth="1980-04-12") == Verification(
        verified=True, first_name="Maria", full_name="Maria Garcia")


def test_a_call_cannot_open_patient_records_without_end(demo):
    tools = tools_for(demo, caller="+15552220199")
    for name in ["Ann", "Bea"]:
        assert tools.call_tool("register_patient", first_name=name, last_name="New", date_of_birth="1990-01-01").registered
    third = tools.call_tool("register_patient", first_name="Cal", last_name="New", date_of_birth="1990-01-01")
    assert isinstance(third, Refused) and "can't open any more new patient records" in third.error


def test_the_limits_survive_a_restart_of_the_call(demo):
    tools = tools_for(demo)
    tools.call_tool("identify_caller")
    for guess in ["1980-01-01", "1980-01-02", "1980-01-03"]:
        tools.call_tool("verify_patient", date_of_birth=guess)
    resumed = ReceptionistTools(call=tools.call, tenant=demo, session=ToolSession(**tools.state()))
    assert isinstance(resumed.call_tool("verify_patient", date_of_birth="1980-04-12"), Refused)
