"""`make demo`'s steps on the embedded defaults: migrate, seed, serve /health and the admin."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from tests import ROOT



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        admin_page = opener.open(request, timeout=5).read().decode()
        assert "Log out" in admin_page and "Patients" in admin_page
        css = opener.open(f"{base}/static/admin/css/base.css", timeout=5)
        assert css.status == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
