"""Twilio's REST API, as much of it as the server uses: updating a live call's status (hang up) or TwiML
(transfer), sending texts, and fetching (staff's player) or deleting (the retention purge) a recording.

Twilio cannot be reached from these machines. The simulator and the tests run
this on 127.0.0.1 and point the server's TWILIO_API_BASE_URL at it, so the
server's own Twilio SDK code path is exercised.
"""

import asyncio
import base64
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

NOT_FOUND = {"code": 20404, "message": "The requested resource was not found", "status": 404}
# One MPEG-1 Layer III frame (32 kHz, 32 kbit/s, mono: 144 bytes, 36 ms) of silence: its header, then zeros.
MP3_SILENT_FRAME = bytes([0xFF, 0xFB, 0x18, 0xC4]) + bytes(140)


def silent_mp3(seconds: float = 1.0) -> bytes:
    """A real MP3 a browser plays: `seconds` of silence."""
    return MP3_SILENT_FRAME * max(1, round(seconds / 0.036))


class FakeTwilioApi:
    """Twilio's REST Calls (update status or TwiML), Messages (send a text) and Recordings (media, delete) resources."""

    def __init__(self, port: int):
        self.calls: dict[str, dict] = {}
        # Each text's form as the SDK posted it, in order; `refuse` answers a number with (HTTP status, Twilio code).
        self.messages: list[dict] = []
        self.refuse: dict[str, tuple[int, int]] = {}
        self._messages_changed = threading.Condition()
        self.events: dict[str, asyncio.Event] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.recordings: set[str] = set()  # the RecordingSids Twilio holds audio for
        self.recordings_deleted: list[str] = []  # in the order their DELETE came
        self.recordings_failing: set[str] = set()  # answered with a 500, as in an outage, and kept
        self.recording_media: dict[str, bytes] = {}  # RecordingSid -> its MP3, for those `recordings` holds
        self.media_requests: list[dict[str, str]] = []  # the headers of each GET of a recording's media
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status: int, payload: dict | None = None):
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                if payload is not None:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def send_text(self, account: str, form: dict):
                if form.get("To") in api.refuse:
                    status, code = api.refuse[form["To"]]
                    self.reply(status, {"code": code, "message": "refused by the fake", "status": status})
                    return
                sid = "SM" + uuid.uuid4().hex
                with api._messages_changed:
                    api.messages.append({**form, "sid": sid})
                    api._messages_changed.notify_all()
                self.reply(201, {
                    "sid": sid, "account_sid": account, "to": form.get("To"), "from": form.get("From"),
                    "body": form.get("Body"), "status": "queued", "num_segments": "1", "direction": "outbound-api",
                    "api_version": "2010-04-01", "error_code": None, "error_message": None, "price": None,
                    "price_unit": "USD", "num_media": "0", "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
                    "subresource_uris": {},
                })

            def do_POST(self):
                body = parse_qs(self.rfile.read(int(self.headers.get("content-length", 0))).decode())
                texting = re.match(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$", self.path)
                if texting:
                    self.send_text(texting.group(1), {k: v[0] for k, v in body.items()})
                    return
                match = re.match(r"^/2010-04-01/Accounts/([^/]+)/Calls/([^/]+)\.json$", self.path)
                if not match:
                    self.reply(404)
                    return
                sid = match.group(2)
                if sid not in api.events:
                    self.reply(404, NOT_FOUND)
                    return
                update = {k: v[0] for k, v in body.items()}
                api.calls[sid] = update
                if api.loop is not None:
                    api.loop.call_soon_threadsafe(api.events[sid].set)
                status = update.get("Status", "in-progress")
                self.reply(200, {"sid": sid, "account_sid": match.group(1), "status": status})

            def do_GET(self):
                match = re.match(r"^/2010-04-01/Accounts/([^/]+)/Recordings/([^/.]+)\.mp3$", self.path)
                if not match:
                    self.reply(404)
                    return
                api.media_requests.append(dict(self.headers.items()))
                if not api.authorized(match.group(1), self.headers.get("Authorization", "")):
                    self.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return
                if match.group(2) not in api.recordings or match.group(2) not in api.recording_media:
                    self.reply(404, NOT_FOUND)
                    return
                audio = api.recording_media[match.group(2)]
                first, last, status = 0, len(audio) - 1, 200
                if byte_range := re.match(r"^bytes=(\d+)-(\d*)$", self.headers.get("Range", "")):
                    first, status = int(byte_range.group(1)), 206
                    last = min(int(byte_range.group(2) or last), last)
                self.send_response(status)
                self.send_header("content-type", "audio/mpeg")
                self.send_header("accept-ranges", "bytes")
                self.send_header("content-length", str(last - first + 1))
                if status == 206:
                    self.send_header("content-range", f"bytes {first}-{last}/{len(audio)}")
                self.end_headers()
                self.wfile.write(audio[first:last + 1])

            def do_DELETE(self):
                match = re.match(r"^/2010-04-01/Accounts/[^/]+/Recordings/([^/]+)\.json$", self.path)
                if not match:
                    self.reply(404)
                elif match.group(1) in api.recordings_failing:
                    self.reply(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
                elif match.group(1) not in api.recordings:
                    self.reply(404, NOT_FOUND)
                else:
                    api.recordings.remove(match.group(1))
                    api.recordings_deleted.append(match.group(1))
                    self.reply(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def authorized(account_sid: str, authorization: str) -> bool:
        """HTTP basic auth with the account's SID as user name, as Twilio asks for media (any token will do here)."""
        scheme, _, encoded = authorization.partition(" ")
        try:
            user = base64.b64decode(encoded).decode().partition(":")[0]
        except ValueError:
            return False
        return scheme == "Basic" and user == account_sid

    def recording_hold(self, recording_sid: str, *, account_sid: str, audio: bytes | None = None) -> str:
        """Twilio holds a recording with this audio (a second of silence by default); its URL, as Twilio gives it."""
        self.recordings.add(recording_sid)
        self.recording_media[recording_sid] = silent_mp3() if audio is None else audio
        return f"https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}"

    def expect(self, call_sid: str) -> asyncio.Event:
        self.loop = asyncio.get_running_loop()
        self.events[call_sid] = asyncio.Event()
        return self.events[call_sid]

    def wait_for_messages(self, count: int, *, timeout: float = 10.0) -> list[dict]:
        """The texts sent so far, once there are at least `count` (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        with self._messages_changed:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._messages_changed.wait(deadline - time.monotonic())
            return list(self.messages)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
