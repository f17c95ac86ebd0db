"""The tool layer enforces what no engine may be talked out of."""

import pytest

from calls.models import Call
from calls.services import call_start
from voice.conversation.tools import ReceptionistTools

pytestmark = pytest.mark.django_db
MARIA = "+15551110001"  # demo patient, born 1980-04-12


def tools_for(tenant, caller: str = MARIA) -> ReceptionistTools:
    call = call_start(tenant=tenant, channel=Call.Channel.PHONE, caller_number=caller)
    return ReceptionistTools(call=call, tenant=tenant)


def test_a_call_gets_three_failed_identity_checks_then_no_more(demo):
    tools = tools_for(demo)
    tools.call_tool("identify_caller")
    for guess in ["1980-01-01", "1980-01-02", "1980-01-03"]:
        assert tools.call_tool("verify_patient", date_of_birth=guess)["verified"] is False
    refused = tools.call_tool("verify_patient", date_of_birth="1980-04-12", first_name="Maria", last_name="Garcia")
    assert "can't check any more details" in refused["error"] and tools.session.verified_patient_id is None
    assert "error" in tools.call_tool("register_patient", first_name="Maria", last_name="Garcia", date_of_birth="1980-04-12")
    assert tools.session.verified_patient_id is None

    fresh = tools_for(demo)  # the limit is per call
    fresh.call_tool("identify_caller")
    assert fresh.call_tool("verify_patient", date_of_birth="1980-04-12")["verified"] is True


def test_a_call_cannot_open_patient_records_without_end(demo):
    tools = tools_for(demo, caller="+15552220199")
    for name in ["Ann", "Bea"]:
        assert tools.call_tool("register_patient", first_name=name, last_name="New", date_of_birth="1990-01-01")["registered"]
    third = tools.call_tool("register_patient", first_name="Cal", last_name="New", date_of_birth="1990-01-01")
    assert "can't open any more new patient records" in third["error"]


def test_the_limits_survive_a_restart_of_the_call(demo):
    from voice.conversation.tools import ToolSession

    tools = tools_for(demo)
    tools.call_tool("identify_caller")
    for guess in ["1980-01-01", "1980-01-02", "1980-01-03"]:
        tools.call_tool("verify_patient", date_of_birth=guess)
    resumed = ReceptionistTools(call=tools.call, tenant=demo, session=ToolSession(**tools.state()))
    assert "error" in resumed.call_tool("verify_patient", date_of_birth="1980-04-12")
