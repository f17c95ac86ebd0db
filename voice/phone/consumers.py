"""Twilio Media Streams over a websocket: a translator between Twilio's JSON and the speech loop.

Twilio's upgrade carries no Origin header, so this route sits outside
AllowedHostsOriginValidator; it is authenticated by the signed token our
incoming-call webhook put in the <Stream>'s parameters, checked on `start`.
A staff member's test call from the browser (portal's "Talk to your
receptionist") speaks the same protocol with a token the portal issued.
Bad input is logged and ignored, or closes the socket with a specific code;
the call record always ends consistent. A call takes one stream, a socket
must send a valid `start` within VOICE_STREAM_START_SECONDS, and after it
every message must carry that stream's SID.
"""

import asyncio
import base64
import binascii
import json
import logging

from asgiref.sync import sync_to_async
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from calls.models import Call
from calls.services import CallAlreadyEnded, CallNotFound, StreamAlreadyAttached, call_fallback_record, call_stream_attach
from calls.telephony import call_hang_up, call_transfer, stream_token_valid
from tenants.models import Tenant
from voice.conversation.session import Conversation
from voice.conversation.vocabulary import vocabulary_for
from voice.frames import Audio, Interrupt, Mark, ToPhone
from voice.phone.audio import FRAME_BYTES, SAMPLE_RATE
from voice.phone.pipeline import PhoneCall, Telephony
from voice.phone.stt.base import stt_build
from voice.phone.tts.base import tts_build
from voice.phone.vad.base import vad_class

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 64 * 1024
# The only audio Twilio's bidirectional streams carry, and the only audio the loop decodes.
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": SAMPLE_RATE, "channels": 1}
CLOSE_NORMAL = 1000
CLOSE_TRANSFERRED = 4303  # a browser test call the receptionist transferred: the page says so
CLOSE_BAD_START = 4400
CLOSE_BAD_TOKEN = 4401
CLOSE_UNKNOWN_CALL = 4404
CLOSE_NO_START = 4408
CLOSE_SECOND_START = 4409
CLOSE_CALL_ENDED = 4410
CLOSE_TOO_LARGE = 4413
CLOSE_BAD_FORMAT = 4415
CLOSE_FOREIGN_STREAM = 4421
CLOSE_STREAM_TAKEN = 4423
STREAM_EVENTS = {"media", "dtmf", "mark", "stop"}


class TwilioTelephony(Telephony):
    def __init__(self, call_sid: str):
        self.call_sid = call_sid

    async def hang_up(self) -> None:
        try:
            await sync_to_async(call_hang_up, thread_sensitive=False)(call_sid=self.call_sid)
        except Exception:
            logger.exception("could not hang up call %s", self.call_sid)

    async def transfer(self, number: str) -> None:
        try:
            await sync_to_async(call_transfer, thread_sensitive=False)(call_sid=self.call_sid, number=number)
        except Exception:
            logger.exception("could not transfer call %s", self.call_sid)


class BrowserTelephony(Telephony):
    """A staff member's test call from the browser: no phone call to end or redirect, so the stream ends,
    as Twilio's would once the call ended or left for the front desk."""

    def __init__(self, close):
        self.close = close

    async def hang_up(self) -> None:
        await self.close(code=CLOSE_NORMAL)

    async def transfer(self, number: str) -> None:
        await self.close(code=CLOSE_TRANSFERRED)


def _attach_call(call_id: int, call_sid: str, stream_sid: str) -> tuple[Call, Conversation, object]:
    call = call_stream_attach(call_id=call_id, call_sid=call_sid, stream_sid=stream_sid)
    conversation = Conversation.start(tenant=call.tenant, channel=Call.Channel.PHONE, call=call)
    return call, conversation, _vocabulary(call.tenant, conversation)


def _vocabulary(tenant: Tenant, conversation: Conversation):
    tools = conversation.tools
    return vocabulary_for(
        practice=tenant.name,
        types=[(t.name, list(t.synonyms)) for t in tools.appointment_types.values()],
        providers=[p.name for p in tools.providers.values()],
        insurers=[*tenant.insurance_accepted, *tenant.insurance_not_accepted],
    )


