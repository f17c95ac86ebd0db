"""simulate_call's interface, and `make demo`'s steps on the embedded defaults: migrate, seed, serve /health and
the admin (the whole simulated call is tests/voice/phone/test_end_to_end.py)."""

import io
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests import ROOT
from tests.portal.twofactor import totp_code_for_key
from tests.servers import free_port
from voice.management.commands import simulate_call
from voice.simulator.caller import CallResult


@pytest.mark.parametrize("arguments, refusal", [
    (["--calls", "0"], "--calls must be between 1 and 200"),
    (["--calls", "2", "--hear-agent"], "--hear-agent listens to one call"),
    (["--tenant", "nowhere"], "No practice 'nowhere'"),
])
@pytest.mark.django_db
def test_what_cannot_be_simulated_is_refused_before_any_call(arguments, refusal):
    with pytest.raises(CommandError, match=refusal):
        call_command("simulate_call", *arguments, stdout=io.StringIO())


@pytest.mark.django_db
def test_the_script_file_and_caller_go_to_the_simulator_and_its_report_is_printed(demo, tmp_path, monkeypatch):
    placed = {}

    def place_calls(**arguments):
        placed.update(arguments)
        return [CallResult("CA1", ended_by="agent hung up", latencies_ms=[600.0], frames_received=50)]

    monkeypatch.setattr(simulate_call, "place_calls", place_calls)
    script = tmp_path / "caller.txt"
    script.write_text("What are your hours on Friday?\n\nBye.\n")
    out = io.StringIO()
    call_command("simulate_call", "--script", str(script), "--from", "+15550001111", "--twilio-port", "0",
                 stdout=out)
    assert (placed["script"], placed["callers"], placed["hear_agent"]) == (
        ["What are your hours on Friday?", "Bye."], ["+15550001111"], False)
    assert placed["endpoint"].number == "+15005550006"
    assert "[call ended: agent hung up]" in out.getvalue() and "1 call(s), 1 turns answered" in out.getvalue()


@pytest.mark.django_db
def test_a_failed_call_fails_the_command(demo, monkeypatch):
    monkeypatch.setattr(simulate_call, "place_calls",
                        lambda **_: [CallResult("CA1", error="ConnectError: connection refused")])
    with pytest.raises(CommandError, match="some calls failed: ConnectError"):
        call_command("simulate_call", stdout=io.StringIO())


def test_demo_setup_serves_health_and_admin_login_on_embedded_defaults(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "ENVIRONMENT"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", LOCAL_SECRETS_FILE=str(tmp_path / "s.json"))
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
    seeded = subprocess.run(
        [*manage, "seed_demo"], cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True
    )
    password = re.search(r"password '([^']+)'", seeded.stdout).group(1)

    port = free_port()
    daphne = Path(sys.executable).with_name("daphne")
    server = subprocess.Popen(
        [str(daphne), "-b", "127.0.0.1", "-p", str(port), "receptionist_site.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "daphne did not answer within 30 s"
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/health/detailed", timeout=5) as response:
            body = response.read().decode()
        assert '"engine": "sqlite"' in body and "InMemoryChannelLayer" in body

        # Log in through the real login form, as a person would.
        import http.cookiejar

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(f"{base}/admin/login/", timeout=5).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        data = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": "demo", "password": password, "next": "/admin/"}
        ).encode()
        request = urllib.request.Request(f"{base}/admin/login/?next=/admin/", data=data, headers={"Referer": base})
        # The demo login is the owner: its first sign-in sets up two-factor sign-in, as a new owner's would.
        set_up = opener.open(request, timeout=5)
        assert set_up.url.startswith(f"{base}/admin/two-factor/")
        page = set_up.read().decode()
        key = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page).group(1)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "otp_token": totp_code_for_key(key), "next": "/admin/"}).encode()
        request = urllib.request.Request(set_up.url, data=data, headers={"Referer": base})
        admin_page = opener.open(request, timeout=5).read().decode()
        assert "Log out" in admin_page and "Patients" in admin_page
        css = opener.open(f"{base}/static/admin/css/base.css", timeout=5)
        assert css.status == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
