"""Partners hear of bookings, moves, cancellations, ended calls and messages: signed, without PHI, retried."""

import datetime as dt
import json

import pytest
from celery.exceptions import Retry
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from bookings.models import AppointmentType, Patient, Provider
from bookings.services import appointment_book, appointment_cancel, appointment_reschedule
from calls.models import Call
from calls.services import call_end, call_start, message_create
from tenants import webhooks
from tenants.crypto import phone_blind_index
from tenants.models import AuditEvent, StaffMembership, WebhookDelivery, WebhookEndpoint
from tenants.services import (
    Actor,
    RoleRequired,
    event_publish,
    webhook_deliveries_requeue_stalled,
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_revoke,
)
from tenants.tasks import webhook_deliver

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
NOW = dt.datetime.fromisoformat("2026-11-27T10:00-05:00")
APPOINTMENT_EVENTS = ["appointment.booked", "appointment.rescheduled", "appointment.cancelled"]


def endpoint_for(tenant, url, event_types=webhooks.EVENT_TYPES) -> tuple[WebhookEndpoint, str]:
    return webhook_endpoint_create(tenant=tenant, url=url, event_types=event_types, actor=SYSTEM, description="PMS")


def maria(demo) -> Patient:
    return Patient.objects.get(tenant=demo, phone_index=phone_blind_index("+15551110001"))


def book(demo, start="2026-12-07T14:00:00-05:00"):
    return appointment_book(
        tenant=demo, patient=maria(demo), start=dt.datetime.fromisoformat(start), actor=SYSTEM, now=NOW,
        appointment_type=AppointmentType.objects.get(tenant=demo, key="cleaning"),
        provider=Provider.objects.get(tenant=demo, key="chen"),
    )


def book_move_cancel(demo):
    appointment = book(demo)
    appointment_reschedule(appointment=appointment, new_start=dt.datetime.fromisoformat("2026-12-08T09:00:00-05:00"),
                           actor=SYSTEM, now=NOW)
    appointment_cancel(appointment=appointment, actor=SYSTEM, now=NOW)
    return appointment


