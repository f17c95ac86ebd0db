"""A protocol-faithful fake of ElevenLabs' streaming text-to-speech on 127.0.0.1, for the official SDK.

It speaks POST /v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000 as documented: the `xi-api-key`
header, a JSON body with `text` and `model_id`, and the audio back as a chunked `audio/basic` body of raw 8 kHz
mu-law. The voice is espeak-ng's, so the audio is speech of the text asked for. Each request takes the next
scripted Reply (default: a good one); every request is kept for assertions.
"""

import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from tests.fakes.scripted_http import ScriptedHTTPServer
from voice.phone.tts.espeak import synthesize_ulaw

CHUNK = 800  # bytes a chunk: 100 ms of audio


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0  # before the response headers
    drop_after: int | None = None  # bytes of audio sent before the connection is cut mid-stream


@dataclass
class Request:
    voice_id: str
    query: dict
    body: dict
    api_key: str


class FakeElevenLabs(ScriptedHTTPServer):
    def __init__(self):
        self.requests: list[Request] = []
        self.sent: list[bytes] = []  # each request's whole audio (espeak-ng's output varies a little between runs)
        super().__init__()

    def _default_reply(self) -> Reply:
        return Reply()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

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

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
