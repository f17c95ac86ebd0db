"""Webhooks to partners: the events, the signed body, one POST and what its answer means. No models.

Each POST's body is the event as canonical JSON (sorted keys, no spaces), the same bytes on every
attempt, and it carries ids and the minimum needed, never PHI. The header

    Receptionist-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of f"{t}.{body}" under the endpoint's secret>

signs the body and the moment of the attempt (Stripe's scheme): a receiver recomputes the HMAC,
compares it in constant time, and rejects a timestamp more than five minutes off, so a captured
request cannot be replayed later. `signature_verify` is the whole check, for partners to copy.

An answer in 2xx delivers. A 408, a 429, any 5xx, a timeout or an unreachable host may pass, so the
attempt is repeated with exponential backoff (30 s doubling to 30 min, MAX_ATTEMPTS in all, about
two hours); any other answer (a redirect, 400, 401, 404, 410...) would be answered the same again,
so the delivery fails at once. Delivery is at least once: receivers drop an event id they have seen.
"""

import datetime as dt
import enum
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

import httpx
from django.core.serializers.json import DjangoJSONEncoder

EVENT_TYPES = (
    "appointment.booked",
    "appointment.rescheduled",
    "appointment.cancelled",
    "call.completed",
    "message.taken",
)
SIGNATURE_HEADER = "Receptionist-Signature"
TOLERANCE_SECONDS = 300
TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 10
RETRY_BACKOFF_SECONDS = 30
# Under Redis's visibility timeout (an hour): a task held back longer is delivered to a worker again.
RETRY_BACKOFF_MAX_SECONDS = 1800
RETRYABLE_STATUS_CODES = frozenset({408, 429})
ERROR_LENGTH = 300


def secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def event_payload(*, event_id: str, event_type: str, practice: str, created: dt.datetime, data: dict) -> dict:
    """The event as JSON values: ids, UUIDs and datetimes as strings (ISO 8601; UTC ones end in Z)."""
    event = {"id": event_id, "type": event_type, "practice": practice, "created": created, "data": data}
    return json.loads(json.dumps(event, cls=DjangoJSONEncoder))


def body_encode(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hmac_hex(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    return f"t={timestamp},v1={_hmac_hex(body, secret, timestamp)}"


def signature_verify(body: bytes, header: str, secret: str, tolerance: int = TOLERANCE_SECONDS,
                     now: float | None = None) -> bool:
    """Whether `header` signs exactly `body` with `secret`, within `tolerance` seconds of `now`."""
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [value for key, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, value in parts if key.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit() or not signatures:
        return False
    timestamp = int(timestamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _hmac_hex(body, secret, timestamp)
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"


def outcome_for_status(status_code: int) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code >= 500 or status_code in RETRYABLE_STATUS_CODES:
        return Outcome.RETRY
    return Outcome.GIVE_UP


@dataclass(frozen=True)
class PostResult:
    outcome: Outcome
    status_code: int | None
    error: str
    duration_ms: int


def webhook_post(*, url: str, body: bytes, secret: str, event_type: str, event_id: str,
                 now: float | None = None) -> PostResult:
    """POST the body, signed as of `now`; what came of it. Redirects are not followed, the answer's body not read."""
    timestamp = int(time.time() if now is None else now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Receptionist-Webhooks/1",
        SIGNATURE_HEADER: signature_header(body, secret, timestamp),
        "Receptionist-Event": event_type,
        "Receptionist-Event-Id": event_id,
    }
    started = time.monotonic()
    try:
        with httpx.stream("POST", url, content=body, headers=headers, timeout=TIMEOUT_SECONDS) as response:
            status_code = response.status_code
    except httpx.TimeoutException:
        return PostResult(Outcome.RETRY, None, f"No answer within {TIMEOUT_SECONDS} seconds.", _ms_since(started))
    except httpx.HTTPError as error:
        return PostResult(Outcome.RETRY, None, f"{type(error).__name__}: {error}"[:ERROR_LENGTH], _ms_since(started))
    outcome = outcome_for_status(status_code)
    error = "" if outcome is Outcome.DELIVERED else f"Answered HTTP {status_code}."
    return PostResult(outcome, status_code, error, _ms_since(started))


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failed attempt in a row: 30, 60, 120... at most 30 minutes."""
    return min(RETRY_BACKOFF_MAX_SECONDS, RETRY_BACKOFF_SECONDS * 2 ** (attempts - 1))
