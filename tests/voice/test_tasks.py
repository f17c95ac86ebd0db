"""Beat's nightly purge: the task does what `manage.py purge_expired_records` does, on a real worker."""

import pytest
from django.db import OperationalError

from bookings.models import Patient
from calls.models import Call, Turn
from tenants.models import AuditEvent
from tests import retention
from voice import tasks


def expired_records(slug: str) -> Call:
    tenant = retention.practice(slug)
    retention.patient(tenant, days_ago=3000)
    return retention.call(tenant, days_ago=400)


def test_the_nightly_purge_runs_on_a_real_worker(transactional_db, celery_worker, fake_twilio, settings):
    settings.FROZEN_NOW = retention.NOW.isoformat()
    old = expired_records("smile")
    retention.twilio_holds(fake_twilio, [old])

    tasks.purge_expired_records.apply_async(ignore_result=False).get(timeout=30)

    assert fake_twilio.recordings_deleted == [old.recording_sid]
    assert not Turn.objects.exists() and not Patient.objects.exists()
    assert Call.objects.get(pk=old.pk).recording_sid == ""
    event = AuditEvent.objects.get(action="purge")
    assert event.actor_label == "purge_expired_records" and event.detail["recordings_failed"] == 0


@pytest.mark.sqlite_too
def test_a_database_gone_for_a_moment_is_retried(db, fake_twilio, settings, monkeypatch):
    settings.FROZEN_NOW = retention.NOW.isoformat()
    expired_records("smile")
    real_purge, attempts = tasks.expired_records_purge, []

    def flaky(**kwargs):
        attempts.append(kwargs)
        if len(attempts) == 1:
            raise OperationalError("the server closed the connection unexpectedly")
        return real_purge(**kwargs)

    monkeypatch.setattr(tasks, "expired_records_purge", flaky)
    tasks.purge_expired_records.apply(throw=False)  # a retry re-runs it at once, in place
    assert len(attempts) == 2 and not Turn.objects.exists()
