"""Staff see and change only their own practice's rows; reads and attempts are audited."""

import pytest
from django.urls import reverse

from bookings.models import Appointment, Patient
from tenants.models import AuditEvent, StaffMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_practices(make_practice):
    mine = make_practice("mine", patient_name=("Anna", "Mine"), phone="+15557770001")
    theirs = make_practice("theirs", patient_name=("Theo", "Theirs"), phone="+15557770002")
    return mine, theirs


def test_lists_show_only_own_practice(two_practices, staff_client):
    (tenant, _, _), _ = two_practices
    client, _ = staff_client(tenant)
    patients = client.get(reverse("admin:bookings_patient_changelist"))
    assert patients.status_code == 200
    assert "Anna Mine" in patients.text and "Theo Theirs" not in patients.text
    appointments = client.get(reverse("admin:bookings_appointment_changelist"))
    assert "Anna Mine" in appointments.text and "Theo Theirs" not in appointments.text
    assert "Practice theirs" not in appointments.text


def test_another_practices_objects_answer_404_and_are_audited(two_practices, staff_client):
    (tenant, _, _), (_, their_patient, their_appointment) = two_practices
    client, user = staff_client(tenant)
    for name, obj in [("patient", their_patient), ("appointment", their_appointment)]:
        for view in ["change", "delete", "history"]:
            response = client.get(reverse(f"admin:bookings_{name}_{view}", args=[obj.pk]))
            assert response.status_code == 404, (name, view)
    denied = AuditEvent.objects.filter(actor_user=user, action="access_denied")
    assert denied.filter(object_type="bookings.Patient", object_id=str(their_patient.pk)).count() == 3
    assert denied.filter(object_type="bookings.Appointment", object_id=str(their_appointment.pk)).count() == 3


def test_another_practices_appointment_cannot_be_changed_or_deleted(two_practices, staff_client):
    (tenant, _, _), (_, _, their_appointment) = two_practices
    client, _ = staff_client(tenant)
    url = reverse("admin:bookings_appointment_change", args=[their_appointment.pk])
    response = client.post(url, {"status": "cancelled"})
    assert response.status_code == 404
    delete = client.post(reverse("admin:bookings_appointment_delete", args=[their_appointment.pk]), {"post": "yes"})
    assert delete.status_code == 404
    their_appointment.refresh_from_db()
    assert their_appointment.status == Appointment.Status.BOOKED


def test_foreign_key_choices_are_scoped(two_practices, staff_client):
    (tenant, _, _), (their_tenant, their_patient, _) = two_practices
    client, _ = staff_client(tenant)
    form = client.get(reverse("admin:bookings_appointment_add"))
    assert form.status_code == 200
    assert "Anna Mine" in form.text
    assert "Theo Theirs" not in form.text and their_tenant.name not in form.text


def test_cannot_move_a_patient_into_another_practice(two_practices, staff_client):
    (tenant, my_patient, _), (their_tenant, _, _) = two_practices
    client, _ = staff_client(tenant)
    url = reverse("admin:bookings_patient_change", args=[my_patient.pk])
    assert 'name="tenant"' not in client.get(url).text  # a row's practice is shown, not offered
    client.post(
        url,
        {"tenant": their_tenant.pk, "first_name": "Anna", "last_name": "Mine", "phone": "+15557770001"},
    )
    assert Patient.objects.get(pk=my_patient.pk).tenant_id == tenant.pk


def test_reads_and_changes_of_patients_are_audited(two_practices, staff_client):
    (tenant, my_patient, _), _ = two_practices
    client, user = staff_client(tenant)
    client.get(reverse("admin:bookings_patient_changelist"))
    url = reverse("admin:bookings_patient_change", args=[my_patient.pk])
    client.get(url)
    response = client.post(
        url,
        {
            "tenant": tenant.pk,
            "first_name": "Anna",
            "last_name": "Mine-Jones",
            "phone": "+15557770001",
            "date_of_birth": "1970-01-02",
        },
    )
    assert response.status_code == 302
    events = AuditEvent.objects.filter(actor_user=user, object_type="bookings.Patient")
    assert set(events.values_list("action", flat=True)) == {"list", "view", "change"}
    change = events.get(action="change")
    assert change.object_id == str(my_patient.pk) and change.tenant_id == tenant.pk
    assert change.detail == {"fields": ["last_name"]}
    assert "Mine-Jones" not in str(change.detail)


def test_viewer_role_is_read_only(two_practices, staff_client):
    (tenant, my_patient, _), _ = two_practices
    client, _ = staff_client(tenant, role=StaffMembership.Role.VIEWER, username="viewer")
    url = reverse("admin:bookings_patient_change", args=[my_patient.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"tenant": tenant.pk, "first_name": "X", "last_name": "Y"})
    assert Patient.objects.get(pk=my_patient.pk).first_name == "Anna"
    assert client.get(reverse("admin:bookings_patient_add")).status_code == 403


def test_user_without_membership_sees_nothing(two_practices, client, django_user_model):
    user = django_user_model.objects.create_user(username="stray", password="pw-for-tests-1", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:bookings_patient_changelist")).status_code == 403


def test_audit_trail_is_append_only(two_practices):
    from django.db import connection, transaction

    from tenants.services import Actor, audit_record

    event = audit_record(actor=Actor.system("test"), action="view", object_type="x")
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE tenants_auditevent SET action = 'x' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "view"
