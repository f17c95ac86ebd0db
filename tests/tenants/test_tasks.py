"""Webhooks through a real Celery worker, against the test Redis."""

import datetime as dt
import json

import pytest

from bookings.models import AppointmentType, Patient, Provider
from bookings.services import appointment_book
from tenants import webhooks
from tenants.models import WebhookDelivery
from tenants.services import Actor, webhook_endpoint_create
from tenants.tasks import webhook_deliveries_sweep

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.system("test")


def test_the_worker_posts_the_signed_booking_to_the_partner(demo, webhook_receiver, celery_worker):
    endpoint, secret = webhook_endpoint_create(tenant=demo, url=webhook_receiver.url,
                                               event_types=["appointment.booked"], actor=SYSTEM)
    appointment = appointment_book(
        tenant=demo, patient=Patient.objects.filter(tenant=demo).first(), actor=SYSTEM,
        start=dt.datetime.fromisoformat("2026-12-07T14:00:00-05:00"),
        appointment_type=AppointmentType.objects.get(tenant=demo, key="cleaning"),
        provider=Provider.objects.get(tenant=demo, key="chen"), now=dt.datetime.fromisoformat("2026-11-27T10:00-05:00"),
    )

    [request] = webhook_receiver.wait_for(1)
    assert webhooks.signature_verify(request.body, request.headers["receptionist-signature"], secret)
    body = json.loads(request.body)
    assert (body["type"], body["data"]["appointment_id"]) == ("appointment.booked", appointment.pk)

    webhook_deliveries_sweep.apply_async(ignore_result=False).get(timeout=10)  # nothing stalled: nothing sent again
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempt_count, str(delivery.event_id)) == ("delivered", 1, body["id"])
    assert len(webhook_receiver.requests) == 1
