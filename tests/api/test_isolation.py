"""Every endpoint, against another practice's key or token and against a key without the scope it needs."""

import pytest

from api.models import Scope
from bookings.models import Appointment
from calls.models import Call, Message

pytestmark = pytest.mark.django_db

# (method, path, the scope it needs, a body); {appointment}, {call}, {message} are the demo practice's.
ENDPOINTS = [
    ("get", "/api/v1/practice", Scope.PRACTICE_READ, None),
    ("get", "/api/v1/availability?appointment_type=cleaning&start_date=2026-12-14", Scope.AVAILABILITY_READ, None),
    ("get", "/api/v1/appointments", Scope.APPOINTMENTS_READ, None),
    ("post", "/api/v1/appointments", Scope.APPOINTMENTS_WRITE, {"patient_id": 0, "appointment_type": "cleaning",
                                                                 "start": "2026-12-14T09:00:00-05:00"}),
    ("get", "/api/v1/appointments/{appointment}", Scope.APPOINTMENTS_READ, None),
    ("post", "/api/v1/appointments/{appointment}/reschedule", Scope.APPOINTMENTS_WRITE,
     {"start": "2026-12-14T10:00:00-05:00"}),
    ("post", "/api/v1/appointments/{appointment}/cancel", Scope.APPOINTMENTS_WRITE, {}),
    ("get", "/api/v1/patients?phone=%2B15551110001", Scope.PATIENTS_READ, None),
    ("post", "/api/v1/patients", Scope.PATIENTS_WRITE, {"first_name": "Zed", "last_name": "Zee"}),
    ("get", "/api/v1/calls", Scope.CALLS_READ, None),
    ("get", "/api/v1/calls/{call}", Scope.CALLS_READ, None),
    ("get", "/api/v1/messages", Scope.MESSAGES_READ, None),
    ("post", "/api/v1/messages/{message}/handled", Scope.MESSAGES_WRITE, None),
]
OBJECT = "{"


@pytest.fixture
def demo_rows(demo):
    call = Call.objects.create(tenant=demo, summary="Booked a cleaning for Maria Garcia.")
    message = Message.objects.create(tenant=demo, call=call, caller_name="Maria Garcia", about="Call me back")
    appointment = Appointment.objects.filter(tenant=demo, status="booked").first()
    return {"appointment": appointment.pk, "call": call.pk, "message": message.pk}


def _call(client, method, path, body, rows):
    url = path.format(**rows)
    return getattr(client, method)(url, body, format="json") if method == "post" else client.get(url)


@pytest.mark.parametrize("method,path,scope,body", ENDPOINTS)
def test_another_practices_key_finds_nothing_of_this_practice(demo, demo_rows, make_practice, issue_key,
                                                               method, path, scope, body):
    other, _patient, _appointment = make_practice("elsewhere")
    response = _call(issue_key(other), method, path, body, demo_rows)
    if OBJECT in path:
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    text = response.content.decode()
    assert "Maria" not in text and "Garcia" not in text and "+15551110001" not in text
    listed = {"/api/v1/appointments": "appointment", "/api/v1/calls": "call", "/api/v1/messages": "message"}
    if method == "get" and path in listed:
        assert response.status_code == 200
        assert demo_rows[listed[path]] not in {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("method,path,scope,body", ENDPOINTS)
def test_a_key_without_the_scope_is_refused_and_changes_nothing(demo, demo_rows, issue_key, method, path, scope,
                                                                body):
    others = [s for s in Scope.values if s != scope]
    before = (Appointment.objects.count(), Message.objects.filter(status="handled").count())
    response = _call(issue_key(demo, scopes=others), method, path, body, demo_rows)
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "permission_denied", "message": f"This needs the {scope} scope.",
                                        "details": {}}
    assert (Appointment.objects.count(), Message.objects.filter(status="handled").count()) == before


def test_another_practices_staff_token_finds_nothing_either(demo, demo_rows, make_practice, django_user_model,
                                                            client):
    from tenants.models import StaffMembership
    from tests.portal.twofactor import device_confirmed, totp_code

    other, _patient, _appointment = make_practice("elsewhere")
    user = django_user_model.objects.create_user(username="elsewhere-desk", password="pw-for-tests-1", is_staff=True)
    StaffMembership.objects.create(tenant=other, user=user, role=StaffMembership.Role.OWNER)
    device_confirmed(user)
    access = client.post("/api/v1/token/", {"username": "elsewhere-desk", "password": "pw-for-tests-1",
                                            "code": totp_code(user)}).json()["access"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {access}"}
    assert client.get(f"/api/v1/appointments/{demo_rows['appointment']}", **auth).status_code == 404
    assert client.get(f"/api/v1/calls/{demo_rows['call']}", **auth).status_code == 404
    wrong = client.get("/api/v1/practice", HTTP_X_PRACTICE="demo", **auth)
    assert wrong.status_code == 401 and "not a member" in wrong.json()["error"]["message"]