class MediaStreamConsumer(AsyncWebsocketConsumer):
    # A media stream talks only to its own caller: no channel layer (and no Redis round trips per call).
    channel_layer_alias = None

    async def connect(self):
        self.call_id = self.scope["url_route"]["kwargs"]["call_id"]
        self.stream_sid = None
        self.phone: PhoneCall | None = None
        self.pending_audio = b""
        self.caller_gone = False
        self.background: set[asyncio.Task] = set()  # kept referenced until done
        await self.accept()
        # Accepted before any check (the token only comes with `start`): a socket that never
        # sends a valid one must not hold a connection open.
        self.start_deadline = asyncio.ensure_future(self._close_unless_started())

    async def _close_unless_started(self) -> None:
        await asyncio.sleep(settings.VOICE_STREAM_START_SECONDS)
        logger.warning("call %s: no valid start within %s s", self.call_id, settings.VOICE_STREAM_START_SECONDS)
        await self._end(CLOSE_NO_START)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            logger.warning("call %s: binary websocket frame ignored", self.call_id)
            return
        if len(text_data) > MAX_MESSAGE_CHARS:
            logger.warning("call %s: message of %d characters refused", self.call_id, len(text_data))
            await self._end(CLOSE_TOO_LARGE)
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            logger.warning("call %s: invalid JSON ignored", self.call_id)
            return
        event = message.get("event") if isinstance(message, dict) else None
        handler = {
            "connected": self.on_connected,
            "start": self.on_start,
            "media": self.on_media,
            "dtmf": self.on_dtmf,
            "mark": self.on_mark,
            "stop": self.on_stop,
        }.get(event)
        if handler is None:
            logger.warning("call %s: unknown event %r ignored", self.call_id, event)
            return
        if event in STREAM_EVENTS and self.stream_sid is not None and message.get("streamSid") != self.stream_sid:
            logger.warning("call %s: %s for another stream refused", self.call_id, event)
            await self._end(CLOSE_FOREIGN_STREAM)
            return
        await handler(message)

    async def disconnect(self, code):
        self.caller_gone = True
        self.start_deadline.cancel()
        if self.phone is not None:
            await self.phone.stop()

    # -- Twilio's events ---------------------------------------------------------------

    async def on_connected(self, message):
        logger.info("call %s: stream connected (%s)", self.call_id, message.get("protocol"))

    async def on_start(self, message):
        if self.phone is not None or self.stream_sid is not None:
            logger.warning("call %s: second start refused", self.call_id)
            await self._end(CLOSE_SECOND_START)
            return
        start = message.get("start")
        stream_sid = message.get("streamSid")
        if not isinstance(start, dict) or not stream_sid or start.get("streamSid", stream_sid) != stream_sid:
            await self._end(CLOSE_BAD_START)
            return
        parameters = start.get("customParameters") or {}
        call_sid = start.get("callSid") or parameters.get("callSid") or ""
        if not stream_token_valid(str(parameters.get("token", "")), call_id=self.call_id, call_sid=call_sid):
            logger.warning("call %s: stream token refused", self.call_id)
            await self._end(CLOSE_BAD_TOKEN)
            return
        if start.get("mediaFormat") != MEDIA_FORMAT:
            logger.warning("call %s: media format %r refused", self.call_id, start.get("mediaFormat"))
            await self._end(CLOSE_BAD_FORMAT)
            return
        self.start_deadline.cancel()
        try:
            call, conversation, vocabulary = await database_sync_to_async(_attach_call)(self.call_id, call_sid, stream_sid)
        except CallNotFound:
            await self._end(CLOSE_UNKNOWN_CALL)
            return
        except CallAlreadyEnded:
            await self._end(CLOSE_CALL_ENDED)
            return
        except StreamAlreadyAttached:
            logger.warning("call %s: a second stream for the call refused", self.call_id)
            await self._end(CLOSE_STREAM_TAKEN)
            return
        self.stream_sid = stream_sid
        stt = await sync_to_async(stt_build, thread_sensitive=False)(vocabulary=vocabulary, on_switch=self._stt_switched)
        self.phone = PhoneCall(
            conversation=conversation,
            stt=stt,
            tts=tts_build(voice=call.tenant.voice, on_switch=self._tts_switched),
            vad=vad_class()(),
            send=self.send_frame,
            telephony=BrowserTelephony(self.close) if call.is_test else TwilioTelephony(call_sid),
            end_of_turn_ms=settings.VOICE_END_OF_TURN_MS,
            answer_ms=settings.VOICE_END_OF_ANSWER_MS,
            mid_sentence_ms=settings.VOICE_MID_SENTENCE_MS,
            idle_seconds=settings.VOICE_IDLE_SECONDS,
        )
        await self.phone.start()

    def _tts_switched(self) -> None:
        self._fallback_record("tts")

    def _stt_switched(self) -> None:
        self._fallback_record("stt")

    def _fallback_record(self, provider: str) -> None:
        """The call moved to a fallback provider: noted on the call, without holding up the caller."""
        task = asyncio.ensure_future(database_sync_to_async(call_fallback_record)(call_id=self.call_id, provider=provider))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def on_media(self, message):
        if self.phone is None:
            logger.warning("call %s: media before start ignored", self.call_id)
            return
        media = message.get("media")
        try:
            audio = base64.b64decode(media["payload"], validate=True)
        except (TypeError, KeyError, binascii.Error):
            logger.warning("call %s: media without valid base64 ignored", self.call_id)
            return
        audio = self.pending_audio + audio
        whole = len(audio) - len(audio) % FRAME_BYTES
        for i in range(0, whole, FRAME_BYTES):
            await self.phone.audio(audio[i : i + FRAME_BYTES])
        self.pending_audio = audio[whole:]

    async def on_dtmf(self, message):
        digit = (message.get("dtmf") or {}).get("digit")
        if self.phone is None or not isinstance(digit, str):
            logger.warning("call %s: dtmf ignored", self.call_id)
            return
        await self.phone.dtmf(digit)

    async def on_mark(self, message):
        name = (message.get("mark") or {}).get("name")
        if self.phone is not None and isinstance(name, str):
            await self.phone.mark(name)

    async def on_stop(self, message):
        await self._end(CLOSE_NORMAL)

    # -- to Twilio ------------------------------------------------------------------------

    async def send_frame(self, frame: ToPhone) -> None:
        if isinstance(frame, Audio):
            payload = {"event": "media", "streamSid": self.stream_sid,
                       "media": {"payload": base64.b64encode(frame.ulaw).decode()}}
        elif isinstance(frame, Mark):
            payload = {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": frame.name}}
        elif isinstance(frame, Interrupt):
            payload = {"event": "clear", "streamSid": self.stream_sid}
        if self.caller_gone:
            return
        try:
            await self.send(text_data=json.dumps(payload))
        except (Disconnected, OSError):
            # The caller's socket went away before its disconnect reached us (daphne raises its
            # websocket library's Disconnected, other ASGI servers an OSError): nobody is listening.
            self.caller_gone = True

    async def _end(self, code: int) -> None:
        if self.phone is not None:
            await self.phone.stop()
        await self.close(code=code)
