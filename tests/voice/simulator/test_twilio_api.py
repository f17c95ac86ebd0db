"""The fake Twilio REST API answers the server's own SDK calls (calls.telephony) as Twilio would."""

import asyncio

import pytest

from calls.telephony import call_hang_up, call_transfer
from voice.simulator.twilio_api import FakeTwilioApi

SID = "CA" + "5" * 32


@pytest.fixture
def fake(settings):
    api = FakeTwilioApi(0)
    try:
        settings.TWILIO_API_BASE_URL = api.base_url
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "test-token"
        yield api
    finally:
        api.close()


async def test_the_sdks_hang_up_is_answered_and_wakes_the_caller(fake):
    hung_up = fake.expect(SID)
    assert await asyncio.to_thread(call_hang_up, call_sid=SID) is True
    await asyncio.wait_for(hung_up.wait(), 5)
    assert fake.calls == {SID: {"Status": "completed"}}


async def test_the_sdks_transfer_is_answered_with_its_twiml_kept(fake):
    transferred = fake.expect(SID)
    assert await asyncio.to_thread(call_transfer, call_sid=SID, number="+15551119999") is True
    await asyncio.wait_for(transferred.wait(), 5)
    assert "<Dial>+15551119999</Dial>" in fake.calls[SID]["Twiml"]


def test_a_call_it_does_not_know_is_twilios_not_found(fake):
    assert call_hang_up(call_sid=SID) is False  # as for a call that has already ended
    assert fake.calls == {}
