"""A partner with a key books, moves and cancels through /api/v1/, with the receptionist's own rules."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.models import ApiKey, Scope
from bookings.models import Appointment, Patient
from tenants.crypto import phone_blind_index
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db

MONDAY_9 = "2026-12-14T09:00:00-05:00"


@pytest.fixture
def partner(demo, issue_key):
    return issue_key(demo)


@pytest.fixture
def maria(demo):
    return Patient.objects.get(tenant=demo, phone_index=phone_blind_index("+15551110001"))


def book(partner, maria, start=MONDAY_9, **headers):
    return partner.post("/api/v1/appointments", {"patient_id": maria.pk, "appointment_type": "cleaning",
                                                 "start": start, "provider": "chen"}, format="json", **headers)


def test_a_partner_books_moves_and_cancels_and_each_change_is_audited_as_the_key(partner, maria, demo):
    booked = book(partner, maria)
    assert booked.status_code == 201, booked.json()
    body = booked.json()
    assert (body["provider"], body["appointment_type"], body["status"], body["source"]) == (
        "chen", "cleaning", "booked", "api")
    moved = partner.post(f"/api/v1/appointments/{body['id']}/reschedule", {"start": "2026-12-14T10:00:00-05:00"},
                         format="json")
    assert moved.status_code == 200 and moved.json()["start"].startswith("2026-12-14T15:00:00")
    cancelled = partner.post(f"/api/v1/appointments/{body['id']}/cancel", {"reason": "patient asked"}, format="json")
    assert cancelled.json()["status"] == "cancelled"
    actions = AuditEvent.objects.filter(object_type="bookings.Appointment", object_id=str(body["id"]))
    assert {(e.action, e.actor_type) for e in actions} >= {("create", "api_key"), ("reschedule", "api_key"),
                                                           ("cancel", "api_key")}


def test_a_taken_slot_is_a_conflict_with_the_nearest_alternatives(partner, maria, demo):
    assert book(partner, maria).status_code == 201
    john = Patient.objects.get(tenant=demo, phone_index=phone_blind_index("+15551110002"))
    taken = book(partner, john)
    assert taken.status_code == 409
    error = taken.json()["error"]
    assert error["code"] == "slot_unavailable" and "already taken" in error["message"]
    assert len(error["details"]["alternatives"]) >= 1 and {"start", "end", "provider_id"} <= set(
        error["details"]["alternatives"][0])


def test_a_retried_post_with_the_same_idempotency_key_books_once_and_gets_the_first_answer(partner, maria):
    first = book(partner, maria, HTTP_IDEMPOTENCY_KEY="booking-42")
    again = book(partner, maria, HTTP_IDEMPOTENCY_KEY="booking-42")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Appointment.objects.filter(patient=maria, source="api").count() == 1
    other = book(partner, maria, start="2026-12-14T10:00:00-05:00", HTTP_IDEMPOTENCY_KEY="booking-42")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_bad_input_is_a_clear_error_that_changes_nothing(partner, maria):
    response = partner.post("/api/v1/appointments", {"patient_id": maria.pk, "appointment_type": "cleaning",
                                                     "start": "monday"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and "start" in response.json()["error"]["details"]
    outside = book(partner, maria, start="2026-12-14T22:00:00-05:00")
    assert outside.status_code == 422 and outside.json()["error"]["code"] == "outside_hours"
    assert not Appointment.objects.filter(source="api").exists()


def test_availability_offers_the_receptionists_times(partner):
    response = partner.get("/api/v1/availability", {"appointment_type": "cleaning", "start_date": "2026-12-14",
                                                    "part_of_day": "afternoon"})
    assert response.status_code == 200
    starts = [slot["start"] for slot in response.json()]
    assert starts and all("T1" in start and start >= "2026-12-14T12" for start in starts)
    assert partner.get("/api/v1/availability", {"appointment_type": "nope", "start_date": "2026-12-14"}).status_code == 404


def test_patients_by_phone_with_the_date_of_birth_only_under_its_scope(demo, issue_key, maria):
    full = issue_key(demo).get("/api/v1/patients", {"phone": "(555) 111-0001"}).json()
    assert full == [{"id": maria.pk, "first_name": "Maria", "last_name": "Garcia", "phone": "+15551110001",
                     "date_of_birth": "1980-04-12"}]
    plain = issue_key(demo, scopes=[Scope.PATIENTS_READ]).get("/api/v1/patients", {"phone": "+15551110001"}).json()
    assert "date_of_birth" not in plain[0]
    assert AuditEvent.objects.filter(object_type="bookings.Patient", object_id=str(maria.pk), action="read",
                                     actor_type="api_key").count() == 2


def test_a_mistyped_key_is_refused_without_a_query_and_a_revoked_one_too(demo, partner, client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/practice", HTTP_AUTHORIZATION="Bearer rk_aaaaaaaa_" + "b" * 32 + "_cccccc")
    assert response.status_code == 401 and len(queries) == 0
    assert partner.get("/api/v1/practice").status_code == 200
    ApiKey.objects.update(revoked_at=dt.datetime.now(dt.UTC))
    assert partner.get("/api/v1/practice").status_code == 401


def test_staff_sign_in_for_a_token_and_act_for_their_practice(demo, django_user_model, client):
    from tenants.models import StaffMembership

    user = django_user_model.objects.create_user(username="desk", password="pw-for-tests-1", is_staff=True)
    StaffMembership.objects.create(tenant=demo, user=user, role=StaffMembership.Role.VIEWER)
    tokens = client.post("/api/v1/token/", {"username": "desk", "password": "pw-for-tests-1"}).json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
    assert client.get("/api/v1/practice", **auth).json()["name"] == "Bright Smile Dental"
    refused = client.post("/api/v1/appointments", {}, content_type="application/json", **auth)
    assert refused.status_code == 403 and "appointments:write" in refused.json()["error"]["message"]


def test_a_filter_time_the_database_could_not_compare_is_a_clear_error(partner):
    response = partner.get("/api/v1/appointments", {"start_after": "1375-09-25T02:15:41-23:06"})
    assert response.status_code == 400 and "start_after" in response.json()["error"]["details"]
    assert partner.get("/api/v1/appointments", {"start_after": "2026-12-01T00:00:00-05:00"}).status_code == 200


def test_each_key_has_its_own_rate_and_a_throttled_one_is_told_when_to_come_back(demo, issue_key, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": "3/min"}}
    busy, other = issue_key(demo, name="Busy"), issue_key(demo, name="Other")
    assert [busy.get("/api/v1/practice").status_code for _ in range(3)] == [200, 200, 200]
    throttled = busy.get("/api/v1/practice")
    assert throttled.status_code == 429 and 0 < int(throttled["Retry-After"]) <= 60
    assert throttled.json()["error"]["code"] == "throttled"
    assert other.get("/api/v1/practice").status_code == 200


def test_a_kept_answer_that_names_a_patient_is_encrypted_at_rest(demo, partner):
    created = partner.post("/api/v1/patients", {"first_name": "Zelda", "last_name": "Quill", "phone": "555 333 0009"},
                           format="json", HTTP_IDEMPOTENCY_KEY="patient-1")
    assert created.status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT response FROM api_idempotentrequest")
        stored = cursor.fetchone()[0]
    assert "Zelda" not in stored and "Quill" not in stored
    again = partner.post("/api/v1/patients", {"first_name": "Zelda", "last_name": "Quill", "phone": "555 333 0009"},
                         format="json", HTTP_IDEMPOTENCY_KEY="patient-1")
    assert again.json() == created.json() and Patient.objects.filter(tenant=demo).count() == 5


def test_an_owners_token_needs_the_code_of_their_authenticator_app(demo, django_user_model, client):
    from tenants.models import StaffMembership
    from tests.portal.twofactor import device_confirmed, totp_code

    user = django_user_model.objects.create_user(username="owner", password="pw-for-tests-1", is_staff=True)
    StaffMembership.objects.create(tenant=demo, user=user, role=StaffMembership.Role.OWNER)
    credentials = {"username": "owner", "password": "pw-for-tests-1"}

    no_device = client.post("/api/v1/token/", credentials)
    assert no_device.status_code == 401 and "set up two-factor sign-in" in no_device.json()["error"]["message"]
    device_confirmed(user)
    no_code = client.post("/api/v1/token/", credentials)
    assert no_code.status_code == 401 and "`code`" in no_code.json()["error"]["message"]
    tokens = client.post("/api/v1/token/", {**credentials, "code": totp_code(user)}).json()
    assert client.get("/api/v1/practice", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}").status_code == 200
    wrong = client.post("/api/v1/token/", {**credentials, "code": "000000"})
    assert wrong.status_code == 401 and "not right" in wrong.json()["error"]["message"]
    assert AuditEvent.objects.filter(action="two_factor_failed", tenant=demo).exists()