def test_a_partner_receives_signed_webhooks_for_booked_moved_and_cancelled_without_phi(
    demo, webhook_receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = endpoint_for(demo, webhook_receiver.url)
    patient = maria(demo)
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book_move_cancel(demo)

    received = webhook_receiver.wait_for(3)
    assert len(received) == 3
    bodies = [json.loads(request.body) for request in received]
    assert [body["type"] for body in bodies] == APPOINTMENT_EVENTS
    for request, body in zip(received, bodies):
        assert webhooks.signature_verify(request.body, request.headers["receptionist-signature"], secret)
        assert request.headers["receptionist-event"] == body["type"]
        assert request.headers["receptionist-event-id"] == body["id"]
        assert request.headers["content-type"] == "application/json"
        assert body["practice"] == "demo"
        assert body["data"]["appointment_id"] == appointment.pk
        text = request.body.decode()
        for phi in [patient.first_name, patient.last_name, "5551110001", "555-111-0001", "(555) 111-0001",
                    patient.date_of_birth.isoformat()]:
            assert phi not in text
    booked, moved, cancelled = (body["data"] for body in bodies)
    assert set(booked) == {"appointment_id", "provider_id", "appointment_type_id", "start", "end", "status", "source"}
    assert booked["start"] == "2026-12-07T19:00:00Z" and moved["start"] == "2026-12-08T14:00:00Z"
    assert (booked["status"], moved["status"], cancelled["status"]) == ("booked", "booked", "cancelled")
    assert len({body["id"] for body in bodies}) == 3

    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert {(d.status, d.attempt_count, d.last_status_code) for d in deliveries} == {("delivered", 1, 200)}
    assert all(d.delivered_at and d.next_attempt_at is None for d in deliveries)


def test_a_server_error_is_retried_with_backoff_then_delivered_with_both_attempts_recorded(
    demo, webhook_receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint_for(demo, webhook_receiver.url)
    webhook_receiver.answer(500)
    with django_capture_on_commit_callbacks() as queued:
        book(demo)
    delivery = WebhookDelivery.objects.get()

    with pytest.raises(Retry) as retry:
        webhook_deliver.apply(args=[delivery.pk])  # what the commit queued
    assert retry.value.when == webhooks.retry_delay(1) == 30
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("pending", 1, 500)
    assert 25 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 30
    webhook_deliver.apply(args=[delivery.pk], retries=1)  # the retry, 30 s on

    first, second = webhook_receiver.wait_for(2)
    assert first.body == second.body  # the same bytes, signed again
    assert webhooks.signature_verify(second.body, second.headers["receptionist-signature"], secret)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("delivered", 2, 200)
    assert [(a.number, a.status_code) for a in delivery.attempts.all()] == [(1, 500), (2, 200)]
    assert delivery.attempts.first().error == "Answered HTTP 500."
    assert len(queued) == 2  # the text and the webhook


@pytest.mark.parametrize("status", [400, 410])
def test_a_refusal_fails_the_delivery_without_retrying(demo, webhook_receiver, django_capture_on_commit_callbacks,
                                                       status):
    endpoint_for(demo, webhook_receiver.url)
    webhook_receiver.answer(status)
    with django_capture_on_commit_callbacks(execute=True):
        book(demo)

    assert len(webhook_receiver.wait_for(1)) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("failed", 1, status)
    assert delivery.next_attempt_at is None and delivery.delivered_at is None


def test_an_unreachable_endpoint_is_tried_max_attempts_times_then_failed(demo, django_capture_on_commit_callbacks):
    endpoint_for(demo, "http://127.0.0.1:9/hooks")  # the discard port: nothing listens
    with django_capture_on_commit_callbacks():
        book(demo)
    delivery = WebhookDelivery.objects.get()

    waits = []
    for retries in range(webhooks.MAX_ATTEMPTS - 1):
        with pytest.raises(Retry) as retry:
            webhook_deliver.apply(args=[delivery.pk], retries=retries)
        waits.append(retry.value.when)
    webhook_deliver.apply(args=[delivery.pk], retries=webhooks.MAX_ATTEMPTS - 1)  # the last: no retry

    assert waits == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("failed", webhooks.MAX_ATTEMPTS)
    assert delivery.last_status_code is None and "Connect" in delivery.last_error
    assert delivery.attempts.count() == webhooks.MAX_ATTEMPTS


def test_a_failed_delivery_sent_again_gets_a_fresh_round(demo, webhook_receiver, django_capture_on_commit_callbacks):
    endpoint_for(demo, webhook_receiver.url)
    webhook_receiver.answer(410)
    with django_capture_on_commit_callbacks(execute=True):
        book(demo)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_delivery_retry(delivery=delivery, actor=SYSTEM)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("delivered", 2, 200)
    assert AuditEvent.objects.filter(action="retry", object_type="tenants.WebhookDelivery").count() == 1
    assert not webhook_delivery_retry(delivery=delivery, actor=SYSTEM)  # delivered: not sent again


def test_webhooks_go_only_to_the_practices_own_active_subscribed_endpoints(
    demo, make_practice, webhook_receiver, django_capture_on_commit_callbacks
):
    other, _, _ = make_practice("other")
    endpoint_for(other, webhook_receiver.url + "/other")
    revoked, _ = endpoint_for(demo, webhook_receiver.url + "/revoked")
    webhook_endpoint_revoke(endpoint=revoked, actor=SYSTEM)
    endpoint_for(demo, webhook_receiver.url + "/cancellations", event_types=["appointment.cancelled"])
    endpoint_for(demo, webhook_receiver.url + "/calls", event_types=["call.completed"])
    with django_capture_on_commit_callbacks(execute=True):
        book_move_cancel(demo)

    received = webhook_receiver.wait_for(1)
    assert [(r.path, json.loads(r.body)["type"]) for r in received] == [
        ("/hooks/cancellations", "appointment.cancelled")]
    assert WebhookDelivery.objects.count() == 1


def test_pending_deliveries_of_a_revoked_endpoint_are_not_sent(demo, webhook_receiver,
                                                              django_capture_on_commit_callbacks):
    endpoint, _ = endpoint_for(demo, webhook_receiver.url)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        book(demo)
        webhook_endpoint_revoke(endpoint=endpoint, actor=SYSTEM)
    for callback in queued:
        callback()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count) == ("failed", 0)
    assert webhook_receiver.requests == []


def test_a_practice_without_endpoints_pays_one_query(demo, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert event_publish(tenant=demo, event_type="appointment.booked", data={"appointment_id": 1}) == []


def test_an_unknown_event_is_refused(demo):
    with pytest.raises(ValueError):
        event_publish(tenant=demo, event_type="patient.created", data={})


def test_an_ended_call_and_a_message_are_sent_as_ids(demo, webhook_receiver, django_capture_on_commit_callbacks):
    _, secret = endpoint_for(demo, webhook_receiver.url, event_types=["call.completed", "message.taken"])
    call = call_start(tenant=demo, channel=Call.Channel.PHONE, caller_number="+15559990001")
    with django_capture_on_commit_callbacks(execute=True):
        message = message_create(tenant=demo, call=call, about="Please call me about my crown", caller_name="Gus Fring",
                                 callback_number="+15559990001", for_whom="Dr. Chen", actor=SYSTEM)
        call_end(call=call, outcome=Call.Outcome.MESSAGE_TAKEN, summary="Gus wants a call back")
        call_end(call=call, outcome=Call.Outcome.MESSAGE_TAKEN)  # a late hang-up: no second event

    taken, completed = webhook_receiver.wait_for(2)
    for request in (taken, completed):
        assert webhooks.signature_verify(request.body, request.headers["receptionist-signature"], secret)
        for phi in ["Gus", "Fring", "5559990001", "crown", "call back"]:
            assert phi not in request.body.decode()
    assert json.loads(taken.body)["data"] == {"message_id": message.pk, "call_id": call.pk}
    data = json.loads(completed.body)["data"]
    assert data["call_id"] == call.pk and data["outcome"] == "message_taken" and data["status"] == "completed"
    assert data["duration_seconds"] >= 0 and data["ended_at"] and data["started_at"]
    assert len(webhook_receiver.requests) == 2


def test_the_sweep_queues_a_delivery_whose_task_was_lost(demo, webhook_receiver, django_capture_on_commit_callbacks):
    endpoint_for(demo, webhook_receiver.url)
    with django_capture_on_commit_callbacks(execute=False):
        book(demo)  # committed, but its task never reaches a worker
    assert webhook_deliveries_requeue_stalled() == 0  # not overdue yet

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_deliveries_requeue_stalled(now=timezone.now() + dt.timedelta(minutes=11)) == 1
    assert WebhookDelivery.objects.get().status == "delivered"
    assert len(webhook_receiver.wait_for(1)) == 1


def test_the_secret_is_returned_once_stored_encrypted_and_creation_audited(demo):
    endpoint, secret = endpoint_for(demo, "https://partner.example.com/hooks")
    assert secret.startswith("whsec_") and WebhookEndpoint.objects.get().secret == secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM tenants_webhookendpoint WHERE id = %s", [endpoint.pk])
        assert secret not in cursor.fetchone()[0]
    assert AuditEvent.objects.filter(action="create", object_type="tenants.WebhookEndpoint",
                                     object_id=str(endpoint.pk), tenant=demo).exists()


def test_only_an_owner_adds_endpoints(demo, django_user_model):
    desk = django_user_model.objects.create_user(username="desk", password="pw-for-tests-1", is_staff=True)
    StaffMembership.objects.create(tenant=demo, user=desk, role=StaffMembership.Role.FRONT_DESK)
    with pytest.raises(RoleRequired):
        webhook_endpoint_create(tenant=demo, url="https://partner.example.com/", event_types=["call.completed"],
                                actor=Actor(type=AuditEvent.ActorType.USER, user=desk, label="desk"))


@pytest.mark.parametrize("url, ok", [
    ("https://partner.example.com/hooks", True),
    ("http://partner.example.com/hooks", False),
    ("https://127.0.0.1/hooks", False),
    ("https://10.1.2.3/hooks", False),
    ("https://localhost/hooks", False),
    ("ftp://partner.example.com/hooks", False),
])
def test_in_production_endpoints_are_https_to_public_hosts(demo, settings, url, ok):
    settings.PRODUCTION = True
    if ok:
        endpoint_for(demo, url)
    else:
        with pytest.raises(ValidationError):
            endpoint_for(demo, url)


@pytest.mark.parametrize("event_types", [[], ["appointment.booked", "appointment.booked"], ["patient.created"]])
def test_event_types_are_known_and_listed_once(demo, event_types):
    with pytest.raises(ValidationError):
        endpoint_for(demo, "https://partner.example.com/hooks", event_types=event_types)
