"""Fetching a call's recording from Twilio, for staff's player."""

import pytest

from calls.telephony import RecordingUnavailable, recording_media_open
from voice.simulator.twilio_api import silent_mp3


def test_the_account_credentials_go_only_to_twilio(fake_twilio):
    with pytest.raises(RecordingUnavailable):
        recording_media_open(recording_url=f"{fake_twilio.base_url}/2010-04-01/Accounts/AC1/Recordings/RE1")
    with pytest.raises(RecordingUnavailable):
        recording_media_open(recording_url="https://api.twilio.com.example.org/2010-04-01/Accounts/AC1/Recordings/RE1")
    assert fake_twilio.media_requests == []


def test_a_recording_twilio_holds_streams_and_one_it_deleted_is_gone(fake_twilio, settings):
    url = fake_twilio.recording_hold("RE1", account_sid=settings.TWILIO_ACCOUNT_SID)
    media = recording_media_open(recording_url=url)
    assert (media.status, media.content_type, b"".join(media)) == (200, "audio/mpeg", silent_mp3())
    media.close()
    fake_twilio.recordings.clear()
    with pytest.raises(RecordingUnavailable) as gone:
        recording_media_open(recording_url=url)
    assert gone.value.gone


def test_twilio_refusing_the_credentials_is_not_taken_for_a_deleted_recording(fake_twilio, settings):
    url = fake_twilio.recording_hold("RE1", account_sid="AC" + "2" * 32)  # another account's URL
    with pytest.raises(RecordingUnavailable) as refused:
        recording_media_open(recording_url=url)
    assert not refused.value.gone
