"""A fake of Twilio's REST Calls resource on 127.0.0.1, for the official SDK (through its http_client)."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeTwilioRest:
    def __init__(self):
        self.updates: list[tuple[str, dict]] = []  # (call sid, form fields)
        self.ended_calls: set[str] = set()  # calls that answer 404 / 20404
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                match = re.match(r"^/2010-04-01/Accounts/([^/]+)/Calls/([^/]+)\.json$", self.path)
                fields = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers.get("content-length", 0))).decode()).items()}
                if not match or match.group(2) in fake.ended_calls:
                    body = {"code": 20404, "message": "The requested resource was not found", "status": 404}
                    status = 404
                else:
                    fake.updates.append((match.group(2), fields))
                    body = {"sid": match.group(2), "account_sid": match.group(1), "status": fields.get("Status", "in-progress")}
                    status = 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def base_url(self) -> str:
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
