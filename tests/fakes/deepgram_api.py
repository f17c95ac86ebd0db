"""A protocol-faithful fake of Deepgram's live recognition websocket (/v1/listen) on 127.0.0.1, for the SDK.

As documented: `Authorization: Token KEY` on the handshake, the options in the query string, binary audio in;
out come `Results` (interim ones while audio arrives; `is_final` and `speech_final` once `endpointing` ms
of silence follow speech; `is_final` with `from_finalize` after a `Finalize`), `UtteranceEnd` once
`utterance_end_ms` pass after the last word, and `Metadata` before it closes on `CloseStream`. `KeepAlive` is
noted. The fake cannot hear words: it tells speech from silence by loudness, and recognises by the transcripts
a test scripts, one per utterance, in order. It can be told to refuse the handshake (401, 429, 5xx), to answer
a Finalize late, or to drop the connection after some bytes of audio.
"""

import asyncio
import contextlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

from voice.phone.audio import FRAME_BYTES, FRAME_MS, rms, ulaw_to_pcm

INTERIM_BYTES = 4000  # an interim result each half second of 8 kHz mu-law
SPEECH_RMS = 400  # louder 20 ms frames are speech; the phone's silence is 0


@dataclass
class Connection:
    """What one client sent: its options, its audio and its control messages."""

    query: dict
    authorization: str
    audio: int = 0  # bytes
    controls: list[str] = field(default_factory=list)  # "Finalize", "KeepAlive", "CloseStream"


class FakeDeepgram:
    def __init__(self):
        self.transcripts: list[str] = []
        self.connections: list[Connection] = []
        self.refuse: int | None = None  # status of a refused handshake
        self.final_delay = 0.0  # seconds before answering a Finalize
        # False: its endpointing never calls speech final (as on a noisy line); its finals still come, and UtteranceEnd.
        self.speech_final = True
        self.drop_after: int | None = None  # bytes of audio after which the connection is dropped
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def script(self, *transcripts: str) -> None:
        self.transcripts.extend(transcripts)

    def __enter__(self):
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0, process_request=self._handshake) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def _handshake(self, connection, request):
        if urlparse(request.path).path != "/v1/listen":
            return Response(HTTPStatus.NOT_FOUND, "Not Found", Headers(), b"")
        if self.refuse:
            body = json.dumps({"err_code": "REFUSED", "err_msg": "Scripted refusal"}).encode()
            return Response(self.refuse, HTTPStatus(self.refuse).phrase, Headers({"Content-Type": "application/json"}), body)
        return None

    async def _handle(self, websocket) -> None:
        with contextlib.suppress(ConnectionClosed):  # a client may go at any time, as with the real service
            await self._converse(websocket)

    async def _converse(self, websocket) -> None:
        request = websocket.request
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(urlparse(request.path).query).items()}
        seen = Connection(query, request.headers.get("Authorization", ""))
        self.connections.append(seen)
        utterance = _Utterance(query)
        async for message in websocket:
            if isinstance(message, bytes):
                seen.audio += len(message)
                if self.drop_after is not None and seen.audio >= self.drop_after:
                    websocket.transport.abort()  # gone without a close frame, as a network failure
                    return
                for start in range(0, len(message), FRAME_BYTES):
                    for result in utterance.hear(message[start:start + FRAME_BYTES], self):
                        await websocket.send(json.dumps(result))
                continue
            control = json.loads(message).get("type", "")
            seen.controls.append(control)
            if control == "Finalize":
                await asyncio.sleep(self.final_delay)
                await websocket.send(json.dumps(utterance.final(self, from_finalize=True)))
            elif control == "CloseStream":
                await websocket.send(json.dumps({
                    "type": "Metadata", "transaction_key": "deprecated", "request_id": str(uuid.uuid4()),
                    "sha256": "0" * 64, "created": "2026-12-03T00:00:00.000Z", "duration": seen.audio / 8000,
                    "channels": 1, "models": ["fake"], "model_info": {},
                }))
                await websocket.close()
                return

    def next_transcript(self) -> str:
        return self.transcripts.pop(0) if self.transcripts else ""

    @staticmethod
    def _results(text: str, start: float, audio: int, *, is_final: bool, speech_final: bool = False,
                 from_finalize: bool = False) -> dict:
        words = [{"word": w, "start": start, "end": start, "confidence": 0.99, "punctuated_word": w} for w in text.split()]
        return {
            "type": "Results", "channel_index": [0, 1], "duration": audio / 8000, "start": start,
            "is_final": is_final, "speech_final": speech_final, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.99 if text else 0.0, "words": words}]},
            "metadata": {"request_id": "fake", "model_info": {"name": "fake", "version": "1", "arch": "fake"},
                         "model_uuid": str(uuid.uuid4())},
        }


class _Utterance:
    """One connection's audio since its last final result: whether it held speech, and the silence after it."""

    def __init__(self, query: dict):
        endpointing = query.get("endpointing", "10")  # Deepgram's default
        self.endpointing_ms = None if endpointing == "false" else int(endpointing)
        self.utterance_end_ms = int(query["utterance_end_ms"]) if "utterance_end_ms" in query else None
        self.start = 0.0  # seconds into the stream where this stretch of audio starts
        self.audio = self.since_interim = 0  # bytes
        self.speech = False  # heard since the last final
        self.silence_ms = 0  # since the last speech
        self.words_ended: float | None = None  # when the last final with words ended, until its UtteranceEnd

    def hear(self, frame: bytes, fake: FakeDeepgram) -> list[dict]:
        out = []
        self.audio += len(frame)
        self.since_interim += len(frame)
        if rms(ulaw_to_pcm(frame)) >= SPEECH_RMS:
            self.speech, self.silence_ms, self.words_ended = True, 0, None
        else:
            self.silence_ms += FRAME_MS
        if self.since_interim >= INTERIM_BYTES and self.speech and fake.transcripts:
            self.since_interim = 0
            words = fake.transcripts[0].split()
            heard = " ".join(words[: max(1, len(words) * self.audio // (self.audio + INTERIM_BYTES))])
            out.append(fake._results(heard, self.start, self.audio, is_final=False))
        if self.speech and self.endpointing_ms is not None and self.silence_ms >= self.endpointing_ms:
            out.append(self.final(fake, speech_final=fake.speech_final))
        ended = self.words_ended is not None and self.start + self.audio / 8000 - self.words_ended
        if self.utterance_end_ms is not None and ended and ended * 1000 >= self.utterance_end_ms:
            out.append({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": self.words_ended})
            self.words_ended = None
        return out

    def final(self, fake: FakeDeepgram, *, speech_final: bool = False, from_finalize: bool = False) -> dict:
        """The words of the audio since the last final: the next scripted transcript if it held speech."""
        text = fake.next_transcript() if self.speech else ""
        result = fake._results(text, self.start, self.audio, is_final=True, speech_final=speech_final,
                               from_finalize=from_finalize)
        self.start += self.audio / 8000
        if text:
            self.words_ended = self.start - self.silence_ms / 1000
        self.audio = self.since_interim = 0
        self.speech = False
        return result
