"""The Claude engine through the official SDK, against a protocol-faithful fake of the Messages API."""

import datetime as dt
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management import call_command

from bookings.models import Appointment
from calls.models import Call, ToolCall
from tenants.models import Tenant
from tests.fakes.anthropic_api import FakeAnthropic, Reply
from voice.conversation.session import Conversation
from voice.frames import AgentSentence, CallerText, CallStarted, TransferCall

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")


@pytest.fixture
def fake(settings):
    with FakeAnthropic() as server:
        settings.ANTHROPIC_API_KEY = "sk-ant-test"
        settings.ANTHROPIC_BASE_URL = server.base_url
        settings.CLAUDE_FIRST_TOKEN_SECONDS = 1.0
        yield server


@pytest.fixture
def conversation(fake):
    call_command("seed_demo", stdout=io.StringIO())
    tenant = Tenant.objects.get(slug="demo")
    conversation = Conversation.start(
        tenant=tenant, channel=Call.Channel.TEXT, caller_number="+15552220001",
        engine_path="voice.conversation.engines.claude.ClaudeEngine", now=lambda: NOW,
    )
    run(conversation, CallStarted())
    return conversation


def run(conversation, event):
    async def collect():
        return [o async for o in conversation.handle(event)]

    return async_to_sync(collect)()


def sentences(outputs):
    return [o.text for o in outputs if isinstance(o, AgentSentence)]


def tool_results(request) -> dict:
    """tool_use_id -> parsed result, from the last user message the SDK sent."""
    last = request["messages"][-1]
    return {b["tool_use_id"]: json.loads(b["content"]) for b in last["content"] if b.get("type") == "tool_result"}


