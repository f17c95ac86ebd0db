"""A protocol-faithful fake of ElevenLabs' streaming text-to-speech on 127.0.0.1: HTTP streaming and the websocket.

HTTP, for the official SDK: POST /v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000 as documented, the
`xi-api-key` header, a JSON body with `text`, `model_id` and optional `voice_settings`, and the audio back as a
chunked `audio/basic` body of raw 8 kHz mu-law.

Websocket, on the same port as the real API has it: GET /v1/text-to-speech/{voice_id}/stream-input?model_id=..&
output_format=ulaw_8000 upgraded. The key comes in the `xi-api-key` header or in the first message (`xi-api-key`
as the SDK spells it, or `xi_api_key` as older documentation does). The first message is `{"text": " "}` with
optional `voice_settings` and `generation_config` (which may not change later); then text messages, buffered
until their length reaches the next step of `chunk_length_schedule` (default 120, 160, 250, 290 characters),
`flush` is set, or the end of input `{"text": ""}` comes; each generation goes out as `{"audio": base64 mu-law,
"isFinal": null, "normalizedAlignment": .., "alignment": ..}` messages, and after the end of input comes
`{"isFinal": true}` and a normal close. Faults are the API's: a message `{"message", "error", "code": 1008}`
and a close with 1008 (policy violation) for a bad key, a malformed first message, changed voice settings, or
`inactivity_timeout` seconds (default 20) without a message; other refusals (429, 5xx) refuse the handshake.

The voice is espeak-ng's, so the audio is speech of the text asked for. Each request or socket takes the next
scripted Reply (default: a good one); every one is kept for assertions. `connect_delay` holds every new
connection before it is served, standing for the TCP and TLS round trips that 127.0.0.1 does not have.
"""

import base64
import contextlib
import json
import socket
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from tests.fakes.scripted_http import ScriptedHTTPServer
from voice.phone.tts.espeak import synthesize_ulaw

CHUNK = 800  # bytes a chunk: 100 ms of audio
DEFAULT_SCHEDULE = [120, 160, 250, 290]
POLICY_VIOLATION = 1008
INVALID_KEY = "Invalid API key"


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0  # before the first audio: the HTTP response headers, or the first audio message
    drop_after: int | None = None  # bytes of audio sent before the connection is cut mid-stream


@dataclass
class Request:
    voice_id: str
    query: dict
    body: dict  # HTTP: the JSON body; websocket: the first message
    api_key: str
    transport: str = "http"
    messages: list[dict] = field(default_factory=list)  # websocket: every message the client sent, in order


class Refused(Exception):
    """The socket ends with a policy violation, as the API ends it."""

    def __init__(self, reason: str, error: str = "policy_violation"):
        super().__init__(reason)
        self.reason, self.error = reason, error


class _Dropped(Exception):
    """The connection is gone: cut by a scripted drop, or by the client."""


class FakeElevenLabs(ScriptedHTTPServer):
    def __init__(self):
        self.requests: list[Request] = []
        self.sent: list[bytes] = []  # each request's or socket's whole audio (espeak-ng's output varies a little)
        self.connect_delay = 0.0  # seconds each new connection waits before it is served
        super().__init__()

    def _default_reply(self) -> Reply:
        return Reply()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                if fake.connect_delay:
                    time.sleep(fake.connect_delay)
                super().setup()
                # A streaming server sends each piece as it is made: without this, Nagle's algorithm holds the
                # first audio until the client acknowledges the headers, which it delays by 40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if len(parts) != 4 or parts[:2] != ["v1", "text-to-speech"] or parts[3] != "stream":
                    return self._json(404, {"detail": {"status": "not_found", "message": "Not found"}})
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append(Request(parts[2], query, body, self.headers.get("xi-api-key", "")))
                reply = fake._next()
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    status = {401: "invalid_api_key", 429: "too_many_concurrent_requests"}.get(reply.status, "error")
                    return self._json(reply.status, {"detail": {"status": status, "message": "Scripted failure"}})
                if query.get("output_format") != "ulaw_8000" or not body.get("text"):
                    return self._json(422, {"detail": [{"loc": ["query", "output_format"], "msg": "unsupported"}]})
                audio = synthesize_ulaw(body["text"])
                fake.sent.append(audio)
                self.send_response(200)
                self.send_header("content-type", "audio/basic")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for start in range(0, len(audio), CHUNK):
                    if reply.drop_after is not None and start >= reply.drop_after:
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)  # cut mid-stream: no terminating chunk
                        return
                    chunk = audio[start:start + CHUNK]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def do_GET(self):
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                upgrade = self.headers.get("upgrade", "").lower() == "websocket"
                if not upgrade or len(parts) != 4 or parts[:2] != ["v1", "text-to-speech"] or parts[3] != "stream-input":
                    return self._json(404, {"detail": {"status": "not_found", "message": "Not found"}})
                self.close_connection = True  # the socket is the websocket's from here on
                _StreamInput(fake, self).serve(parts[2], {k: v[0] for k, v in parse_qs(url.query).items()})

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


