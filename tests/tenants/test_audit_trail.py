"""The audit trail: append-only in every database, filed under the actor's practice, and complete for PHI pages."""

import os
import subprocess
import sys

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from bookings.models import Patient
from tenants.models import AuditEvent
from tenants.services import Actor, audit_record
from tests import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_and_b(make_practice):
    return make_practice("a", patient_name=("Ann", "Alpha")), make_practice("b", patient_name=("Bob", "Beta"), phone="+15557770002")


def test_the_app_role_cannot_truncate_or_rewrite_the_trail_on_postgresql():
    event = audit_record(actor=Actor.system("test"), action="view", object_type="x")
    with connection.cursor() as cursor:
        # The application's own role in production is no superuser (the test database's owner is).
        cursor.execute("DO $$ BEGIN CREATE ROLE audit_probe NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        cursor.execute("GRANT ALL ON tenants_auditevent TO audit_probe")
    for statement in ["TRUNCATE tenants_auditevent", "DELETE FROM tenants_auditevent", "UPDATE tenants_auditevent SET action = 'x'"]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL ROLE audit_probe")
            cursor.execute(statement)
    for attempt in [lambda: AuditEvent._base_manager.filter(pk=event.pk).update(action="x"),
                    lambda: AuditEvent._base_manager.filter(pk=event.pk).delete()]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert AuditEvent.objects.get(pk=event.pk).action == "view"


def test_sqlite_refuses_updates_and_deletes_of_the_trail(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": ""}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    script = """
import django; django.setup()
from django.db import DatabaseError
from tenants.models import AuditEvent
from tenants.services import Actor, audit_record
event = audit_record(actor=Actor.system("test"), action="view", object_type="x")
for name, attempt in [("update", lambda: AuditEvent._base_manager.filter(pk=event.pk).update(action="x")),
                      ("delete", lambda: AuditEvent._base_manager.all().delete())]:
    try:
        attempt()
        print(name, "allowed")
    except DatabaseError as error:
        print(name, "refused:", error)
print("left:", AuditEvent.objects.get(pk=event.pk).action)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "update refused: the audit trail is append-only",
        "delete refused: the audit trail is append-only",
        "left: view",
    ]


def test_lists_and_denied_attempts_are_filed_under_the_actors_practice(a_and_b, staff_client):
    (a, _, _), (b, their_patient, _) = a_and_b
    client, user = staff_client(a)
    client.get(reverse("admin:bookings_patient_changelist"))
    client.get(reverse("admin:bookings_patient_change", args=[their_patient.pk]))
    listed = AuditEvent.objects.get(actor_user=user, action="list", object_type="bookings.Patient")
    assert listed.tenant_id == a.pk
    denied = AuditEvent.objects.get(actor_user=user, action="access_denied")
    assert denied.tenant_id == a.pk and denied.object_id == str(their_patient.pk)
    assert not AuditEvent.objects.filter(tenant_id=b.pk).exists()  # B's staff see nothing of A's staff


def test_history_delete_confirmation_and_patient_choices_are_audited(a_and_b, staff_client):
    (a, patient, _), _ = a_and_b
    client, user = staff_client(a)
    assert client.get(reverse("admin:bookings_patient_history", args=[patient.pk])).status_code == 200
    assert client.get(reverse("admin:bookings_patient_delete", args=[patient.pk])).status_code == 200
    form = client.get(reverse("admin:bookings_appointment_add")).text
    assert "Ann Alpha, born Jan 2, 1970" in form
    events = AuditEvent.objects.filter(actor_user=user, object_type="bookings.Patient", tenant_id=a.pk)
    assert sorted((e.action, e.detail.get("page") or e.detail.get("via")) for e in events) == [
        ("list", "appointment form choices"), ("view", "delete confirmation"), ("view", "history"),
    ]
    assert all(e.object_id == str(patient.pk) for e in events.filter(action="view"))


def test_admin_history_carries_no_patient_names(a_and_b, staff_client):
    (a, patient, appointment), _ = a_and_b
    client, _ = staff_client(a)
    url = reverse("admin:bookings_patient_change", args=[patient.pk])
    response = client.post(url, {"first_name": "Ann", "last_name": "Alpha-Jones", "phone": "+15557770001",
                                 "date_of_birth": "1970-01-02"})
    assert response.status_code == 302
    entry = LogEntry.objects.get(object_id=str(patient.pk), content_type=ContentType.objects.get_for_model(Patient))
    assert entry.object_repr == f"Patient #{patient.pk}"
    history = client.get(reverse("admin:bookings_patient_history", args=[patient.pk])).text
    assert "Alpha" not in history and f"Patient #{patient.pk}" in history
    assert str(appointment) == f"Appointment #{appointment.pk}"
    assert str(patient) == f"Patient #{patient.pk}"


def test_the_migration_cleans_history_written_before(a_and_b, django_user_model):
    import importlib

    from django.apps import apps

    (_, patient, _), _ = a_and_b
    user = django_user_model.objects.create_user(username="old", password="pw-for-tests-1")
    old = LogEntry.objects.create(user=user, content_type=ContentType.objects.get_for_model(Patient),
                                  object_id=str(patient.pk), object_repr="Ann Alpha", action_flag=2)
    migration = importlib.import_module("bookings.migrations.0004_admin_history_without_phi")
    migration.history_without_phi(apps, None)
    old.refresh_from_db()
    assert old.object_repr == f"Patient #{patient.pk}"

