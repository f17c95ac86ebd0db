"""Play Twilio against a running server: a signed incoming-call webhook, then a media stream with synthesized
speech (the simulator is voice/simulator/). Point the server's TWILIO_API_BASE_URL at --twilio-port.

With --scenario FILE --id ID the caller is a scenario's (tests/scenarios/*.json): it answers what the agent says
by the scenario's rules, and the server's record of the call is judged PASS or FAIL.
"""

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.selectors import practice_number, tenant_by_slug
from voice.simulator.protocol import PLACEHOLDER_ACCOUNT_SID, Endpoint, SimulatorError
from voice.simulator.report import report
from voice.simulator.run import caller_ids, place_calls, place_scenario_call
from voice.simulator.scenarios import ScenarioError, scenario_clock, scenario_file_load
from voice.simulator.voices import VOICES, Voice, voice_by_name

# Maria Garcia (the default caller ID) books a cleaning.
DEFAULT_CALLER = "+15551110001"
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
            "saves it; with --calls N, place N calls at once and print only the latency summary; with --scenario "
            "and --id, play a caller scenario and judge the call.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo")
        parser.add_argument("--say", action="append", help="A caller turn (repeat for several).")
        parser.add_argument("--script", help="A file with one caller turn per line.")
        parser.add_argument("--calls", type=int, default=1)
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--from", dest="caller", help=f"The caller ID (default {DEFAULT_CALLER}).")
        parser.add_argument("--twilio-port", type=int, default=8010,
                            help="Port of the fake Twilio REST API (the server's TWILIO_API_BASE_URL).")
        parser.add_argument("--hear-agent", action="store_true",
                            help="Measurement: also run the simulator's own recogniser on the agent's audio and "
                                 "print what it heard (one call only; rough, the server's record has the words).")
        parser.add_argument("--scenario", help="A scenario file, e.g. tests/scenarios/public.json (with --id).")
        parser.add_argument("--id", dest="scenario_id", help="The scenario of --scenario to play.")
        parser.add_argument("--voice", choices=VOICES, default="piper",
                            help="The caller's voice: Piper's joe voice, a natural one, "
                                 "or espeak-ng's, which the offline recogniser hears far worse.")

    def handle(self, *args, tenant, say, script, calls, url, caller, twilio_port, hear_agent, scenario,
               scenario_id, voice, **options):
        _refuse_what_cannot_be_simulated(calls=calls, hear_agent=hear_agent, scenario=scenario,
                                         scenario_id=scenario_id, lines_or_caller=bool(say or script or caller))
        practice = tenant_by_slug(slug=tenant)
        number = practice_number(tenant=practice) if practice else None
        if number is None:
            raise CommandError(f"No practice {tenant!r} with a phone number; run seed_demo first.")
        call = {"endpoint": Endpoint(url=url, public_url=settings.PUBLIC_BASE_URL,
                                     auth_token=settings.TWILIO_AUTH_TOKEN or "unset", number=number),
                "account_sid": settings.TWILIO_ACCOUNT_SID or PLACEHOLDER_ACCOUNT_SID, "twilio_port": twilio_port}
        try:
            speaker = voice_by_name(voice)
            if scenario:
                self._scenario(practice, scenario, scenario_id, voice=speaker, **call)
            else:
                self._calls(callers=caller_ids(caller or DEFAULT_CALLER, calls), script=_script(script, say),
                            hear_agent=hear_agent, voice=speaker, **call)
        except SimulatorError as error:
            raise CommandError(str(error)) from None

    def _calls(self, **arguments) -> None:
        results = place_calls(write=self._write_now, **arguments)
        for line in report(results):
            self.stdout.write(line)
        if any(r.error for r in results):
            raise CommandError("some calls failed: " + "; ".join(r.error for r in results if r.error))

    def _scenario(self, practice: Tenant, path: str, scenario_id: str, *, voice: Voice, **call) -> None:
        try:
            scenarios = scenario_file_load(path)
            chosen = scenarios.find(scenario_id)
        except ScenarioError as error:
            raise CommandError(str(error)) from None
        clock = scenario_clock(chosen, practice.tzinfo)
        # The server's clock cannot be read from here; a FROZEN_NOW of this command's own is the server's in the
        # Makefile's and benchmark's set-ups, so a different one means a wrong clock.
        if settings.FROZEN_NOW and dt.datetime.fromisoformat(settings.FROZEN_NOW) != clock:
            raise CommandError(f"Scenario {scenario_id} happens at {clock.isoformat()}, but FROZEN_NOW is "
                               f"{settings.FROZEN_NOW}: run the server and this command on the scenario's clock.")
        self._write_now(f"Scenario {scenario_id}: the server must run with FROZEN_NOW={clock.isoformat()} on "
                        "freshly reset demo data (manage.py seed_demo --reset).")
        run = place_scenario_call(scenario=chosen, defaults=scenarios.default_replies, write=self._write_now,
                                  voice=voice, **call)
        for line in run.report():
            self.stdout.write(line)
        if not run.passed:
            raise CommandError(f"scenario {scenario_id} failed")

    def _write_now(self, line: str) -> None:
        """Each turn as it happens, even when stdout is a file or a pipe."""
        self.stdout.write(line)
        self.stdout.flush()


def _refuse_what_cannot_be_simulated(*, calls: int, hear_agent: bool, scenario: str | None,
                                     scenario_id: str | None, lines_or_caller: bool) -> None:
    if not 1 <= calls <= MAX_CALLS:
        raise CommandError(f"--calls must be between 1 and {MAX_CALLS}.")
    if hear_agent and calls > 1:
        raise CommandError("--hear-agent listens to one call; leave it out with --calls.")
    if bool(scenario) != bool(scenario_id):
        raise CommandError("--scenario and --id go together.")
    if scenario and (lines_or_caller or calls > 1 or hear_agent):
        raise CommandError("A scenario's caller says its own lines from its own number: leave out --say, "
                           "--script, --from, --calls and --hear-agent.")


def _script(path: str | None, say: list[str] | None) -> list[str]:
    if not path:
        return say or DEFAULT_SCRIPT
    try:
        with open(path) as handle:
            return [line.strip() for line in handle if line.strip()]
    except OSError as error:
        raise CommandError(f"cannot read --script: {error}") from None
