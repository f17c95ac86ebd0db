"""Servers the tests start on 127.0.0.1: a free port, and daphne started, ready, and stopped again."""

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import ROOT

START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def daphne(env: dict, *, port: int) -> Iterator[subprocess.Popen]:
    """The ASGI app under daphne on `port` with `env`, once it answers /health."""
    command = [str(Path(sys.executable).with_name("daphne")), "-b", "127.0.0.1", "-p", str(port),
               "receptionist_site.asgi:application"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "daphne did not start"
                time.sleep(0.2)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)
