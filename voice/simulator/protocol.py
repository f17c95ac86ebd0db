"""What Twilio sends: the signed incoming-call webhook and the media stream's JSON messages."""

import base64
import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from twilio.request_validator import RequestValidator

WEBHOOK_PATH = "/api/webhooks/incoming-call"
PLACEHOLDER_ACCOUNT_SID = "AC" + "0" * 32  # any well-formed SID will do where no Twilio account is set


class SimulatorError(Exception):
    """The server answered in a way Twilio could not have carried on from, or could not be reached."""


@dataclass(frozen=True)
class Endpoint:
    """The server as this simulator reaches it, and as Twilio would."""

    url: str  # where the simulator connects, e.g. http://127.0.0.1:8000
    public_url: str  # the server's PUBLIC_BASE_URL: webhook signatures are computed against it
    auth_token: str  # the server's TWILIO_AUTH_TOKEN
    number: str  # the practice's number, the call's `To`


@dataclass(frozen=True)
class TwilioCall:
    """One call's identifiers, and the media-stream messages Twilio sends for it."""

    account_sid: str
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    stream_sid: str = field(default_factory=lambda: "MZ" + uuid.uuid4().hex)

    def connected(self) -> str:
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(self, parameters: dict[str, str]) -> str:
        return json.dumps({
            "event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid,
            "start": {
                "accountSid": self.account_sid, "streamSid": self.stream_sid, "callSid": self.call_sid,
                "tracks": ["inbound"], "customParameters": parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        })

    def media(self, sequence: int, audio: bytes) -> str:
        return json.dumps({
            "event": "media", "sequenceNumber": str(sequence), "streamSid": self.stream_sid,
            "media": {"track": "inbound", "chunk": str(sequence), "timestamp": str(sequence * 20),
                      "payload": base64.b64encode(audio).decode()},
        })

    def mark(self, name: str) -> str:
        return json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    def stop(self) -> str:
        return json.dumps({
            "event": "stop", "sequenceNumber": "99999", "streamSid": self.stream_sid,
            "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
        })


async def incoming_call(client: httpx.AsyncClient, endpoint: Endpoint, call: TwilioCall,
                        caller: str) -> tuple[str, dict[str, str]]:
    """Posts the signed incoming-call webhook; the media stream's URL and its <Parameter>s from the TwiML."""
    params = {
        "CallSid": call.call_sid, "AccountSid": call.account_sid, "From": caller, "To": endpoint.number,
        "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01",
    }
    signature = RequestValidator(endpoint.auth_token).compute_signature(
        endpoint.public_url.rstrip("/") + WEBHOOK_PATH, params
    )
    response = await client.post(endpoint.url.rstrip("/") + WEBHOOK_PATH, data=params,
                                 headers={"X-Twilio-Signature": signature})
    if response.status_code != 200:
        raise SimulatorError(f"incoming-call webhook answered {response.status_code}: {response.text[:200]}")
    stream = ET.fromstring(response.text).find("./Connect/Stream")
    if stream is None:
        raise SimulatorError(f"no <Connect><Stream> in the TwiML: {response.text[:300]}")
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    return _local_stream_url(stream.get("url"), endpoint.url), parameters


def _local_stream_url(public: str, server_url: str) -> str:
    """The TwiML names the public host; the simulator talks to the server directly."""
    local = urlsplit(server_url)
    scheme = "wss" if local.scheme == "https" else "ws"
    return f"{scheme}://{local.netloc}{urlsplit(public).path}"
