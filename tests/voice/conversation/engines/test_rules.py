"""The rules engine in-process: repair strategy, silence, keypad, and saving and restoring state."""

import datetime as dt
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from calls.models import Call, ToolCall, Turn
from tenants.models import Tenant
from voice.conversation.session import Conversation
from voice.frames import AgentSentence, CallerText, CallStarted, DtmfDigits, EndCall, SilenceTimeout, TransferCall

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")


@pytest.fixture
def demo_tenant():
    call_command("seed_demo", stdout=io.StringIO())
    return Tenant.objects.get(slug="demo")


def start(tenant, caller="+15552229999", call=None):
    return Conversation.start(tenant=tenant, channel=Call.Channel.TEXT, caller_number=caller, now=lambda: NOW, call=call)


def run(conversation, event):
    async def collect():
        return [o async for o in conversation.handle(event)]

    # async_to_sync, as Django does: the ORM work runs back on this thread and its connection.
    return async_to_sync(collect)()


def said(outputs) -> str:
    return " ".join(o.text for o in outputs if isinstance(o, AgentSentence))


def test_a_caller_who_never_makes_sense_is_not_kept_on_the_line(demo_tenant):
    conversation = start(demo_tenant)
    run(conversation, CallStarted())
    replies = []
    for _ in range(10):
        outputs = run(conversation, CallerText("Blorp flim flam."))
        replies.append(said(outputs))
        if conversation.finished:
            assert isinstance(outputs[-1], EndCall)
            break
    assert conversation.finished and len(replies) == 4
    assert replies[0].startswith("Sorry, I didn't catch that.")
    assert "book, move or cancel" in replies[1]  # rephrased
    assert "transfer you to our front desk, or take a message" in replies[2]
    assert "Goodbye" in replies[3]


def test_the_same_question_is_never_asked_a_third_time(demo_tenant):
    conversation = start(demo_tenant)
    run(conversation, CallStarted())
    run(conversation, CallerText("I'd like a cleaning on Tuesday December 8th at 2 pm."))
    questions = [said(run(conversation, CallerText("hmm"))) for _ in range(3)]
    assert "front desk, or take a message" in questions[-1] or conversation.finished


def test_silence_reprompts_then_hangs_up(demo_tenant):
    conversation = start(demo_tenant)
    run(conversation, CallStarted())
    assert "How can I help" in said(run(conversation, SilenceTimeout(1)))
    assert "still there" in said(run(conversation, SilenceTimeout(2)))
    outputs = run(conversation, SilenceTimeout(3))
    assert isinstance(outputs[-1], EndCall) and "Goodbye" in said(outputs)


def test_zero_on_the_keypad_reaches_a_person(demo_tenant):
    conversation = start(demo_tenant)
    run(conversation, CallStarted())
    outputs = run(conversation, DtmfDigits("0"))
    assert outputs[-1] == TransferCall("+15551119999")
    call = async_to_sync(conversation.finish)()
    assert call.outcome == "transferred" and call.transferred_to == "+15551119999"


def test_state_is_saved_each_turn_and_a_new_process_carries_on(demo_tenant):
    first = start(demo_tenant, caller="+15551110001")
    run(first, CallStarted())
    run(first, CallerText("Hi, this is Maria Garcia. I need to cancel my cleaning on Thursday."))
    call = Call.objects.get(pk=first.call.pk)
    saved = json.loads(call.state)
    assert saved["engine"]["intent"] == "cancel" and saved["engine"]["expecting"] == "dob"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT state FROM calls_call WHERE id = %s", [call.pk])
        raw_state = cursor.fetchone()[0]
    assert "Garcia" not in raw_state and "cancel" not in raw_state  # encrypted at rest

    resumed = start(demo_tenant, caller="+15551110001", call=call)  # e.g. after a restart
    reply = said(run(resumed, CallerText("April 12th 1980")))
    assert "cleaning with Lisa Chen on Thursday, December 3 at 10 AM" in reply
    run(resumed, CallerText("Yes, please."))
    assert resumed.report()["appointments"][0]["status"] == "cancelled"


def test_turns_and_tool_calls_are_recorded(demo_tenant):
    conversation = start(demo_tenant)
    run(conversation, CallStarted())
    run(conversation, CallerText("Do you accept Cigna insurance?"))
    run(conversation, CallerText("No, that's all. Thank you, bye."))
    call = async_to_sync(conversation.finish)()
    turns = list(Turn.objects.filter(call=call).values_list("speaker", "text"))
    assert [s for s, _ in turns] == ["agent", "caller", "agent", "caller", "agent"]
    assert turns[2][1].startswith("Yes, we accept Cigna.")
    tools = list(ToolCall.objects.filter(call=call).values_list("name", flat=True))
    assert tools == ["practice_info", "check_insurance"]
    assert call.outcome == "answered" and call.ended_at is not None
    assert "Answered a question" in call.summary


def test_a_question_about_a_weekday_is_answered_for_that_weekday(demo_tenant):
    conversation = start(demo_tenant)
    run(conversation, CallStarted())
    assert "We're closed on Saturdays." in said(run(conversation, CallerText("Are you open on Saturdays?")))
    friday = Conversation.start(tenant=demo_tenant, channel=Call.Channel.TEXT, now=lambda: dt.datetime.fromisoformat(
        "2026-12-04T09:00:00-05:00"))  # "Friday", said on a Friday, is no one date: the weekday's hours
    run(friday, CallStarted())
    assert "On Fridays we're open 8 AM to 2 PM." in said(run(friday, CallerText("How late are you open on Friday?")))
