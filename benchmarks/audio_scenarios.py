"""Caller scenarios through the audio loop: every scenario of tests/scenarios/public.json phoned in through daphne.

Run: `make bench-audio-scenarios`. The scenario caller (voice/simulator/) reads
what the agent said from the server's saved turns, answers by the scenario's
rules in a synthesized voice (Piper's joe voice; BENCH_VOICES=piper,espeak adds
espeak-ng) as 8 kHz mu-law at real-time pace through the media stream, and the
server's own record of the call is judged as the text scenarios are. daphne
runs on 127.0.0.1 with the offline providers, once per voice and distinct
scenario clock (FROZEN_NOW); the demo data is reset before each scenario. It
prints each scenario's PASS/FAIL, the pass counts, the calls that loop (an
agent sentence in three agent turns in a row) and the machine, and keeps each
call's transcript in a folder it names.

With --cloud the server recognises with Deepgram and speaks with ElevenLabs, both the protocol-faithful fakes of
tests/fakes/ run in this process (the rules engine still converses): the Deepgram fake cannot hear, so the caller
scripts it with each line before speaking it, and it finds the speech by loudness and ends it by its endpointing
as the service does. A call passes there only with one Deepgram connection and no fallback to another provider.

BENCH_SCENARIOS_MORE=1 adds tests/scenarios/more.json; BENCH_SCENARIO_IDS=p1-...,p7-... plays only those;
BENCH_DATABASE_URL: an empty database of its own (default: a fresh SQLite file). Target: at least 12 of the 14
public scenarios pass with Piper (with --cloud: all 14, as they all do by text) and no call loops; it exits
non-zero when it misses.
"""

import argparse
import io
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import machine, setup_django
from tests import ROOT, servers
from tests.servers import free_port
from voice.simulator.scenarios import scenario_clock, scenario_file_load
from voice.simulator.voices import Voice, voice_by_name

if TYPE_CHECKING:  # imported where used, once Django is set up; the fakes only with --cloud
    from tests.fakes.deepgram_api import FakeDeepgram
    from tests.fakes.elevenlabs_api import FakeElevenLabs
    from voice.simulator.scenario_caller import ScenarioRun

SCENARIO_DIR = ROOT / "tests" / "scenarios"
TARGET_PUBLIC_PASSES = 12
TARGET_PUBLIC_PASSES_CLOUD = 14  # all of them pass by text (tests/voice/management/test_talk.py); words come scripted
MAX_SECONDS = 90 * 60  # no scenario starts after this: a stuck server cannot hold the machine for long
SERVER_START_SECONDS = 30


@dataclass(frozen=True)
class Played:
    file_name: str
    scenario: dict
    defaults: list


@dataclass(frozen=True)
class Server:
    """A daphne on one scenario clock, and where the simulator reaches it and its fake Twilio API."""

    port: int
    twilio_port: int
    clock: str


@dataclass(frozen=True)
class Cloud:
    """The Deepgram and ElevenLabs fakes the server is pointed at."""

    recogniser: "FakeDeepgram"
    voice: "FakeElevenLabs"

    def env(self) -> dict[str, str]:
        return {"DEEPGRAM_API_KEY": "dg-bench-key", "DEEPGRAM_URL": self.recogniser.url,
                "ELEVENLABS_API_KEY": "xi-bench-key", "ELEVENLABS_VOICE_ID": "bench-voice",
                "ELEVENLABS_BASE_URL": self.voice.base_url,
                "STT_PROVIDER": "voice.phone.stt.deepgram.DeepgramSTT",
                "TTS_PROVIDER": "voice.phone.tts.elevenlabs.ElevenLabsTTS"}


@contextmanager
def cloud_fakes() -> Iterator[Cloud]:
    from tests.fakes.deepgram_api import FakeDeepgram
    from tests.fakes.elevenlabs_api import FakeElevenLabs

    with FakeDeepgram() as recogniser, FakeElevenLabs() as voice:
        yield Cloud(recogniser, voice)


def scenarios(wanted: set[str]) -> list[Played]:
    """The scenarios to play: public.json's (and more.json's when asked), only the `wanted` ids if any."""
    names = ["public.json", *(["more.json"] if os.environ.get("BENCH_SCENARIOS_MORE") == "1" else [])]
    played = []
    for name in names:
        loaded = scenario_file_load(SCENARIO_DIR / name)
        played += [Played(name, s, loaded.default_replies) for s in loaded.scenarios if not wanted or s["id"] in wanted]
    return played


def reset_demo() -> None:
    from django.core.management import call_command

    call_command("seed_demo", "--reset", stdout=io.StringIO())


@contextmanager
def daphne(clock: str, log: Path, cloud: Cloud | None) -> Iterator[Server]:
    server = Server(port=free_port(), twilio_port=free_port(), clock=clock)
    env = {**os.environ, "PUBLIC_BASE_URL": f"http://127.0.0.1:{server.port}", "FROZEN_NOW": clock,
           "TWILIO_API_BASE_URL": f"http://127.0.0.1:{server.twilio_port}", "LOG_LEVEL": "WARNING",
           **(cloud.env() if cloud else {})}
    with servers.daphne(env, port=server.port, log=log):
        yield server


