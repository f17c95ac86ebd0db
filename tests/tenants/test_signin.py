"""Staff sign-in: throttled per username and address, audited, with sessions that end; addresses behind proxies."""

import datetime as dt
import time

import pytest
from asgiref.testing import ApplicationCommunicator
from django.contrib.sessions.models import Session
from django.core.asgi import get_asgi_application
from django.urls import reverse
from django.utils import timezone

from receptionist_site.proxies import trusting_proxies
from tenants.middleware import LOGIN_AT_SESSION_KEY
from tenants.models import AuditEvent, StaffMembership

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def desk(make_practice, django_user_model):
    tenant, _, _ = make_practice("a")
    user = django_user_model.objects.create_user(username="desk", password="the-right-password-1", is_staff=True)
    StaffMembership.objects.create(tenant=tenant, user=user, role=StaffMembership.Role.FRONT_DESK)
    return tenant, user


@pytest.mark.django_db
def test_wrong_passwords_lock_out_that_username_from_that_address(client, desk):
    tenant, user = desk
    statuses = [
        client.post(LOGIN, {"username": "desk", "password": f"guess-{i}"}, REMOTE_ADDR="198.51.100.7").status_code
        for i in range(30)
    ]
    assert statuses[:4] == [200] * 4 and set(statuses[4:]) == {429}
    right = client.post(LOGIN, {"username": "desk", "password": "the-right-password-1"}, REMOTE_ADDR="198.51.100.7")
    assert right.status_code == 429 and "Signing in is paused" in right.text
    assert client.get("/admin/", REMOTE_ADDR="198.51.100.7").status_code == 302  # not signed in

    elsewhere = client.post(LOGIN, {"username": "desk", "password": "the-right-password-1"}, REMOTE_ADDR="203.0.113.20")
    assert elsewhere.status_code == 302 and client.get("/admin/").status_code == 200

    events = AuditEvent.objects.filter(actor_label="desk", tenant=tenant)
    assert events.filter(action="login_failed", ip="198.51.100.7").count() >= 5
    assert events.filter(action="locked_out", ip="198.51.100.7").exists()
    assert events.filter(action="login", ip="203.0.113.20", actor_user=user).count() == 1


@pytest.mark.django_db
def test_idle_sessions_end_and_activity_keeps_them_going(client, desk, settings):
    _, user = desk
    assert settings.SESSION_COOKIE_AGE <= 60 * 60
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    session = Session.objects.get(session_key=client.session.session_key)
    assert abs((session.expire_date - timezone.now()).total_seconds() - settings.SESSION_COOKIE_AGE) < 60

    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + dt.timedelta(minutes=5))
    assert client.get("/admin/").status_code == 200  # a request renews the idle window
    renewed = Session.objects.get(pk=session.pk).expire_date
    assert renewed > timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)

    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_a_session_ends_hours_after_sign_in_however_active(client, desk, settings):
    _, user = desk
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session[LOGIN_AT_SESSION_KEY] = time.time() - settings.STAFF_SESSION_HOURS * 3600 - 60
    session.save()
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/").status_code == 302  # signed out, not just turned away once


async def _get(app, path: str, *, client_addr: str, headers: list[tuple[bytes, bytes]]) -> dict:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": (client_addr, 50000), "server": ("testserver", 80)}
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    await communicator.receive_output(timeout=10)
    return start


@pytest.mark.django_db(transaction=True)
async def test_forwarded_addresses_count_only_from_trusted_proxies(client, desk):
    from asgiref.sync import sync_to_async

    _, user = desk
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    app = trusting_proxies(get_asgi_application(), ["10.0.0.0/8"])
    forwarded = (b"x-forwarded-for", b"192.0.2.66, 203.0.113.5, 10.0.0.3")
    for peer in ["10.0.0.2", "198.51.100.9"]:
        response = await _get(app, reverse("admin:bookings_patient_changelist"), client_addr=peer,
                              headers=[(b"cookie", cookie), forwarded])
        assert response["status"] == 200
    ips = await sync_to_async(list)(
        AuditEvent.objects.filter(actor_user=user, action="list").order_by("id").values_list("ip", flat=True)
    )
    # Through our proxy: the first address our proxies did not add. Straight in: the peer, whatever it claims.
    assert ips == ["203.0.113.5", "198.51.100.9"]
