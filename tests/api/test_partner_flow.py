"""Done means: a partner with a key books, moves and cancels through the API and receives the signed webhooks."""

import json

import pytest

from bookings.models import Patient
from tenants import webhooks
from tenants.crypto import phone_blind_index
from tenants.services import Actor, webhook_endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_partner_books_moves_and_cancels_by_api_and_gets_each_change_signed(demo, issue_key, webhook_receiver,
                                                                               celery_worker):
    _endpoint, secret = webhook_endpoint_create(tenant=demo, url=webhook_receiver.url,
                                                event_types=list(webhooks.EVENT_TYPES), actor=Actor.system("test"),
                                                description="Booking site")
    partner = issue_key(demo)
    maria = Patient.objects.get(tenant=demo, phone_index=phone_blind_index("+15551110001"))
    booked = partner.post("/api/v1/appointments", {"patient_id": maria.pk, "appointment_type": "cleaning",
                                                   "start": "2026-12-14T09:00:00-05:00", "provider": "chen"},
                          format="json", HTTP_IDEMPOTENCY_KEY="book-1").json()
    partner.post(f"/api/v1/appointments/{booked['id']}/reschedule", {"start": "2026-12-14T10:00:00-05:00"},
                 format="json")
    partner.post(f"/api/v1/appointments/{booked['id']}/cancel", {}, format="json")

    received = webhook_receiver.wait_for(3)
    assert all(webhooks.signature_verify(r.body, r.headers["receptionist-signature"], secret) for r in received)
    events = [json.loads(r.body) for r in received]
    assert sorted(e["type"] for e in events) == ["appointment.booked", "appointment.cancelled",
                                                 "appointment.rescheduled"]
    assert {e["data"]["appointment_id"] for e in events} == {booked["id"]}
    assert not any("Maria" in r.body.decode() or "5551110001" in r.body.decode() for r in received)
