"""Servers the tests and benchmarks start on 127.0.0.1: a free port, and daphne, the Procfile's web role or
Radicale (a CalDAV server) started, ready, and stopped again."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import ROOT

START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _until_healthy(server: subprocess.Popen, *, port: int, name: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start") from None
            time.sleep(0.2)


@contextmanager
def daphne(env: dict, *, port: int, log: Path | None = None) -> Iterator[subprocess.Popen]:
    """The ASGI app under daphne on `port` with `env`, once it answers /health; its output appended to `log`."""
    command = [str(Path(sys.executable).with_name("daphne")), "-b", "127.0.0.1", "-p", str(port),
               "receptionist_site.asgi:application"]
    with open(log, "a") if log else open(os.devnull, "w") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _until_healthy(server, port=port, name=f"daphne (see {log})" if log else "daphne")
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)


def web_command(port: int) -> str:
    """The Procfile's web line, on 127.0.0.1 only."""
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    return procfile["web"].replace("$PORT", str(port)).replace("0.0.0.0", "127.0.0.1")


@contextmanager
def web_role(env: dict, *, port: int, processes: int) -> Iterator[subprocess.Popen]:
    """The Procfile's web role with WEB_CONCURRENCY=`processes`, once it answers /health; stopped with all its processes."""
    env = {**env, "WEB_CONCURRENCY": str(processes), "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    server = subprocess.Popen(["bash", "-c", web_command(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _until_healthy(server, port=port, name=f"the web role ({web_command(port)})")
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the shell, uvicorn and its worker processes
        server.wait(timeout=30)


@dataclass(frozen=True)
class Radicale:
    url: str  # the server's root; a user's calendars live under <url><username>/
    users: dict[str, str]


@contextmanager
def radicale(users: dict[str, str]) -> Iterator[Radicale]:
    """Radicale on a free port with an empty store in a temporary folder, `users` (name -> password) able to log in.

    It reads no configuration file, and each user may only touch their own /<user>/ calendars.
    """
    with tempfile.TemporaryDirectory(prefix="radicale-") as store:
        htpasswd = Path(store, "users")
        htpasswd.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
        port = free_port()
        command = [
            sys.executable, "-m", "radicale", "--config", "",
            "--server-hosts", f"127.0.0.1:{port}",
            "--storage-filesystem-folder", str(Path(store, "collections")),
            "--auth-type", "htpasswd", "--auth-htpasswd-filename", str(htpasswd),
            "--auth-htpasswd-encryption", "plain",
            "--auth-delay", "0",  # a wrong password is answered at once, not after a second
            "--rights-type", "owner_only",
            "--logging-level", "warning",
        ]
        with open(Path(store, "log"), "w") as log:
            server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/.web/", timeout=1)
                    break
                except urllib.error.HTTPError:
                    break  # any answer means it is up
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"radicale did not start: {Path(store, 'log').read_text()}") from None
                    time.sleep(0.05)
            yield Radicale(url=f"http://127.0.0.1:{port}/", users=dict(users))
        finally:
            server.terminate()
            server.wait(timeout=10)
