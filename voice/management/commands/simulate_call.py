"""Play Twilio against a running server: a signed incoming-call webhook, then a media stream with synthesized
speech (the simulator is voice/simulator/). Point the server's TWILIO_API_BASE_URL at --twilio-port."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenants.selectors import practice_number, tenant_by_slug
from voice.simulator.protocol import PLACEHOLDER_ACCOUNT_SID, Endpoint, SimulatorError
from voice.simulator.report import report
from voice.simulator.run import caller_ids, place_calls

# Maria Garcia (the default caller ID) books a cleaning. Phrased as an offline
# recogniser hears espeak well; a cloud recogniser needs no such care.
DEFAULT_SCRIPT = [
    "I'd like to book a teeth cleaning.",
    "Monday at nine a m.",
    "April twelfth nineteen eighty.",
    "Yes please.",
    "No, that's all. Thank you, bye.",
]
MAX_CALLS = 200


class Command(BaseCommand):
    help = ("Phone the receptionist as Twilio would, with synthesized speech, printing each turn as the server "
            "saves it; with --calls N, place N calls at once and print only the latency summary.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo")
        parser.add_argument("--say", action="append", help="A caller turn (repeat for several).")
        parser.add_argument("--script", help="A file with one caller turn per line.")
        parser.add_argument("--calls", type=int, default=1)
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--from", dest="caller", default="+15551110001")
        parser.add_argument("--twilio-port", type=int, default=8010,
                            help="Port of the fake Twilio REST API (the server's TWILIO_API_BASE_URL).")
        parser.add_argument("--hear-agent", action="store_true",
                            help="Measurement: also run the simulator's own recogniser on the agent's audio and "
                                 "print what it heard (one call only; rough, the server's record has the words).")

    def handle(self, *args, tenant, say, script, calls, url, caller, twilio_port, hear_agent, **options):
        if not 1 <= calls <= MAX_CALLS:
            raise CommandError(f"--calls must be between 1 and {MAX_CALLS}.")
        if hear_agent and calls > 1:
            raise CommandError("--hear-agent listens to one call; leave it out with --calls.")
        endpoint = Endpoint(url=url, public_url=settings.PUBLIC_BASE_URL,
                            auth_token=settings.TWILIO_AUTH_TOKEN or "unset", number=_practice_number(tenant))
        try:
            results = place_calls(
                endpoint=endpoint, callers=caller_ids(caller, calls), script=_script(script, say),
                account_sid=settings.TWILIO_ACCOUNT_SID or PLACEHOLDER_ACCOUNT_SID, twilio_port=twilio_port,
                write=self._write_now, hear_agent=hear_agent,
            )
        except SimulatorError as error:
            raise CommandError(str(error)) from None
        for line in report(results):
            self.stdout.write(line)
        if any(r.error for r in results):
            raise CommandError("some calls failed: " + "; ".join(r.error for r in results if r.error))

    def _write_now(self, line: str) -> None:
        """Each turn as it happens, even when stdout is a file or a pipe."""
        self.stdout.write(line)
        self.stdout.flush()


def _script(path: str | None, say: list[str] | None) -> list[str]:
    if not path:
        return say or DEFAULT_SCRIPT
    try:
        with open(path) as handle:
            return [line.strip() for line in handle if line.strip()]
    except OSError as error:
        raise CommandError(f"cannot read --script: {error}") from None


def _practice_number(tenant: str) -> str:
    practice = tenant_by_slug(slug=tenant)
    number = practice_number(tenant=practice) if practice else None
    if number is None:
        raise CommandError(f"No practice {tenant!r} with a phone number; run seed_demo first.")
    return number
