"""Webhook endpoints and deliveries in the admin: each practice's own, owners manage endpoints, attempts visible."""

import re

import pytest
from django.urls import reverse

from tenants import webhooks
from tenants.models import AuditEvent, StaffMembership, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tenants.services import Actor, event_publish, webhook_endpoint_create

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def delivery_with_attempts(tenant, url="https://partner.example.com/hooks", status=WebhookDelivery.Status.FAILED):
    endpoint, _ = webhook_endpoint_create(tenant=tenant, url=url, event_types=["appointment.cancelled"], actor=SYSTEM)
    # Its task is queued on a commit, which this test's transaction never makes.
    [delivery] = event_publish(tenant=tenant, event_type="appointment.cancelled", data={"appointment_id": 41})
    for number, code in [(1, 503), (2, 410)]:
        WebhookAttempt.objects.create(tenant=tenant, delivery=delivery, number=number, at=delivery.created_at,
                                      status_code=code, error=f"Answered HTTP {code}.", duration_ms=12)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status, attempt_count=2, last_status_code=410)
    return endpoint, delivery


@pytest.fixture
def two_practices(make_practice):
    mine, _, _ = make_practice("mine")
    theirs, _, _ = make_practice("theirs", patient_name=("Theo", "Theirs"), phone="+15557770002")
    return mine, theirs


def test_staff_see_their_practices_deliveries_and_attempts_not_anothers(two_practices, staff_client):
    mine, theirs = two_practices
    _, my_delivery = delivery_with_attempts(mine, url="https://mine.example.com/hooks")
    _, their_delivery = delivery_with_attempts(theirs, url="https://theirs.example.com/hooks")
    client, _ = staff_client(mine, role=StaffMembership.Role.VIEWER)

    listing = client.get(reverse("admin:tenants_webhookdelivery_changelist"))
    assert listing.status_code == 200
    assert "mine.example.com" in listing.text and "theirs.example.com" not in listing.text
    filtered = client.get(reverse("admin:tenants_webhookdelivery_changelist"), {"status__exact": "delivered"})
    assert "mine.example.com" not in filtered.text

    page = client.get(reverse("admin:tenants_webhookdelivery_change", args=[my_delivery.pk]))
    assert page.status_code == 200
    assert "Answered HTTP 503." in page.text and "Answered HTTP 410." in page.text
    assert str(my_delivery.event_id) in page.text
    assert client.get(reverse("admin:tenants_webhookdelivery_change", args=[their_delivery.pk])).status_code == 404
    assert client.get(reverse("admin:tenants_webhookendpoint_changelist")).text.count("theirs.example.com") == 0


def test_the_front_desk_sends_a_failed_delivery_again(two_practices, staff_client, webhook_receiver,
                                                      django_capture_on_commit_callbacks):
    mine, theirs = two_practices
    endpoint, delivery = delivery_with_attempts(mine)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=webhook_receiver.url)
    _, their_delivery = delivery_with_attempts(theirs)
    client, _ = staff_client(mine)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:tenants_webhookdelivery_changelist"), {
            "action": "retry_now", "_selected_action": [delivery.pk, their_delivery.pk]})
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("delivered", 3)
    assert WebhookDelivery.objects.get(pk=their_delivery.pk).status == "failed"
    assert len(webhook_receiver.requests) == 1


def test_an_owner_adds_an_endpoint_and_sees_its_secret_once(demo, staff_client):
    client, user = staff_client(demo, role=StaffMembership.Role.OWNER, username="owner")
    response = client.post(reverse("admin:tenants_webhookendpoint_add"), {
        "tenant": demo.pk, "description": "Practice software", "url": "https://pms.example.com/hooks",
        "event_types": ["appointment.booked", "appointment.cancelled"],
    }, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["appointment.booked", "appointment.cancelled"] and endpoint.is_active
    secret = re.search(r"The signing secret for \S+ is (whsec_\S+) \.", response.text).group(1)
    assert secret == endpoint.secret
    page = client.get(reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and secret not in page.text
    assert AuditEvent.objects.filter(actor_user=user, action="create", object_type="tenants.WebhookEndpoint").exists()

    response = client.post(reverse("admin:tenants_webhookendpoint_changelist"), {
        "action": "revoke", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert AuditEvent.objects.filter(actor_user=user, action="revoke", object_type="tenants.WebhookEndpoint").exists()


def test_the_front_desk_cannot_add_or_change_endpoints(demo, staff_client):
    endpoint, _ = webhook_endpoint_create(tenant=demo, url="https://pms.example.com/hooks",
                                          event_types=list(webhooks.EVENT_TYPES), actor=SYSTEM)
    client, _ = staff_client(demo)
    assert client.get(reverse("admin:tenants_webhookendpoint_add")).status_code == 403
    response = client.post(reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk]), {
        "description": "mine now", "url": "https://evil.example.com/", "event_types": ["call.completed"]})
    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.url == "https://pms.example.com/hooks"
