"""Delete what each practice's retention periods say has expired (voice/services.py `expired_records_purge`,
which beat also runs nightly). A dry run prints the counts a real run would delete and changes nothing; a real
run prints what it did, and the recordings Twilio did not delete, which stay for the next run."""

from django.core.management.base import BaseCommand, CommandError

from voice.services import PURGE_BATCH_SIZE, expired_records_purge, practice_now


class Command(BaseCommand):
    help = "Delete call recordings, transcripts, summaries and inactive patients past each practice's retention periods."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Only this practice (default: every practice).")
        parser.add_argument("--dry-run", action="store_true", help="Print what would be deleted; change nothing.")
        parser.add_argument("--batch-size", type=int, default=PURGE_BATCH_SIZE,
                            help=f"Rows per transaction (default: {PURGE_BATCH_SIZE}).")

    def handle(self, *args, tenant: str | None, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        now = practice_now()
        purges = expired_records_purge(now=now, batch_size=batch_size, dry_run=dry_run, slug=tenant)
        if tenant is not None and not purges:
            raise CommandError(f"No practice has the slug {tenant!r}; nothing was purged.")
        verb = "would purge" if dry_run else "purged"
        for purge in purges:
            self.stdout.write(f"{purge.slug}: {verb} " + ", ".join(f"{kind} {n}" for kind, n in purge.counts.items()))
            if purge.recordings_failed:
                self.stdout.write(self.style.WARNING(
                    f"{purge.slug}: {purge.recordings_failed} recording(s) not deleted at Twilio; "
                    "kept for the next run (see the log)."
                ))
        self.stdout.write("Audit events: none purged (the audit trail is append-only; it is kept at least six years).")
        if dry_run:
            self.stdout.write(self.style.SUCCESS("Dry run: nothing was changed."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Done: {len(purges)} practice(s) purged as of {now.isoformat()}."))
