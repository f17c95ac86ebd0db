"""A whole phone call through daphne on 127.0.0.1: Twilio's side played by simulate_call with synthesized speech."""

import datetime as dt
import io
import os
import re
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from bookings.models import Appointment
from calls.models import Call
from tests import ROOT
from tests.servers import daphne, free_port


@pytest.mark.django_db(transaction=True)
def test_a_caller_books_a_cleaning_by_phone():
    call_command("seed_demo", stdout=io.StringIO())
    s = connection.settings_dict
    port, twilio_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}",
        "TWILIO_AUTH_TOKEN": "e2e-token-0123456789",
        "TWILIO_ACCOUNT_SID": "AC" + "2" * 32,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio_port}",
        "FROZEN_NOW": "2026-11-27T10:00:00-05:00",  # a Friday: "Monday" is November 30
    }
    with daphne(env, port=port):
        result = subprocess.run(
            [sys.executable, "manage.py", "simulate_call", "--url", f"http://127.0.0.1:{port}",
             "--twilio-port", str(twilio_port)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[call ended: agent hung up]" in result.stdout, result.stdout
    # Each turn as the server saved it, printed while the call ran; the simulator's own hearing only when asked.
    turns = result.stdout.split("[call ended")[0]
    assert "  AGENT: Thank you for calling Bright Smile Dental." in turns
    assert re.search(r"\n  AGENT \(500 \+ \d+ ms\): ", turns), turns
    assert "  CALLER (heard as): " in turns and "recogniser" not in result.stdout
    booked = Appointment.objects.get(start=dt.datetime.fromisoformat("2026-11-30T09:00:00-05:00"), status="booked")
    assert (booked.patient.full_name, booked.appointment_type.key, booked.provider.key, booked.source) == (
        "Maria Garcia", "cleaning", "chen", "phone")
    call = Call.objects.get(channel="phone")
    assert call.outcome == "booked" and call.ended_at is not None
    assert call.turns.filter(speaker="agent", latency__has_key="first_frame_sent_ms").exists()
    assert "Cleaning with Lisa Chen on Monday, November 30 at 09:00 for Maria Garcia: booked" in result.stdout
