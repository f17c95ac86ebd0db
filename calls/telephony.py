"""Talking to Twilio: the stream token, TwiML, and the REST calls that hang up and transfer.

Twilio cannot be reached from development machines; TWILIO_API_BASE_URL points
the official SDK at another host (the tests' fake) through its http_client.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core import signing
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

logger = logging.getLogger(__name__)

TOKEN_SALT = "calls.media-stream"
TOKEN_MAX_AGE_SECONDS = 120
TWILIO_API = "https://api.twilio.com"
CALL_NOT_IN_PROGRESS = 20404  # Twilio's "not found": the call already ended


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


class _RedirectingHttpClient(TwilioHttpClient):
    def __init__(self, base_url: str):
        super().__init__(timeout=5)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


def twilio_client() -> Client:
    base = getattr(settings, "TWILIO_API_BASE_URL", "")
    http_client = _RedirectingHttpClient(base) if base else TwilioHttpClient(timeout=5)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)


def call_hang_up(*, call_sid: str) -> bool:
    """End the live call; False when it had already ended."""
    try:
        twilio_client().calls(call_sid).update(status="completed")
    except TwilioRestException as error:
        if error.code == CALL_NOT_IN_PROGRESS or error.status == 404:
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
        if error.code == CALL_NOT_IN_PROGRESS or error.status == 404:
            return False
        raise
    return True
