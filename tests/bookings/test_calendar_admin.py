"""Staff link calendars, see conflicts and hand out feed URLs in the admin."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from bookings.models import Appointment, CalendarConflict, CalendarFeedToken, CalendarLink, Provider
from bookings.selectors import calendar_feed_by_token
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(demo, staff_client):
    client, _ = staff_client(demo)
    return client, demo


def conflict_on(appointment, uid="golf") -> CalendarConflict:
    return CalendarConflict.objects.create(
        tenant_id=appointment.tenant_id, appointment=appointment, external_uid=uid,
        external_start=appointment.start, external_end=appointment.end + dt.timedelta(hours=1),
    )


def test_open_conflicts_are_listed_and_can_be_marked_resolved(desk, make_practice):
    client, demo = desk
    appointment = Appointment.objects.filter(tenant=demo).first()
    conflict = conflict_on(appointment)
    _, _, elsewhere = make_practice("other")
    hidden = conflict_on(elsewhere)
    url = reverse("admin:bookings_calendarconflict_changelist")

    page = client.get(url, {"state": "open"}).content.decode()
    assert f"#{appointment.pk} " in page and f"#{elsewhere.pk} " not in page

    client.post(url, {"action": "resolve", "_selected_action": [conflict.pk, hidden.pk]})
    conflict.refresh_from_db(), hidden.refresh_from_db()
    assert conflict.resolved_at is not None and hidden.resolved_at is None
    assert f"#{appointment.pk} " not in client.get(url, {"state": "open"}).content.decode()
    assert AuditEvent.objects.filter(action="resolve", object_id=str(conflict.pk)).exists()


def test_the_calendar_password_is_never_shown_back(desk):
    client, demo = desk
    chen = Provider.objects.get(tenant=demo, key="chen")
    response = client.post(reverse("admin:bookings_calendarlink_add"), {
        "tenant": demo.pk, "provider": chen.pk, "url": "http://127.0.0.1:9/chen/calendar/", "username": "chen",
        "password": "s3cret-app-password", "is_enabled": "",
    })
    assert response.status_code == 302
    link = CalendarLink.objects.get(provider=chen)
    assert link.password == "s3cret-app-password"
    page = client.get(reverse("admin:bookings_calendarlink_change", args=[link.pk])).content.decode()
    assert "s3cret-app-password" not in page


def test_issuing_a_feed_shows_its_url_once(desk):
    client, demo = desk
    patel = Provider.objects.get(tenant=demo, key="patel")
    response = client.post(reverse("admin:bookings_calendarfeedtoken_add"), {"tenant": demo.pk, "provider": patel.pk},
                           follow=True)
    (token,) = re.findall(r"/calendars/([A-Za-z0-9_-]+)\.ics", response.content.decode())
    assert calendar_feed_by_token(token=token).provider == patel
    listing = client.get(reverse("admin:bookings_calendarfeedtoken_changelist")).content.decode()
    assert token not in listing
    feed = CalendarFeedToken.objects.get()
    client.post(reverse("admin:bookings_calendarfeedtoken_changelist"), {"action": "revoke", "_selected_action": [feed.pk]})
    assert calendar_feed_by_token(token=token) is None
