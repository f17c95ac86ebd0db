"""The webhook signature, what each answer means, and the backoff: no database."""

import datetime as dt
import re
import socket
import time
import uuid

import pytest

from tenants import webhooks
from tests import ROOT

SECRET = "whsec_test-secret"
BODY = webhooks.body_encode({"id": "e1", "type": "appointment.booked", "data": {"appointment_id": 7}})


def test_a_signature_verifies_with_its_secret_and_body():
    now = time.time()
    header = webhooks.signature_header(BODY, SECRET, int(now))
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert webhooks.signature_verify(BODY, header, SECRET, now=now)


def test_a_tampered_body_or_another_secret_is_rejected():
    now = time.time()
    header = webhooks.signature_header(BODY, SECRET, int(now))
    assert not webhooks.signature_verify(BODY.replace(b"7", b"8"), header, SECRET, now=now)
    assert not webhooks.signature_verify(BODY, header, "whsec_another", now=now)


def test_a_replay_outside_the_tolerance_is_rejected():
    signed_at = 1_800_000_000
    header = webhooks.signature_header(BODY, SECRET, signed_at)
    assert webhooks.signature_verify(BODY, header, SECRET, now=signed_at + 299)
    assert not webhooks.signature_verify(BODY, header, SECRET, now=signed_at + 301)
    assert not webhooks.signature_verify(BODY, header, SECRET, now=signed_at - 301)  # from the future
    assert webhooks.signature_verify(BODY, header, SECRET, tolerance=600, now=signed_at + 500)


def test_a_new_timestamp_with_the_old_signature_is_rejected():
    header = webhooks.signature_header(BODY, SECRET, 1_800_000_000)
    forged = header.replace("t=1800000000", "t=1800000900")
    assert not webhooks.signature_verify(BODY, forged, SECRET, now=1_800_000_900)


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", "v1=" + "0" * 64, "t=1800000000",
                                    "t=1800000000,t=1800000000,v1=" + "0" * 64])
def test_a_malformed_header_is_rejected(header):
    assert not webhooks.signature_verify(BODY, header, SECRET, now=1_800_000_000)


def test_any_of_several_signatures_may_match():
    header = webhooks.signature_header(BODY, SECRET, 1_800_000_000) + ",v1=" + "0" * 64
    assert webhooks.signature_verify(BODY, header, SECRET, now=1_800_000_000)


def test_the_readmes_example_verifies_our_signature():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Webhooks to partners"):readme.index("## Background jobs")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 5
    namespace = {}
    exec(code, namespace)
    header = webhooks.signature_header(BODY, SECRET, int(time.time()))
    assert namespace["verify"](BODY, header, SECRET)
    assert not namespace["verify"](BODY + b" ", header, SECRET)
    assert not namespace["verify"](BODY, webhooks.signature_header(BODY, SECRET, int(time.time()) - 400), SECRET)


def test_the_body_is_canonical_json_with_iso_times():
    event_id = str(uuid.uuid4())
    created = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
    payload = webhooks.event_payload(event_id=event_id, event_type="appointment.booked", practice="demo",
                                     created=created, data={"start": created, "appointment_id": 3})
    assert payload["created"] == "2026-12-07T15:00:00Z" and payload["data"]["start"] == "2026-12-07T15:00:00Z"
    body = webhooks.body_encode(payload)
    assert body.startswith(b'{"created":') and b", " not in body and b": " not in body
    assert webhooks.body_encode(dict(reversed(payload.items()))) == body


@pytest.mark.parametrize("status, outcome", [
    (200, "delivered"), (204, "delivered"), (299, "delivered"),
    (500, "retry"), (502, "retry"), (503, "retry"), (408, "retry"), (429, "retry"),
    (301, "give_up"), (400, "give_up"), (401, "give_up"), (404, "give_up"), (410, "give_up"), (422, "give_up"),
])
def test_what_each_answer_means(status, outcome):
    assert webhooks.outcome_for_status(status) == outcome


def test_the_backoff_doubles_to_half_an_hour_over_about_two_hours():
    delays = [webhooks.retry_delay(n) for n in range(1, webhooks.MAX_ATTEMPTS)]
    assert delays[:4] == [30, 60, 120, 240] and max(delays) == 1800
    assert 1.5 * 3600 < sum(delays) < 2.5 * 3600


def test_an_unreachable_host_is_retried():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the POST: nothing listens there
    result = webhooks.webhook_post(url=f"http://127.0.0.1:{port}/", body=BODY, secret=SECRET,
                                   event_type="appointment.booked", event_id="e1")
    assert result.outcome is webhooks.Outcome.RETRY and result.status_code is None and result.error


def test_secrets_are_new_each_time():
    assert webhooks.secret_new() != webhooks.secret_new()
    assert webhooks.secret_new().startswith("whsec_")