class _StreamInput:
    """One stream-input socket, served on the HTTP handler's connection with websockets' sans-I/O protocol."""

    def __init__(self, fake: FakeElevenLabs, handler: BaseHTTPRequestHandler):
        self.fake, self.socket = fake, handler.connection
        self.protocol = ServerProtocol()
        self.frames: list[Frame] = []  # received and not read yet
        # The HTTP server has read the upgrade request already: the protocol parses the same bytes again.
        head = handler.raw_requestline + b"".join(f"{k}: {v}\r\n".encode() for k, v in handler.headers.items()) + b"\r\n"
        self.protocol.receive_data(head)
        self.upgrade = self.protocol.events_received()[0]
        self.header_key = handler.headers.get("xi-api-key", "")

    def serve(self, voice_id: str, query: dict) -> None:
        request = Request(voice_id, query, {}, self.header_key, transport="websocket")
        self.fake.requests.append(request)
        reply = self.fake._next()
        if reply.status not in (200, 401, 403):
            self._write(self.protocol.reject(reply.status, "Scripted failure\n"))
            return
        self._write(self.protocol.accept(self.upgrade))
        self.socket.settimeout(float(query.get("inactivity_timeout", 20)))
        try:
            self._session(request, reply, query)
        except Refused as refusal:
            with contextlib.suppress(_Dropped):  # the client may be gone already
                self._send({"message": refusal.reason, "error": refusal.error, "code": POLICY_VIOLATION})
                self._close(POLICY_VIOLATION, refusal.reason)
        except _Dropped:
            pass

    def _session(self, request: Request, reply: Reply, query: dict) -> None:
        first = self._message_within(query)
        request.body, request.messages = first, [first]
        request.api_key = self.header_key or first.get("xi-api-key") or first.get("xi_api_key") or ""
        if reply.status != 200 or not request.api_key:
            raise Refused(INVALID_KEY, "invalid_api_key")
        if first.get("text") != " ":
            raise Refused("The first message must be a single space, with the settings of the stream.")
        if query.get("output_format") != "ulaw_8000":
            raise Refused(f"Unsupported output format {query.get('output_format')!r}.")
        self._stream(request, reply, query)

    def _stream(self, request: Request, reply: Reply, query: dict) -> None:
        first = request.body
        schedule = list((first.get("generation_config") or {}).get("chunk_length_schedule") or DEFAULT_SCHEDULE)
        buffer, audio = "", b""
        while True:
            message = self._message_within(query)
            request.messages.append(message)
            if "voice_settings" in message and message["voice_settings"] != first.get("voice_settings"):
                raise Refused("voice_settings field must be provided in the first message and then either be "
                              "not provided or not change.")
            text = message.get("text")
            if not isinstance(text, str):
                raise Refused("Each message must have a text field.")
            end = text == ""
            buffer += text
            if buffer.strip() and (end or message.get("flush") or len(buffer) >= schedule[0]):
                if len(schedule) > 1 and not (end or message.get("flush")):
                    schedule.pop(0)
                if not audio and reply.delay:
                    time.sleep(reply.delay)
                audio = self._generate(buffer.strip(), audio, reply)
                buffer = ""
            if end:
                self.fake.sent.append(audio)
                self._send({"audio": None, "isFinal": True, "normalizedAlignment": None, "alignment": None})
                self._close(1000, "")
                return

    def _generate(self, text: str, before: bytes, reply: Reply) -> bytes:
        """Speak `text` as audio messages after the `before` bytes already sent; the bytes sent so far."""
        audio = synthesize_ulaw(text)
        for start in range(0, len(audio), CHUNK):
            if reply.drop_after is not None and len(before) + start >= reply.drop_after:
                self.fake.sent.append(before + audio[:start])
                self.socket.shutdown(socket.SHUT_RDWR)  # cut mid-stream: no close frame
                raise _Dropped
            chunk = audio[start:start + CHUNK]
            self._send({"audio": base64.b64encode(chunk).decode(), "isFinal": None,
                        **_alignment(text, start, len(chunk), len(audio))})
        return before + audio

    def _message_within(self, query: dict) -> dict:
        """The next message, or the API's refusal after inactivity_timeout seconds without one."""
        try:
            return self._message()
        except TimeoutError:
            raise Refused(f"Have not received a new text input within the timeout of {query.get('inactivity_timeout', 20)} "
                          "seconds. Streaming input terminated.", "input_timeout_exceeded") from None

    def _message(self) -> dict:
        while True:
            self.frames += self.protocol.events_received()
            while self.frames:
                frame = self.frames.pop(0)
                if frame.opcode is Opcode.TEXT:
                    try:
                        message = json.loads(frame.data)
                    except ValueError:
                        raise Refused("Messages must be JSON.") from None
                    if not isinstance(message, dict):
                        raise Refused("Messages must be JSON objects.")
                    return message
                if frame.opcode is Opcode.CLOSE:
                    self._flush()
                    raise _Dropped  # the client closed first
                if frame.opcode is Opcode.BINARY:
                    raise Refused("Messages must be text.")
            self._flush()  # pongs
            data = self.socket.recv(65536)
            if not data:
                raise _Dropped
            self.protocol.receive_data(data)

    def _send(self, message: dict) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def _close(self, code: int, reason: str) -> None:
        """The closing handshake: the client's close frame is awaited, so what it has not read yet is not lost."""
        self.protocol.send_close(code, reason)
        self._flush()
        self.socket.settimeout(2)
        try:
            while True:
                self._message()
        except (_Dropped, Refused, OSError):
            pass

    def _write(self, response) -> None:
        self.protocol.send_response(response)
        self._flush()

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                try:
                    self.socket.sendall(data)
                except OSError:  # the client has gone (a timeout of its own, say)
                    raise _Dropped from None


def _alignment(text: str, start: int, length: int, total: int) -> dict:
    """Which characters a chunk speaks, spread evenly over the audio (espeak-ng tells no character timings)."""
    first, last = len(text) * start // total, len(text) * (start + length) // total
    chars = list(text[first:last])
    ms_per_char = (length / 8) / max(len(chars), 1)
    timing = {"chars": chars, "charStartTimesMs": [round(i * ms_per_char) for i in range(len(chars))],
              "charDurationsMs": [round(ms_per_char)] * len(chars)}
    return {"normalizedAlignment": timing, "alignment": timing}
