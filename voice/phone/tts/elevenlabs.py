"""ElevenLabs streaming text-to-speech: a sentence in, Twilio's own audio format out.

`output_format=ulaw_8000` is what the phone plays, so the bytes go to the caller as they arrive with no
resampling. Two transports, chosen by ELEVENLABS_TRANSPORT: "http" (the default), the official SDK's streaming
endpoint, and "websocket", the input-streaming socket (stream-input), one socket a sentence. The SDK's only
helper for that socket is synchronous (`convert_realtime`), so the socket is the `websockets` library's, with the
SDK's own message types and URL builder. HTTP is the default because its first audio comes sooner
(`python -m benchmarks.tts_cloud`): the SDK keeps its connection for the call's next sentences, while each
socket pays TCP's, TLS's and the upgrade's round trips again; the socket gains only when the text comes in
pieces, and the engine hands over whole sentences.

The voice, model and speed are the practice's (a PracticeVoice) or else the settings' (ELEVENLABS_*). A failure
raises, and the fallback provider (TTS_FALLBACK_PROVIDER) speaks for the rest of the call.
"""

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Self

import httpx
from django.conf import settings
from elevenlabs import AsyncElevenLabs, VoiceSettings
from elevenlabs.types import CloseConnection, InitializeConnection, RealtimeVoiceSettings, SendText
from elevenlabs.url_utils import build_ws_url
from websockets.asyncio.client import connect

from tenants.voice import PracticeVoice
from voice.clients import client_shared
from voice.phone.tts.base import TextToSpeech

OUTPUT_FORMAT = "ulaw_8000"  # 8 kHz mu-law, as Twilio's media stream carries it
DEFAULT_BASE_URL = "https://api.elevenlabs.io"
TRANSPORTS = ("http", "websocket")


def _http_client(*, api_key: str, base_url: str, timeout: float) -> AsyncElevenLabs:
    # httpx's default pool holds 100 connections: a busy server has more calls speaking at once than that.
    pool = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200))
    return AsyncElevenLabs(api_key=api_key, base_url=base_url, timeout=timeout, httpx_client=pool)


class ElevenLabsStreamError(Exception):
    """The socket ended a sentence with an error of its own, or without all of its audio."""


class ElevenLabsTTS(TextToSpeech):
    name = "elevenlabs"

    def __init__(self, *, voice: PracticeVoice = PracticeVoice()):
        self.base_url = settings.ELEVENLABS_BASE_URL or DEFAULT_BASE_URL
        self.timeout = settings.ELEVENLABS_TIMEOUT_SECONDS
        self.voice_id = voice.voice_id or settings.ELEVENLABS_VOICE_ID
        self.model_id = voice.model or settings.ELEVENLABS_MODEL
        self.speed = voice.speed if voice.speed is not None else settings.ELEVENLABS_SPEED
        self.transport = settings.ELEVENLABS_TRANSPORT

    @classmethod
    def for_call(cls, *, voice: PracticeVoice) -> Self:
        return cls(voice=voice)

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        chunks = self._over_websocket(text) if self.transport == "websocket" else self._over_http(text)
        async for chunk in chunks:
            yield chunk

    async def _over_http(self, text: str) -> AsyncIterator[bytes]:
        # Only the speed is chosen here: the voice's other settings stay as its owner saved them.
        speed = {"voice_settings": VoiceSettings(speed=self.speed)} if self.speed is not None else {}
        client = client_shared(_http_client, api_key=settings.ELEVENLABS_API_KEY, base_url=self.base_url,
                               timeout=self.timeout)
        stream = client.text_to_speech.stream(
            self.voice_id, text=text, model_id=self.model_id, output_format=OUTPUT_FORMAT, **speed,
            # No retries: a caller is waiting, and the fallback voice is faster than a second try.
            request_options={"max_retries": 0},
        )
        async for chunk in stream:
            if chunk:
                yield chunk

    async def _over_websocket(self, text: str) -> AsyncIterator[bytes]:
        url = build_ws_url(self.base_url, ["v1", "text-to-speech", self.voice_id, "stream-input"],
                           {"model_id": self.model_id, "output_format": OUTPUT_FORMAT})
        speed = {"voice_settings": RealtimeVoiceSettings(speed=self.speed)} if self.speed is not None else {}
        opening = InitializeConnection(**speed)
        # The whole sentence is here already: flush has it spoken now, whatever the chunk schedule, and the
        # end of input ({"text": ""}) follows at once, so the socket closes after the sentence's audio.
        messages = [opening, SendText(text=text.strip() + " ", flush=True), CloseConnection()]
        async with connect(url, additional_headers={"xi-api-key": settings.ELEVENLABS_API_KEY},
                           open_timeout=self.timeout, close_timeout=self.timeout) as socket:
            for message in messages:
                await socket.send(json.dumps(message.dict()))
            while True:
                async with asyncio.timeout(self.timeout):
                    answer = json.loads(await socket.recv())  # a close before isFinal raises ConnectionClosed
                if answer.get("error") or answer.get("message"):
                    raise ElevenLabsStreamError(f"{answer.get('error')}: {answer.get('message')}")
                if answer.get("audio"):
                    yield base64.b64decode(answer["audio"])
                if answer.get("isFinal"):
                    return