def play(server: Server, played: Played, voice: Voice, transcript: Path, cloud: Cloud | None) -> "ScenarioRun":
    """One scenario on freshly reset demo data; its transcript written to `transcript` as the call goes."""
    from tenants.selectors import practice_number, tenant_by_slug
    from voice.simulator.protocol import PLACEHOLDER_ACCOUNT_SID, Endpoint
    from voice.simulator.run import place_scenario_call

    reset_demo()
    endpoint = Endpoint(url=f"http://127.0.0.1:{server.port}", public_url=f"http://127.0.0.1:{server.port}",
                        auth_token="unset", number=practice_number(tenant=tenant_by_slug(slug="demo")))
    with open(transcript, "w") as out:
        connections = len(cloud.recogniser.connections) if cloud else 0
        before_line: Callable[[str], None] | None = cloud.recogniser.script if cloud else None
        run = place_scenario_call(endpoint=endpoint, scenario=played.scenario, defaults=played.defaults,
                                  account_sid=PLACEHOLDER_ACCOUNT_SID, twilio_port=server.twilio_port,
                                  write=lambda line: print(line, file=out, flush=True), voice=voice,
                                  before_line=before_line)
        if cloud:
            cloud_judged(run, cloud, len(cloud.recogniser.connections) - connections)
        print("\n".join(run.report()), file=out)
    return run


def cloud_judged(run: "ScenarioRun", cloud: Cloud, connections: int) -> None:
    """A call passes through the cloud providers only on one Deepgram connection and with no fallback; lines
    scripted and never recognised are noted, and dropped so that the next call's lines are its own."""
    from calls.models import Call

    fallbacks = Call.objects.filter(call_sid=run.result.call_sid).values_list("fallbacks", flat=True).first()
    if connections != 1:
        run.problems.append(f"{connections} Deepgram connections, not one")
    if fallbacks:
        run.problems.append(f"the server fell back from {', '.join(fallbacks)}")
    unheard, cloud.recogniser.transcripts[:] = list(cloud.recogniser.transcripts), []
    if unheard:
        run.transcript.lines.append(f"[the Deepgram fake never recognised: {unheard}]")


def play_all(voice_name: str, played: list[Played], folder: Path, stop_at: float,
             cloud: Cloud | None) -> list[tuple[str, "ScenarioRun"]]:
    """Every scenario in one voice: one server per scenario clock."""
    from tenants.selectors import tenant_by_slug

    voice, tz = voice_by_name(voice_name), tenant_by_slug(slug="demo").tzinfo
    runs = []

    def clock_of(each: Played) -> str:
        return scenario_clock(each.scenario, tz).isoformat()

    for clock, group in itertools.groupby(sorted(played, key=clock_of), key=clock_of):
        with daphne(clock, folder / "server.log", cloud) as server:
            for each in group:
                if time.monotonic() > stop_at:
                    print(f"  [{voice_name}] SKIPPED {each.scenario['id']}: the benchmark's time is up", flush=True)
                    continue
                began = time.monotonic()
                run = play(server, each, voice, folder / f"{voice_name}-{each.scenario['id']}.txt", cloud)
                loop_note = f"; LOOP: {run.loops}" if run.loops else ""
                print(f"  [{voice_name}] {run.verdict()} ({time.monotonic() - began:.0f} s){loop_note}", flush=True)
                runs.append((each.file_name, run))
    return runs


def summary(verdicts: dict[str, list[tuple[str, "ScenarioRun"]]], *, judged: bool, target: int) -> bool:
    """Prints the pass counts and looping calls per voice and file; whether the target was met (if `judged`)."""
    met = True
    for voice_name, runs in verdicts.items():
        for file_name in sorted({f for f, _ in runs}, reverse=True):  # public.json before more.json
            of_file = [run for f, run in runs if f == file_name]
            passed = sum(run.passed for run in of_file)
            looping = [run.scenario_id for run in of_file if run.loops]
            print(f"{voice_name}, {file_name}: {passed} of {len(of_file)} passed; {len(looping)} call(s) loop"
                  + (f" ({', '.join(looping)})" if looping else ""))
            if judged and voice_name == "piper" and file_name == "public.json":
                met = passed >= target and not looping
                print(f"target (at least {target} of the 14 public with Piper, no looping call): "
                      + ("met" if met else "missed"))
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description="Caller scenarios phoned in through daphne.")
    parser.add_argument("--cloud", action="store_true",
                        help="Recognise and speak with the Deepgram and ElevenLabs fakes (tests/fakes/).")
    cloud_wanted = parser.parse_args().cloud
    os.environ.pop("REDIS_URL", None)  # the in-memory channel layer, as the phone benchmark's server has
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # not a line per webhook request among the verdicts
    vendor = setup_django()
    reset_demo()  # the practice's time zone gives the scenarios' clocks
    wanted = {i for i in os.environ.get("BENCH_SCENARIO_IDS", "").split(",") if i}
    played = scenarios(wanted)
    folder = Path(tempfile.mkdtemp(prefix="receptionist-audio-scenarios-"))
    print(f"audio scenario benchmark; {machine()}; {vendor} database; {len(played)} scenarios")
    if cloud_wanted:
        print("The server recognises with the Deepgram fake (scripted with each caller line, endpointing by "
              "loudness), converses with the rules engine and speaks with the ElevenLabs fake (espeak-ng audio).")
    else:
        print("The offline stack on the server: pocketsphinx, the rules engine and espeak-ng.")
    print(f"Transcripts and the server's log: {folder}", flush=True)
    stop_at = time.monotonic() + MAX_SECONDS
    voices = os.environ.get("BENCH_VOICES", "piper").split(",")
    with cloud_fakes() if cloud_wanted else nullcontext() as cloud:
        verdicts = {name: play_all(name, played, folder, stop_at, cloud) for name in voices}
    target = TARGET_PUBLIC_PASSES_CLOUD if cloud_wanted else TARGET_PUBLIC_PASSES
    return 0 if summary(verdicts, judged=not wanted, target=target) else 1


if __name__ == "__main__":
    sys.exit(main())
