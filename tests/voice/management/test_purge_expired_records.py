"""purge_expired_records: each practice's expired records deleted, counted, audited; a dry run changes nothing.

On PostgreSQL and, in `make test`'s second run, on SQLite (sqlite_too).
"""

import io
import json
import os

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from bookings.models import Appointment, Patient
from calls.models import Call, ToolCall, Turn
from tenants.models import AuditEvent
from tests import retention

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite_too]

KINDS = ("recordings", "turns", "tool_calls", "summaries", "states", "patients", "appointments")


def practice_with_expired_records(slug: str):
    tenant = retention.practice(slug)
    gone = retention.patient(tenant, days_ago=3000, name=("Maria", "Garcia"))
    retention.appointment(tenant, gone, days_from_now=-2000)
    retention.call(tenant, days_ago=400, patient=gone)
    retention.call(tenant, days_ago=100)
    retention.call(tenant, days_ago=5)
    kept = retention.patient(tenant, days_ago=3000, name=("Bob", "Ray"))
    retention.appointment(tenant, kept, days_from_now=14, status=Appointment.Status.BOOKED)
    return tenant


EXPECTED = {"recordings": 2, "turns": 2, "tool_calls": 1, "summaries": 1, "states": 1, "patients": 1, "appointments": 1}


@pytest.fixture(autouse=True)
def twilio(fake_twilio):
    """No purge here reaches the real Twilio."""
    return fake_twilio


def snapshot() -> dict:
    """Everything the purge could change."""
    return {
        "calls": list(Call.objects.order_by("pk").values_list("pk", "recording_sid", "recording_url", "summary", "state",
                                                              "patient_id")),
        "turns": Turn.objects.count(), "tool_calls": ToolCall.objects.count(),
        "patients": sorted(Patient.objects.values_list("pk", flat=True)),
        "appointments": sorted(Appointment.objects.values_list("pk", flat=True)),
        "audit": AuditEvent.objects.count(),
    }


def purge(*args) -> str:
    out = io.StringIO()
    with override_settings(FROZEN_NOW=retention.NOW.isoformat()):
        call_command("purge_expired_records", *args, stdout=out)
    return out.getvalue()


def counts_line(output: str, slug: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith(f"{slug}: "))
    pairs = line.split(" purge", 1)[1].split(" ", 1)[1].split(", ")
    return {kind: int(n) for kind, n in (pair.rsplit(" ", 1) for pair in pairs)}


def test_dry_run_prints_what_a_real_run_deletes_and_changes_nothing(twilio):
    practice_with_expired_records("smile")
    held = retention.twilio_holds(twilio, Call.objects.all())
    before = snapshot()
    dry = purge("--dry-run")
    assert snapshot() == before
    assert twilio.recordings_deleted == []  # nor at Twilio
    assert "smile: would purge" in dry and "Dry run: nothing was changed." in dry
    real = purge()
    assert counts_line(dry, "smile") == counts_line(real, "smile") == EXPECTED
    assert snapshot() != before
    assert twilio.recordings_deleted == held[:2]  # the two calls past 30 days
    assert counts_line(purge("--dry-run"), "smile") == dict.fromkeys(KINDS, 0)  # nothing left to purge


def test_nothing_expires_before_its_period():
    tenant = retention.practice("young")
    patient = retention.patient(tenant, days_ago=999)
    retention.call(tenant, days_ago=29, patient=patient)
    before = snapshot()
    assert counts_line(purge(), "young") == dict.fromkeys(KINDS, 0)
    assert snapshot() == {**before, "audit": before["audit"] + 1}


def test_a_real_run_audits_each_practice_once_with_counts_and_no_phi():
    practice_with_expired_records("smile")
    practice_with_expired_records("grin")
    purge()
    events = list(AuditEvent.objects.filter(action="purge").order_by("tenant_id"))
    assert [event.tenant.slug for event in events] == ["smile", "grin"]
    for event in events:
        assert event.actor_type == AuditEvent.ActorType.SYSTEM and event.actor_label == "purge_expired_records"
        assert event.object_type == "tenants.Tenant" and event.object_id == str(event.tenant_id)
        assert event.detail == {"counts": EXPECTED, "recordings_failed": 0, "now": retention.NOW.isoformat()}
        text = json.dumps(event.detail) + str(event)
        assert not any(phi in text for phi in ("Maria", "Garcia", "+1555", "1980", "cleaning", "Twilio", "RE"))


def test_tenant_limits_the_purge_to_one_practice():
    practice_with_expired_records("smile")
    other = practice_with_expired_records("grin")
    other_before = Turn.objects.filter(call__tenant=other).count(), Patient.objects.filter(tenant=other).count()
    output = purge("--tenant", "smile")
    assert counts_line(output, "smile") == EXPECTED and "grin:" not in output
    assert (Turn.objects.filter(call__tenant=other).count(), Patient.objects.filter(tenant=other).count()) == other_before
    assert AuditEvent.objects.filter(action="purge").count() == 1


def test_recordings_twilio_does_not_delete_are_reported_and_kept_and_the_purge_goes_on(twilio):
    refusing = practice_with_expired_records("smile")
    practice_with_expired_records("grin")
    retention.twilio_holds(twilio, Call.objects.all())
    twilio.recordings_failing.update(Call.objects.filter(tenant=refusing).values_list("recording_sid", flat=True))

    output = purge()

    assert counts_line(output, "smile") == {**EXPECTED, "recordings": 0}  # the transcripts and patients went
    assert "smile: 2 recording(s) not deleted at Twilio; kept for the next run (see the log)." in output
    assert counts_line(output, "grin") == EXPECTED and "grin: 2 recording" not in output
    assert AuditEvent.objects.get(action="purge", tenant=refusing).detail["recordings_failed"] == 2
    twilio.recordings_failing.clear()  # Twilio is back
    assert counts_line(purge(), "smile") == {**dict.fromkeys(KINDS, 0), "recordings": 2}


def test_batches_of_one_purge_everything():
    practice_with_expired_records("smile")
    assert counts_line(purge("--batch-size", "1"), "smile") == EXPECTED


@pytest.mark.parametrize("args, message", [
    (("--tenant", "no-such-practice"), "No practice has the slug 'no-such-practice'; nothing was purged."),
    (("--batch-size", "0"), "--batch-size must be at least 1."),
])
def test_bad_input_is_a_clear_error_that_changes_nothing(args, message):
    practice_with_expired_records("smile")
    before = snapshot()
    with pytest.raises(CommandError, match=message):
        purge(*args)
    assert snapshot() == before


def test_the_purge_runs_on_the_database_database_url_names():
    """`make test` runs this module twice: on PostgreSQL, and with DATABASE_URL=sqlite:///... on SQLite."""
    expected = "sqlite" if os.environ.get("DATABASE_URL", "sqlite:").startswith("sqlite:") else "postgresql"
    assert connection.vendor == expected
