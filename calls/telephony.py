"""Talking to Twilio about calls: the stream token, TwiML, and the REST calls that hang up, transfer, fetch and
delete a recording."""

import datetime as dt
from collections.abc import AsyncIterator, Iterator

import requests
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.twiml.voice_response import VoiceResponse

from tenants.twilio import TWILIO_API, twilio_api_url, twilio_client

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


class RecordingUnavailable(Exception):
    """Twilio has no audio for the recording (deleted), or could not be asked for it."""

    def __init__(self, message: str, *, gone: bool = False):
        super().__init__(message)
        self.gone = gone


RECORDING_MEDIA = (".mp3", "audio/mpeg")  # a tenth of the WAV's size, and every browser plays it
RECORDING_CHUNK_BYTES = 64 * 1024
# Passed through from Twilio, so a browser's <audio> can seek (it asks for byte ranges).
RECORDING_HEADERS = ("Content-Length", "Content-Range", "Accept-Ranges")


class RecordingStream:
    """A recording's audio as Twilio sends it, read a piece at a time; closing it lets go of Twilio's response."""

    def __init__(self, response: requests.Response):
        self._response = response
        self.status = response.status_code  # 200, or 206 for a byte range
        self.content_type = RECORDING_MEDIA[1]
        self.headers = {name: response.headers[name] for name in RECORDING_HEADERS if name in response.headers}

    def __iter__(self) -> Iterator[bytes]:
        return self._response.iter_content(RECORDING_CHUNK_BYTES)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Under ASGI (daphne, uvicorn) Django reads a plain iterator whole before sending any of it; read each
        # piece in a thread instead, so the player starts while the rest is still on its way from Twilio.
        pieces = iter(self)
        while (piece := await sync_to_async(next, thread_sensitive=False)(pieces, None)) is not None:
            yield piece

    def close(self) -> None:
        self._response.close()


def recording_media_open(*, recording_url: str, byte_range: str = "") -> RecordingStream:
    """Start fetching a call's recording from Twilio, with the account's credentials, for a staff member's player.

    Only Twilio's own URLs are fetched: the credentials never go anywhere else. `byte_range` is the
    browser's Range header, passed on.
    """
    if not recording_url.startswith(TWILIO_API + "/"):
        raise RecordingUnavailable("The recording's URL is not Twilio's.")
    headers = {"Range": byte_range} if byte_range else {}
    try:
        response = requests.get(
            twilio_api_url(recording_url + RECORDING_MEDIA[0]), headers=headers, stream=True, timeout=(5, 30),
            auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
        )
    except requests.RequestException as error:
        raise RecordingUnavailable(f"{type(error).__name__}: {error}") from error
    if response.status_code not in (200, 206):
        response.close()
        raise RecordingUnavailable(f"Twilio answered {response.status_code}", gone=response.status_code == 404)
    return RecordingStream(response)
