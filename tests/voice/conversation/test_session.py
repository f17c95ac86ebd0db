"""A conversation, whatever the channel: the engine chosen, every turn and its state saved, the outcome reported."""

import datetime as dt
import json

import pytest
from asgiref.sync import async_to_sync

from calls.models import Call, Turn
from calls.services import call_from_incoming
from voice.conversation.engines.base import FallbackEngine
from voice.conversation.engines.rules import RulesEngine
from voice.conversation.session import Conversation
from voice.frames import AgentSentence, CallerText, CallStarted

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00")


def run(conversation, event):
    async def collect():
        return [o async for o in conversation.handle(event)]

    return async_to_sync(collect)()


def test_every_channel_records_the_engine_by_the_same_name(demo):
    text = Conversation.start(tenant=demo, channel=Call.Channel.TEXT, caller_number="+15551110001", now=lambda: NOW)
    phone_call = call_from_incoming(tenant=demo, call_sid="CA1", caller_number="+15551110001", dialled_number="+15005550006")
    phone = Conversation.start(tenant=demo, channel=Call.Channel.PHONE, call=phone_call, now=lambda: NOW)
    assert Call.objects.get(pk=text.call.pk).engine == Call.objects.get(pk=phone.call.pk).engine == "rules"


def test_turns_state_and_report_are_saved_as_the_call_goes(demo):
    conversation = Conversation.start(tenant=demo, channel=Call.Channel.TEXT, caller_number="+15551110001", now=lambda: NOW)
    greeting = run(conversation, CallStarted())
    assert all(isinstance(o, AgentSentence) for o in greeting)
    run(conversation, CallerText("I'd like to cancel my cleaning on Thursday."))
    turns = list(Turn.objects.filter(call=conversation.call).values_list("speaker", flat=True))
    assert turns == ["agent", "caller", "agent"]
    saved = json.loads(Call.objects.get(pk=conversation.call.pk).state)
    assert saved["engine"]["intent"] == "cancel" and saved["tools"]["caller_patient_ids"]
    report = conversation.report()
    assert report == {"call": conversation.call.pk, "outcome": "answered", "appointments": [], "transferred_to": None,
                      "message": None}


def test_a_cloud_engine_comes_with_its_fallback_put_together_where_engines_are_chosen(demo, settings):
    settings.ANTHROPIC_API_KEY = "sk-ant-test"
    conversation = Conversation.start(tenant=demo, channel=Call.Channel.TEXT, now=lambda: NOW,
                                      engine_path="voice.conversation.engines.claude.ClaudeEngine")
    assert isinstance(conversation.engine, FallbackEngine) and isinstance(conversation.engine.fallback, RulesEngine)
    assert conversation.engine.name == "claude"
    settings.CONVERSATION_FALLBACK_ENGINE = ""
    plain = Conversation.start(tenant=demo, channel=Call.Channel.TEXT, now=lambda: NOW)
    assert isinstance(plain.engine, RulesEngine)
