"""Secrets: production refuses to start without them, development makes its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests import ROOT
from tests.servers import free_port

GOOD = {
    "SECRET_KEY": "k" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "PHONE_INDEX_KEY": "p" * 16 + "0123456789abcdefghij",
}


def run_django(env_overrides: dict, code: str = "import django; django.setup(); print('started')", args=None):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "PHONE_INDEX_KEY"}}
    env.update({"DJANGO_SETTINGS_MODULE": "receptionist_site.settings", **env_overrides})
    command = [sys.executable, *(args or ["-c", code])]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_production_refuses_to_start_without_each_secret(missing):
    env = {"ENVIRONMENT": "production", "ALLOWED_HOSTS": "example.com", **GOOD}
    del env[missing]
    result = run_django(env)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert "started" not in result.stdout


@pytest.mark.parametrize(
    "name,weak",
    [("SECRET_KEY", "django-insecure-" + "x" * 50), ("FIELD_ENCRYPTION_KEYS", "not-a-fernet-key"), ("PHONE_INDEX_KEY", "short")],
)
def test_production_refuses_weak_secrets(name, weak):
    result = run_django({"ENVIRONMENT": "production", "ALLOWED_HOSTS": "example.com", **GOOD, name: weak})
    assert result.returncode != 0
    assert name in result.stderr


def test_development_generates_secrets_once_and_reuses_them(tmp_path):
    secrets_file = tmp_path / "secrets.json"
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY, settings.FIELD_ENCRYPTION_KEYS[0], settings.PHONE_INDEX_KEY)"
    )
    env = {"ENVIRONMENT": "development", "LOCAL_SECRETS_FILE": str(secrets_file)}
    first = run_django(env, code)
    assert first.returncode == 0, first.stderr
    stored = json.loads(secrets_file.read_text())
    assert set(stored) == set(GOOD)
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    second = run_django(env, code)
    assert second.stdout == first.stdout
    assert first.stdout.split() == [stored["SECRET_KEY"], stored["FIELD_ENCRYPTION_KEYS"], stored["PHONE_INDEX_KEY"]]


def test_check_deploy_is_clean_with_production_settings():
    result = run_django(
        {"ENVIRONMENT": "production", "ALLOWED_HOSTS": "receptionist.example.com", **GOOD},
        args=["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_closing_a_postgresql_connection_hands_it_back_instead_of_logging_in_again():
    """database_sync_to_async closes the connection after each voice-loop query; that must stay cheap."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        started = cursor.fetchone()[0]
    for _ in range(20):
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_start > %s", [started]
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.parametrize("setting", ["STT_PROVIDER", "STT_FALLBACK_PROVIDER", "TTS_PROVIDER", "TTS_FALLBACK_PROVIDER"])
def test_a_provider_that_cannot_load_stops_start_up_with_a_clear_message(setting):
    missing = {setting: "voice.phone.nowhere.Missing"}
    check = run_django(missing, args=["manage.py", "check"])
    assert check.returncode != 0
    assert f"(voice.E001) {setting} is 'voice.phone.nowhere.Missing'" in check.stderr
    server = run_django(missing, code="import receptionist_site.asgi")
    assert server.returncode != 0 and "voice.E001" in server.stderr


def test_a_cloud_key_chooses_a_provider_that_starts():
    keys = {"DEEPGRAM_API_KEY": "dg-key", "ELEVENLABS_API_KEY": "xi-key"}
    check = run_django(keys, args=["manage.py", "check"])
    assert check.returncode == 0, check.stderr
    code = "import django; django.setup(); from django.conf import settings; print(settings.STT_PROVIDER, settings.TTS_PROVIDER)"
    assert run_django(keys, code).stdout.split() == ["voice.phone.stt.deepgram.DeepgramSTT", "voice.phone.tts.elevenlabs.ElevenLabsTTS"]


def test_production_keeps_operator_endpoints_closed_by_default():
    code = "import django; django.setup(); from django.conf import settings; print(settings.OPS_ALLOWED_NETWORKS, bool(settings.OPS_TOKEN))"
    result = run_django({"ENVIRONMENT": "production", "ALLOWED_HOSTS": "example.com", **GOOD}, code)
    assert result.stdout.split() == ["[]", "False"], result.stderr


def test_the_procfile_serves_the_admins_stylesheet_in_production(tmp_path):
    """The release step collects static files; the web process serves them with production settings."""
    import re
    import signal
    import time
    import urllib.request

    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update(GOOD, ENVIRONMENT="production", ALLOWED_HOSTS="receptionist.example.com",
               DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL="", STATIC_ROOT=str(tmp_path / "static"),
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    release = subprocess.run(["bash", "-c", procfile["release"]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert release.returncode == 0, release.stderr[-2000:]
    port = free_port()
    web = procfile["web"].replace("$PORT", str(port)).replace("0.0.0.0", "127.0.0.1")
    server = subprocess.Popen(["bash", "-c", web], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        def get(path: str):
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={
                "Host": "receptionist.example.com", "X-Forwarded-Proto": "https"})
            return urllib.request.urlopen(request, timeout=10)

        for _ in range(100):
            try:
                page = get("/admin/login/").read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
        assert any("admin/css/base." in href for href in stylesheets), stylesheets  # hashed name: collected
        for href in stylesheets:
            response = get(href)
            assert response.status == 200 and response.headers["Content-Type"].startswith("text/css")
            assert "immutable" in response.headers["Cache-Control"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the shell and the server it started
        server.wait(timeout=10)
