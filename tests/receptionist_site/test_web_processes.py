"""The web role with several processes on one port (the Procfile's uvicorn, WEB_CONCURRENCY): a phone call works
whichever process takes its webhook and whichever takes its media stream."""

import dataclasses
import io
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from calls.models import Call
from tenants.models import Tenant
from tenants.selectors import practice_number
from tests import ROOT
from tests.servers import free_port, web_role
from voice.simulator import caller as simulated_caller
from voice.simulator.protocol import Endpoint, _local_stream_url, incoming_call
from voice.simulator.run import place_calls
from voice.simulator.voices import piper

LINES = ["What are your hours on Friday?", "No, that's all. Thank you, bye."]
AUTH_TOKEN = "web-processes-token-0123"
ACCOUNT_SID = "AC" + "3" * 32


def _worker_processes(pid: int) -> list[int]:
    """uvicorn's worker processes under its supervisor `pid` (not multiprocessing's resource tracker)."""
    children = [child for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()]
    return [int(child) for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


@pytest.fixture
def server_env(transactional_db) -> dict:
    """The servers' environment: this test's database, the demo practice, Twilio's signatures checked."""
    call_command("seed_demo", stdout=io.StringIO())
    s = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "FROZEN_NOW": "2026-11-27T10:00:00-05:00",
    }


def test_a_call_completes_through_two_uvicorn_worker_processes_on_one_port(server_env):
    port, twilio_port = free_port(), free_port()
    env = {**server_env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio_port}"}
    with web_role(env, port=port, processes=2) as server:
        workers = _worker_processes(server.pid)
        result = subprocess.run(
            [sys.executable, "manage.py", "simulate_call", "--url", f"http://127.0.0.1:{port}",
             "--twilio-port", str(twilio_port), *(arg for line in LINES for arg in ("--say", line))],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
        )
        # Whichever process answers /metrics counts every process's frames (PROMETHEUS_MULTIPROC_DIR).
        frames_in = {_metric(port, "receptionist_frames_in_total") for _ in range(8)}
    assert len(workers) == 2, workers
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[call ended: agent hung up]" in result.stdout, result.stdout
    assert "2 turns answered, 0 unanswered" in result.stdout, result.stdout
    call = Call.objects.get(channel="phone")
    assert call.ended_at is not None and call.stream_sid and call.turns.filter(speaker="agent").count() >= 3
    [frames] = frames_in
    assert frames > 50 * 2  # two lines of speech, fifty frames a second


def _metric(port: int, name: str) -> float:
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.split()[-1]) for line in page.splitlines() if line.startswith(name + " "))


def test_a_call_whose_stream_reaches_another_process_than_its_webhook_is_answered(server_env, monkeypatch):
    """What the kernel may do to any call with several processes on one port, made certain: the webhook goes to one
    server process and the media stream to another, which shares nothing with the first but the database."""
    webhook_port, stream_port, twilio_port = free_port(), free_port(), free_port()
    env = {**server_env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{webhook_port}",
           "TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio_port}"}
    endpoint = Endpoint(url=f"http://127.0.0.1:{webhook_port}", public_url=env["PUBLIC_BASE_URL"],
                        auth_token=AUTH_TOKEN, number=practice_number(tenant=Tenant.objects.get(slug="demo")))

    async def webhook_here_stream_there(client, endpoint, call, caller):
        stream_url, parameters = await incoming_call(client, endpoint, call, caller)
        return _local_stream_url(stream_url, f"http://127.0.0.1:{stream_port}"), parameters

    monkeypatch.setattr(simulated_caller, "incoming_call", webhook_here_stream_there)
    with web_role(env, port=webhook_port, processes=1), web_role(env, port=stream_port, processes=1):
        [result] = place_calls(endpoint=endpoint, callers=["+15551110001"], script=LINES, account_sid=ACCOUNT_SID,
                               twilio_port=twilio_port, write=lambda line: None, voice=piper)
    assert (result.error, result.ended_by, result.unanswered, len(result.latencies_ms)) == ("", "agent hung up", 0, 2), (
        dataclasses.asdict(result))
    call = Call.objects.get(call_sid=result.call_sid)
    assert call.ended_at is not None and call.stream_sid and call.turns.filter(speaker="caller").count() == 2
