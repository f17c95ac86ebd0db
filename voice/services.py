"""Deleting what each practice's retention periods say has expired: `manage.py purge_expired_records` and beat's
nightly task (voice/tasks.py) both call `expired_records_purge`.

Per practice: call recordings older than retention_call_audio_days (deleted at Twilio, then our RecordingSid
and URL cleared), what was said on calls older than retention_transcript_days (turns, tool calls, summary,
saved state), and patients inactive past retention_inactive_patient_days, with their past appointments
(calls/services.py `call_records_purge`, bookings/services.py `patients_inactive_purge`). A dry run counts
with the same selectors and changes nothing, at Twilio neither; a real run files one audit event per practice
with the counts (no PHI). The audit trail itself is append-only (PostgreSQL triggers refuse DELETE and
TRUNCATE), so no audit event is ever purged.

It lives in voice because it spans calls and bookings, and only voice may import both.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from bookings.selectors import patients_inactive_counts
from bookings.services import patients_inactive_purge
from calls.selectors import call_records_expired_counts
from calls.services import call_records_purge
from tenants.models import Tenant
from tenants.selectors import practices
from tenants.services import Actor, audit_record

ACTOR = "purge_expired_records"


@dataclass(frozen=True)
class PracticePurge:
    """One practice's purge: what was deleted (in a dry run: what would be), by kind, and the recordings
    Twilio did not delete, kept for the next run."""

    slug: str
    counts: dict[str, int]
    recordings_failed: int = 0


def practice_now() -> dt.datetime:
    """The practice clock: FROZEN_NOW (demos and tests) or the real time."""
    return dt.datetime.fromisoformat(settings.FROZEN_NOW) if settings.FROZEN_NOW else timezone.now()


def _practice_purge(*, tenant: Tenant, now: dt.datetime, batch_size: int, dry_run: bool) -> PracticePurge:
    if dry_run:
        counts = {
            **call_records_expired_counts(tenant=tenant, now=now),
            **patients_inactive_counts(tenant=tenant, now=now),
        }
        return PracticePurge(slug=tenant.slug, counts=counts)
    counts = {
        **call_records_purge(tenant=tenant, now=now, batch_size=batch_size),
        **patients_inactive_purge(tenant=tenant, now=now, batch_size=batch_size),
    }
    failed = counts.pop("recordings_failed")  # not a kind deleted: a dry run's counts have no such entry
    audit_record(
        actor=Actor.system(ACTOR), action="purge", object_type="tenants.Tenant", object_id=tenant.pk, tenant=tenant,
        detail={"counts": counts, "recordings_failed": failed, "now": now.isoformat()},
    )
    return PracticePurge(slug=tenant.slug, counts=counts, recordings_failed=failed)


PURGE_BATCH_SIZE = 500  # rows per transaction: short locks, and an interrupted run keeps most of its work


def expired_records_purge(
    *, now: dt.datetime, batch_size: int, dry_run: bool, slug: str | None = None
) -> list[PracticePurge]:
    """Every practice's expired records (with `slug`, only that practice's), in slug order: counted (dry run) or
    deleted and audited. Empty when no practice has the slug."""
    return [
        _practice_purge(tenant=tenant, now=now, batch_size=batch_size, dry_run=dry_run)
        for tenant in practices(slug=slug)
    ]
