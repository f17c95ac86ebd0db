"""Delete what each practice's retention periods say has expired.

Per practice: call recordings older than retention_call_audio_days (Twilio keeps the audio;
we clear our RecordingSid and URL), what was said on calls older than retention_transcript_days
(turns, tool calls, summary, saved state), and patients inactive past
retention_inactive_patient_days, with their past appointments (calls/services.py
`call_records_purge`, bookings/services.py `patients_inactive_purge`). A dry run prints the
counts the same selectors give and changes nothing; a real run prints what it did and files
one audit event per practice with the counts (no PHI). The audit trail itself is append-only
(PostgreSQL triggers refuse DELETE and TRUNCATE), so no audit event is ever purged.

It lives in voice because it spans calls and bookings, and only voice may import both.
"""

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bookings.selectors import patients_inactive_counts
from bookings.services import patients_inactive_purge
from calls.selectors import call_records_expired_counts
from calls.services import call_records_purge
from tenants.models import Tenant
from tenants.selectors import practices
from tenants.services import Actor, audit_record

ACTOR = "purge_expired_records"


def practice_now() -> dt.datetime:
    """The practice clock: FROZEN_NOW (demos and tests) or the real time."""
    return dt.datetime.fromisoformat(settings.FROZEN_NOW) if settings.FROZEN_NOW else timezone.now()


def expired_records_purge(*, tenant: Tenant, now: dt.datetime, batch_size: int, dry_run: bool) -> dict[str, int]:
    """What expired in one practice, by kind: counted (dry run) or deleted and audited."""
    if dry_run:
        return {**call_records_expired_counts(tenant=tenant, now=now), **patients_inactive_counts(tenant=tenant, now=now)}
    counts = {
        **call_records_purge(tenant=tenant, now=now, batch_size=batch_size),
        **patients_inactive_purge(tenant=tenant, now=now, batch_size=batch_size),
    }
    audit_record(
        actor=Actor.system(ACTOR), action="purge", object_type="tenants.Tenant", object_id=tenant.pk, tenant=tenant,
        detail={"counts": counts, "now": now.isoformat()},
    )
    return counts


class Command(BaseCommand):
    help = "Delete call recordings, transcripts, summaries and inactive patients past each practice's retention periods."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Only this practice (default: every practice).")
        parser.add_argument("--dry-run", action="store_true", help="Print what would be deleted; change nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default: 500).")

    def handle(self, *args, tenant: str | None, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        tenants = practices(slug=tenant)
        if tenant is not None and not tenants:
            raise CommandError(f"No practice has the slug {tenant!r}; nothing was purged.")
        now = practice_now()
        verb = "would purge" if dry_run else "purged"
        for practice in tenants:
            counts = expired_records_purge(tenant=practice, now=now, batch_size=batch_size, dry_run=dry_run)
            self.stdout.write(f"{practice.slug}: {verb} " + ", ".join(f"{kind} {n}" for kind, n in counts.items()))
        self.stdout.write("Audit events: none purged (the audit trail is append-only; it is kept at least six years).")
        if dry_run:
            self.stdout.write(self.style.SUCCESS("Dry run: nothing was changed."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Done: {len(tenants)} practice(s) purged as of {now.isoformat()}."))