def test_tool_use_round_trip_books_an_appointment(fake, conversation):
    start = "2026-12-01T10:00:00-05:00"
    fake.script(
        Reply(tool_uses=[("verify_patient", {"date_of_birth": "1990-06-05", "first_name": "Emma", "last_name": "Wilson"})]),
        Reply(tool_uses=[("register_patient", {"first_name": "Emma", "last_name": "Wilson", "date_of_birth": "1990-06-05"})]),
        Reply(tool_uses=[("find_slots", {"type": "cleaning", "date": "2026-12-01", "time": "10:00"})]),
        Reply(text="Good news, Emma. Tuesday, December 1 at 10 AM with Lisa Chen is open. Shall I book it?"),
        Reply(tool_uses=[("book_appointment", {"type": "cleaning", "start": start, "provider": "chen"})]),
        Reply(text="You're all set for a cleaning on Tuesday, December 1 at 10 AM with Lisa Chen. Anything else?"),
    )
    first = sentences(run(conversation, CallerText(
        "I'd like a teeth cleaning Tuesday December 1st at 10am. I'm Emma Wilson, born June 5th 1990."
    )))
    # Streamed sentence by sentence, as the phone loop needs.
    assert first == ["Good news, Emma.", "Tuesday, December 1 at 10 AM with Lisa Chen is open.", "Shall I book it?"]
    second = sentences(run(conversation, CallerText("Yes please.")))
    assert second[0] == "You're all set for a cleaning on Tuesday, December 1 at 10 AM with Lisa Chen."

    appointment = Appointment.objects.get(patient__phone_index__isnull=False, start=dt.datetime.fromisoformat(start))
    assert (appointment.provider.key, appointment.appointment_type.key, appointment.source) == ("chen", "cleaning", "phone")
    assert appointment.patient.full_name == "Emma Wilson"

    # What the SDK sent: the tools offered, the system prompt, and each tool result returned.
    request = fake.requests[0]
    assert request["stream"] is True and request["model"]
    assert {t["name"] for t in request["tools"]} >= {"find_slots", "book_appointment", "verify_patient", "transfer_to_human"}
    assert "Bright Smile Dental" in request["system"][0]["text"] and "Monday, November 30, 2026" in request["system"][0]["text"]
    # Prompt caching: the tools, the practice's facts and the call so far are each paid for once, then read back.
    assert request["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert request["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all("cache_control" not in t for t in request["tools"][:-1])
    assert fake.requests[4]["messages"][-1] == {
        "role": "user", "content": [{"type": "text", "text": "Yes please.", "cache_control": {"type": "ephemeral"}}]}
    assert all("cache_control" not in str(m) for m in fake.requests[4]["messages"][:-1])  # one breakpoint in the call
    assert request["max_tokens"] == settings.ANTHROPIC_MAX_TOKENS
    assert fake.headers[0]["authorization"] == "Bearer sk-ant-test"
    assert tool_results(fake.requests[1]) == {"toolu_00": {"verified": False, "first_name": "", "full_name": "", "attempts_left": 2}}
    assert tool_results(fake.requests[2])["toolu_00"]["registered"] is True
    slot = tool_results(fake.requests[3])["toolu_00"]
    assert slot["available"] is True and slot["slot"]["provider_key"] == "chen"
    booked = tool_results(fake.requests[5])["toolu_00"]
    assert booked["booked"] is True and booked["appointment"]["start"] == start
    names = list(ToolCall.objects.filter(call=conversation.call).values_list("name", flat=True))
    # The system prompt reads the practice's facts through the tools too.
    assert names == ["practice_info", "verify_patient", "register_patient", "find_slots", "book_appointment"]


def test_a_slow_first_token_gets_the_filler_then_the_answer(fake, conversation):
    fake.script(Reply(text="Yes, we accept Cigna.", delay=1.5))
    heard = sentences(run(conversation, CallerText("Do you accept Cigna?")))
    assert heard == ["One moment while I check that.", "Yes, we accept Cigna."]
    assert not conversation.engine.fell_back


def test_an_api_error_falls_back_to_the_rules_engine_and_is_recorded(fake, conversation):
    fake.script(Reply(status=500))
    heard = sentences(run(conversation, CallerText("Do you accept Cigna insurance?")))
    assert heard[0] == "Yes, we accept Cigna."  # the rules engine answered
    assert conversation.engine.fell_back
    heard = sentences(run(conversation, CallerText("What time are you open until on Friday?")))
    assert "2 PM" in " ".join(heard)
    assert len(fake.requests) == 1  # no more calls to the API once fallen back
    call = async_to_sync(conversation.finish)()
    assert call.fell_back_to_rules is True


def test_a_second_timeout_falls_back_after_the_filler(fake, conversation):
    fake.script(Reply(text="Too late.", delay=3.0))
    heard = sentences(run(conversation, CallerText("Do you accept Cigna insurance?")))
    assert heard[0] == "One moment while I check that."
    assert "Yes, we accept Cigna." in heard and "Too late." not in heard
    assert conversation.engine.fell_back


def test_transfer_through_the_tool(fake, conversation):
    fake.script(Reply(text="Of course, let me put you through.", tool_uses=[("transfer_to_human", {"reason": "asked"})]))
    outputs = run(conversation, CallerText("Can I talk to a real person?"))
    assert sentences(outputs) == ["Of course, let me put you through."]
    assert outputs[-1] == TransferCall("+15551119999")
    call = async_to_sync(conversation.finish)()
    assert call.outcome == "transferred"


def test_summary_comes_from_claude(fake, conversation):
    fake.script(Reply(text="Yes, we accept Cigna."), Reply(text="Caller asked whether Cigna is accepted; it is."))
    run(conversation, CallerText("Do you accept Cigna?"))
    call = async_to_sync(conversation.finish)()
    assert call.summary == "Caller asked whether Cigna is accepted; it is."
    assert fake.requests[-1].get("stream") is None and "Cigna" in fake.requests[-1]["messages"][0]["content"]


def test_a_cut_off_reply_stays_in_claudes_history_only_as_far_as_the_caller_heard(fake, conversation):
    fake.script(Reply(text="We're open until 2 PM on Friday. We also have late hours on Wednesday until 7 PM."),
                Reply(text="Sure."))
    run(conversation, CallerText("When are you open on Friday?"))
    async_to_sync(conversation.record_agent)("We're open until 2 PM on Friday.", interrupted=True)
    run(conversation, CallerText("Thanks, and on Saturday?"))
    history = fake.requests[-1]["messages"]
    assert history[-2] == {"role": "assistant", "content": [{"type": "text", "text": "We're open until 2 PM on Friday."}]}
    assert history[-1]["content"][0]["text"] == "Thanks, and on Saturday?"
