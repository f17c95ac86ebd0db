"""The rules engine in-process: repair strategy, silence, keypad, and saving and restoring state."""

import datetime as dt
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from calls.models import Call, ToolCall, Turn
from tenants.models import Tenant
from voice.conversation.engines.rules.state import Expecting
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


def test_a_caller_who_never_makes_sense_reaches_a_person_not_a_hang_up(demo_tenant):
    conversation = start(demo_tenant)
    run(conversation, CallStarted())
    replies = []
    for _ in range(10):
        outputs = run(conversation, CallerText("Blorp flim flam."))
        replies.append(said(outputs))
        if conversation.finished:
            break
    assert conversation.finished and len(replies) == 4
    assert replies[0] == "Sorry, I didn't catch that. How can I help?"  # fewer words first
    assert "book, move or cancel" in replies[1]  # then with examples
    assert "transfer you to our front desk, or take a message" in replies[2]
    assert replies[3] == "Let me put you through to our front desk, please hold."
    assert outputs[-1] == TransferCall("+15551119999")


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


def state_of(expecting: str) -> dict:
    """A dialogue waiting for one kind of answer, as far into a booking as that question comes."""
    slot = {"start": "2026-12-01T10:00:00-05:00", "provider_key": "chen", "provider": "Lisa Chen",
            "spoken": "Tuesday, December 1 at 10 AM", "time": "10 AM"}
    appointment = {"id": 1, "type_key": "cleaning", "type": "Cleaning", "provider_key": "chen", "provider": "Lisa Chen",
                   "start": "2026-12-03T10:00:00-05:00", "spoken": "Thursday, December 3 at 10 AM", "status": "booked"}
    return {"engine": {"intent": "book", "expecting": expecting, "last_question": f"(the {expecting} question)",
                       "type_key": "cleaning", "date": "2026-12-01", "time": "10:00", "slot": slot, "offered": [slot],
                       "appointment": appointment if "cancel" in expecting or "reschedule" in expecting else None,
                       "first_name": "Ann", "last_name": "Lee"}}


@pytest.mark.parametrize("expecting", [e.value for e in Expecting])
@pytest.mark.parametrize("front_desk", ["open", "no transfer number"])
def test_every_question_answered_with_nonsense_ends_with_a_person_or_a_message(demo_tenant, expecting, front_desk):
    if front_desk != "open":
        demo_tenant.transfer_number = ""
        demo_tenant.save()
    call = Call.objects.create(tenant=demo_tenant, channel=Call.Channel.TEXT, caller_number="+15552229999",
                               state=json.dumps(state_of(expecting)))
    conversation = start(demo_tenant, call=call)
    for _ in range(8):
        outputs = run(conversation, CallerText("Blorp flim flam."))
        if conversation.finished:
            break
    report = conversation.report()
    assert conversation.finished and (report["transferred_to"] or report["message"]), (expecting, said(outputs))
    assert not any(isinstance(o, EndCall) for o in outputs) or report["message"]  # never hung up on unhelped


def test_a_birthday_misheard_is_never_taken_for_an_appointment_date(demo_tenant):
    conversation = start(demo_tenant, caller="+15551110001")
    run(conversation, CallStarted())
    run(conversation, CallerText("I need to cancel my cleaning."))
    reply = said(run(conversation, CallerText("Sunday the fourth of July two thousand ninety nine")))
    assert "closed" not in reply and "book up to" not in reply
    assert reply.startswith("Sorry, I didn't catch that. Your date of birth, please?")


def test_an_unsure_hearing_is_read_back_before_it_is_used(demo_tenant):
    conversation = start(demo_tenant, caller="+15551110001")
    run(conversation, CallStarted())
    run(conversation, CallerText("I need to cancel my cleaning."))
    reply = said(run(conversation, CallerText("april twelfth nineteen eighty", confident=False)))
    assert reply == "Just to check: April 12, 1980?"
    assert "cleaning with Lisa Chen on Thursday, December 3 at 10 AM" in said(run(conversation, CallerText("yes")))
    unsure = start(demo_tenant, caller="+15551110001")
    run(unsure, CallStarted())
    run(unsure, CallerText("I need to cancel my cleaning."))
    assert said(run(unsure, CallerText("march the tuesday", confident=False))).startswith("Sorry, I didn't catch that.")


def test_a_date_of_birth_can_be_keyed_in(demo_tenant):
    conversation = start(demo_tenant, caller="+15551110001")
    run(conversation, CallStarted())
    run(conversation, CallerText("I need to cancel my cleaning."))
    assert "keypad" in said(run(conversation, CallerText("blorp")))
    assert "cleaning with Lisa Chen" in said(run(conversation, DtmfDigits("04121980")))


def test_wishes_that_cannot_be_met_do_not_loop(demo_tenant):
    conversation = start(demo_tenant)
    run(conversation, CallStarted())
    run(conversation, CallerText("I'd like a cleaning."))
    replies = [said(run(conversation, CallerText(f"How about {day}?")))
               for day in ["Saturday December 5th", "Sunday December 6th", "Saturday December 12th"]]
    assert "transfer you to our front desk, or take a message" in replies[2]


def test_after_hours_a_person_is_not_available_and_a_message_is_offered(demo_tenant):
    evening = Conversation.start(tenant=demo_tenant, channel=Call.Channel.TEXT, now=lambda: dt.datetime.fromisoformat(
        "2026-11-30T19:00:00-05:00"))
    run(evening, CallStarted())
    reply = said(run(evening, CallerText("Can I speak to a real person please?")))
    assert "no one available" in reply and "leave a message" in reply
