"""Twilio's REST API, as much of it as the server uses: updating a live call's status (hang up) or TwiML (transfer).

Twilio cannot be reached from these machines. The simulator and the tests run
this on 127.0.0.1 and point the server's TWILIO_API_BASE_URL at it, so the
server's own Twilio SDK code path is exercised.
"""

import asyncio
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeTwilioApi:
    """Twilio's REST Calls resource, as much of it as the server uses: update status or TwiML."""

    def __init__(self, port: int):
        self.calls: dict[str, dict] = {}
        self.events: dict[str, asyncio.Event] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                match = re.match(r"^/2010-04-01/Accounts/([^/]+)/Calls/([^/]+)\.json$", self.path)
                body = parse_qs(self.rfile.read(int(self.headers.get("content-length", 0))).decode())
                if not match:
                    self.send_response(404)
                    self.end_headers()
                    return
                sid = match.group(2)
                if sid not in api.events:
                    payload = {"code": 20404, "message": "The requested resource was not found", "status": 404}
                    data = json.dumps(payload).encode()
                    self.send_response(404)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                update = {k: v[0] for k, v in body.items()}
                api.calls[sid] = update
                if api.loop is not None:
                    api.loop.call_soon_threadsafe(api.events[sid].set)
                data = json.dumps({"sid": sid, "account_sid": match.group(1), "status": update.get("Status", "in-progress")}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def expect(self, call_sid: str) -> asyncio.Event:
        self.loop = asyncio.get_running_loop()
        self.events[call_sid] = asyncio.Event()
        return self.events[call_sid]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
