"""Talking to Twilio about calls: the stream token, TwiML, and the REST calls that hang up, transfer and delete
a recording."""

import datetime as dt

from django.core import signing
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from tenants.twilio import twilio_client

TOKEN_SALT = "calls.media-stream"
TOKEN_MAX_AGE_SECONDS = 120
NOT_FOUND = 20404  # Twilio's "not found": a call that already ended, a recording deleted before


class _IssuedAtSigner(signing.TimestampSigner):
    """Stamps tokens with a given time instead of now, so one call always gets one token."""

    def __init__(self, *, issued_at: dt.datetime, **kwargs):
        super().__init__(**kwargs)
        self.issued_at = issued_at

    def timestamp(self) -> str:
        return signing.b62_encode(int(self.issued_at.timestamp()))


def stream_token_issue(*, call_id: int, call_sid: str, issued_at: dt.datetime) -> str:
    """Short-lived proof that Twilio's stream belongs to the call our webhook answered."""
    signer = _IssuedAtSigner(issued_at=issued_at, salt=TOKEN_SALT)
    return signer.sign_object({"call": call_id, "sid": call_sid}, compress=True)


def stream_token_valid(token: str, *, call_id: int, call_sid: str) -> bool:
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired
        return False
    return data == {"call": call_id, "sid": call_sid}


def call_hang_up(*, call_sid: str) -> bool:
    """End the live call; False when it had already ended."""
    try:
        twilio_client().calls(call_sid).update(status="completed")
    except TwilioRestException as error:
        if error.code == NOT_FOUND or error.status == 404:
            return False
        raise
    return True


def call_transfer(*, call_sid: str, number: str) -> bool:
    """Replace the call's TwiML with a <Dial> to the practice's front desk."""
    response = VoiceResponse()
    response.dial(number)
    try:
        twilio_client().calls(call_sid).update(twiml=str(response))
    except TwilioRestException as error:
        if error.code == NOT_FOUND or error.status == 404:
            return False
        raise
    return True


class RecordingNotDeleted(Exception):
    """Twilio could not be reached or refused to delete a recording; it still holds the audio."""


def recording_delete(*, recording_sid: str) -> bool:
    """Delete the recording's audio at Twilio; False when Twilio no longer had it (deleted before)."""
    try:
        twilio_client().recordings(recording_sid).delete()
    except TwilioRestException as error:
        if error.code == NOT_FOUND or error.status == 404:
            return False
        raise RecordingNotDeleted(f"Twilio answered {error.status} (code {error.code})") from error
    # TwilioException: no credentials, or an error body of another shape; OSError: requests' connection
    # errors and timeouts are OSErrors.
    except (TwilioException, OSError) as error:
        raise RecordingNotDeleted(f"{type(error).__name__}: {error}") from error
    return True
