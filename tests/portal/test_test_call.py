"""The test-call page opens a call marked as a test and hands the page a stream token for it."""

import pytest

from calls.models import Call
from calls.telephony import stream_token_valid
from tenants.models import AuditEvent, StaffMembership

pytestmark = pytest.mark.django_db

START = "/admin/test-call/start/"


def test_front_desk_opens_a_test_call_as_a_patient(demo, staff_client):
    client, _ = staff_client(demo)
    page = client.get("/admin/test-call/")
    assert page.status_code == 200 and "Talk to your receptionist" in page.content.decode()

    response = client.post(START, {"practice": demo.pk, "caller_number": "(555) 111-0001"})

    assert response.status_code == 200
    details = response.json()
    call = Call.objects.get(call_sid=details["call_sid"])
    assert (call.tenant, call.is_test, call.caller_number, call.ended_at) == (demo, True, "+15551110001", None)
    assert details["stream_path"] == f"/media-stream/{call.pk}/"
    assert details["review_url"] == f"/admin/calls/call/{call.pk}/change/"
    assert stream_token_valid(details["token"], call_id=call.pk, call_sid=call.call_sid)
    assert AuditEvent.objects.filter(action="test_call", object_id=str(call.pk), tenant=demo).exists()


def test_a_viewer_cannot_place_test_calls_they_would_book_real_appointments(demo, staff_client):
    client, _ = staff_client(demo, role=StaffMembership.Role.VIEWER)

    assert "only for a practice where you book appointments" in client.get("/admin/test-call/").content.decode()
    response = client.post(START, {"practice": demo.pk})

    assert response.status_code == 400 and response.json()["error"] == "Choose one of your practices to call."
    assert not Call.objects.exists()


def test_no_test_call_to_another_practice(demo, make_practice, staff_client):
    other = make_practice("other")[0]
    response = staff_client(demo)[0].post(START, {"practice": other.pk})

    assert response.status_code == 400
    assert not Call.objects.exists()


def test_a_caller_id_that_is_no_phone_number_is_refused_in_words(demo, staff_client):
    response = staff_client(demo)[0].post(START, {"practice": demo.pk, "caller_number": "maria"})

    assert response.status_code == 400
    assert response.json()["error"] == "maria is not a phone number the receptionist could see."
    assert not Call.objects.exists()


def test_a_test_call_that_never_connected_is_ended_by_the_next(demo, staff_client):
    client, _ = staff_client(demo)
    first = Call.objects.get(call_sid=client.post(START, {"practice": demo.pk}).json()["call_sid"])
    Call.objects.filter(pk=first.pk).update(started_at=first.started_at.replace(year=first.started_at.year - 1))

    client.post(START, {"practice": demo.pk})

    first.refresh_from_db()
    assert first.ended_at is not None and first.outcome == "abandoned"
    assert Call.objects.filter(ended_at__isnull=True).count() == 1
