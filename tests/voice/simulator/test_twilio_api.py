"""The fake Twilio REST API answers the server's own SDK calls (calls.telephony) as Twilio would."""

import asyncio

import pytest

from calls.telephony import RecordingNotDeleted, call_hang_up, call_transfer, recording_delete
from tests.servers import free_port

SID = "CA" + "5" * 32
RECORDING = "RE" + "6" * 32


async def test_the_sdks_hang_up_is_answered_and_wakes_the_caller(fake_twilio):
    hung_up = fake_twilio.expect(SID)
    assert await asyncio.to_thread(call_hang_up, call_sid=SID) is True
    await asyncio.wait_for(hung_up.wait(), 5)
    assert fake_twilio.calls == {SID: {"Status": "completed"}}


async def test_the_sdks_transfer_is_answered_with_its_twiml_kept(fake_twilio):
    transferred = fake_twilio.expect(SID)
    assert await asyncio.to_thread(call_transfer, call_sid=SID, number="+15551119999") is True
    await asyncio.wait_for(transferred.wait(), 5)
    assert "<Dial>+15551119999</Dial>" in fake_twilio.calls[SID]["Twiml"]


def test_a_call_it_does_not_know_is_twilios_not_found(fake_twilio):
    assert call_hang_up(call_sid=SID) is False  # as for a call that has already ended
    assert fake_twilio.calls == {}


def test_the_sdks_recording_delete_deletes_it_once(fake_twilio):
    fake_twilio.recordings.add(RECORDING)
    assert recording_delete(recording_sid=RECORDING) is True
    assert fake_twilio.recordings == set() and fake_twilio.recordings_deleted == [RECORDING]
    assert recording_delete(recording_sid=RECORDING) is False  # Twilio's 20404: deleted before


def test_a_recording_twilio_fails_to_delete_is_an_error_of_its_own(fake_twilio):
    fake_twilio.recordings.add(RECORDING)
    fake_twilio.recordings_failing.add(RECORDING)
    with pytest.raises(RecordingNotDeleted, match="500"):
        recording_delete(recording_sid=RECORDING)
    assert fake_twilio.recordings == {RECORDING}


def test_twilio_out_of_reach_is_a_recording_not_deleted(settings):
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "test-token"
    with pytest.raises(RecordingNotDeleted, match="ConnectionError"):
        recording_delete(recording_sid=RECORDING)
