"""A protocol-faithful fake of Anthropic's Messages API on 127.0.0.1, for the official SDK.

It speaks POST /v1/messages as documented: a JSON message, or with
`"stream": true` server-sent events (message_start, content_block_start,
content_block_delta with text_delta or input_json_delta, content_block_stop,
message_delta with the stop reason, message_stop, and pings). Each request
takes the next scripted reply; every request body is kept for assertions.
"""

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes.scripted_http import ScriptedHTTPServer


@dataclass
class Reply:
    """What the fake answers to one request."""

    text: str = ""
    tool_uses: list[tuple[str, dict]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0  # before the response headers: a slow model
    chunk: int = 12  # characters per text delta


class FakeAnthropic(ScriptedHTTPServer):
    def __init__(self):
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        super().__init__()

    def _default_reply(self) -> Reply:
        return Reply(text="Sorry, I have nothing scripted.")

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                if self.path.rstrip("/") != "/v1/messages":
                    return self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = fake._next()
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(reply.status, "api_error")
                    return self._json(reply.status, {"type": "error", "error": {"type": kind, "message": "Scripted failure"}})
                if body.get("stream"):
                    return self._stream(body, reply)
                return self._json(200, self._message(body, reply))

            def _message(self, body, reply):
                content = ([{"type": "text", "text": reply.text}] if reply.text else []) + [
                    {"type": "tool_use", "id": f"toolu_{i:02d}", "name": n, "input": a}
                    for i, (n, a) in enumerate(reply.tool_uses)
                ]
                return {
                    "id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model"),
                    "content": content, "stop_reason": "tool_use" if reply.tool_uses else "end_turn",
                    "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 10},
                }

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if status >= 500:
                    self.send_header("x-should-retry", "false")
                self.end_headers()
                self.wfile.write(data)

            def _event(self, name, payload):
                self.wfile.write(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

            def _stream(self, body, reply):
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                message = self._message(body, reply)
                self._event("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}})
                self._event("ping", {"type": "ping"})
                index = 0
                if reply.text:
                    self._event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
                    for start in range(0, len(reply.text), reply.chunk):
                        delta = {"type": "text_delta", "text": reply.text[start:start + reply.chunk]}
                        self._event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                    self._event("content_block_stop", {"type": "content_block_stop", "index": index})
                    index += 1
                for i, (name, arguments) in enumerate(reply.tool_uses):
                    block = {"type": "tool_use", "id": f"toolu_{i:02d}", "name": name, "input": {}}
                    self._event("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
                    raw = json.dumps(arguments)
                    for start in range(0, len(raw), 10):
                        delta = {"type": "input_json_delta", "partial_json": raw[start:start + 10]}
                        self._event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                    self._event("content_block_stop", {"type": "content_block_stop", "index": index})
                    index += 1
                self._event("message_delta", {
                    "type": "message_delta",
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                    "usage": {"output_tokens": 10},
                })
                self._event("message_stop", {"type": "message_stop"})
                self.close_connection = True

        return Handler
