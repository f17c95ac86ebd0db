"""Staff review their own practice's calls, transcripts and messages in the admin."""

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from calls.models import Call, Message
from tenants.models import AuditEvent, Tenant
from tests.portal.twofactor import staff_sign_in
from tests.voice.management.scenario_runner import subprocess_env
from tests import ROOT

pytestmark = pytest.mark.django_db(transaction=True)



def talk(lines: list[str], caller: str) -> str:
    env = subprocess_env(_url())
    result = subprocess.run(
        [sys.executable, "manage.py", "talk", "--tenant", "demo", "--from", caller, "--now", "2026-11-30T09:00"],
        input="\n".join(lines) + "\n", cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_talk_protocol_and_a_message_staff_can_handle(client, django_user_model):
    call_command("seed_demo", stdout=io.StringIO())
    out = talk(["I'd like to leave a message.", "Dan Cole", "Please call me about my bill.", "No, bye."], "+15552220104")
    lines = out.strip().splitlines()
    assert lines[0].startswith("AGENT: Thank you for calling Bright Smile Dental.")
    assert lines[1] == "CALLER>"
    assert all(line.startswith(("AGENT: ", "CALLER>", "[call ended]", "{")) for line in lines)
    assert lines[-2] == "[call ended]"
    assert '"outcome": "message_taken"' in lines[-1] and '"message": "Please call me about my bill."' in lines[-1]

    demo = Tenant.objects.get(slug="demo")
    message = Message.objects.get(tenant=demo)
    assert (message.caller_name, message.callback_number, message.status) == ("Dan Cole", "+15552220104", "new")
    user = django_user_model.objects.get(username="demo")
    staff_sign_in(client, user)
    listing = client.get(reverse("admin:calls_message_changelist"))
    assert "Please call me about my bill." in listing.text
    client.post(reverse("admin:calls_message_changelist"), {"action": "mark_handled", "_selected_action": [message.pk]})
    message.refresh_from_db()
    assert message.status == "handled" and message.handled_at is not None

    call = Call.objects.get(tenant=demo)
    page = client.get(reverse("admin:calls_call_change", args=[call.pk]))
    assert page.status_code == 200
    assert "Please call me about my bill." in page.text and "message_taken" in page.text.lower().replace(" ", "_")
    assert AuditEvent.objects.filter(actor_user=user, action="view", object_type="calls.Call").exists()


def test_bad_arguments_get_clear_errors():
    call_command("seed_demo", stdout=io.StringIO())
    for args, error in [
        (["--tenant", "nope"], "No active practice with slug 'nope'"),
        (["--tenant", "demo", "--now", "next week"], "--now must be a local date and time"),
    ]:
        result = subprocess.run(
            [sys.executable, "manage.py", "talk", *args], cwd=ROOT, env=subprocess_env(_url()),
            capture_output=True, text=True, timeout=60, input="",
        )
        assert result.returncode != 0 and error in result.stderr


def _url():
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
