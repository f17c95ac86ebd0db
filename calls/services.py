"""Recording calls as they happen: the call, each turn, each tool call, messages, the end."""

import json

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from calls.models import Call, Message, OutboundMessage, ToolCall, Turn
from tenants.models import Tenant
from tenants.services import Actor, audit_record


class CallAlreadyEnded(Exception):
    pass


def call_start(
    *,
    tenant: Tenant,
    channel: str,
    caller_number: str = "",
    dialled_number: str = "",
    call_sid: str = "",
    engine: str = "",
) -> Call:
    return Call.objects.create(
        tenant=tenant,
        channel=channel,
        caller_number=caller_number,
        dialled_number=dialled_number,
        call_sid=call_sid,
        engine=engine,
    )


def _next_index(model, call: Call) -> int:
    return (model.objects.filter(call=call).aggregate(m=Max("index"))["m"] or 0) + 1


def turn_record(*, call: Call, speaker: str, text: str, latency: dict | None = None) -> Turn:
    """Save one completed utterance; a crash later loses nothing said before it."""
    with transaction.atomic():
        return Turn.objects.create(
            call=call, index=_next_index(Turn, call), speaker=speaker, text=text, latency=latency or {}
        )


def tool_call_record(*, call: Call, name: str, arguments: dict, result: dict, ok: bool, duration_ms: int) -> ToolCall:
    with transaction.atomic():
        return ToolCall.objects.create(
            call=call,
            index=_next_index(ToolCall, call),
            name=name,
            arguments=json.dumps(arguments, default=str),
            result=json.dumps(result, default=str),
            ok=ok,
            duration_ms=duration_ms,
        )


def call_save_state(*, call: Call, state: dict, patient_id: int | None = None) -> None:
    call.state = json.dumps(state, default=str)
    fields = ["state"]
    if patient_id is not None and call.patient_id != patient_id:
        call.patient_id = patient_id
        fields.append("patient")
    call.save(update_fields=fields)


def call_end(
    *,
    call: Call,
    outcome: str,
    summary: str = "",
    transferred_to: str = "",
    status: str = Call.Status.COMPLETED,
    fell_back_to_rules: bool | None = None,
) -> Call:
    """Finalise a call once; ending it again (a retried webhook, a late hang-up) changes nothing."""
    with transaction.atomic():
        current = Call.objects.select_for_update().get(pk=call.pk)
        if current.ended_at is not None:
            return current
        current.ended_at = timezone.now()
        current.status = status
        current.outcome = outcome
        current.summary = summary
        current.transferred_to = transferred_to
        if fell_back_to_rules is not None:
            current.fell_back_to_rules = fell_back_to_rules
        current.save()
    return current


def message_create(
    *,
    tenant: Tenant,
    about: str,
    caller_name: str = "",
    callback_number: str = "",
    for_whom: str = "",
    call: Call | None = None,
    actor: Actor,
) -> Message:
    about = about.strip()
    if not about:
        raise ValueError("A message needs some text.")
    with transaction.atomic():
        message = Message.objects.create(
            tenant=tenant,
            call=call,
            caller_name=caller_name.strip(),
            callback_number=callback_number.strip(),
            about=about,
            for_whom=for_whom.strip(),
        )
        audit_record(actor=actor, action="create", object_type="calls.Message", object_id=message.pk, tenant=tenant)
    return message


def message_mark_handled(*, message: Message, actor: Actor) -> Message:
    with transaction.atomic():
        message.status = Message.Status.HANDLED
        message.handled_at = timezone.now()
        message.save(update_fields=["status", "handled_at"])
        audit_record(actor=actor, action="handled", object_type="calls.Message", object_id=message.pk, tenant=message.tenant)
    return message


def call_from_incoming(*, tenant: Tenant, call_sid: str, caller_number: str, dialled_number: str, engine: str) -> Call:
    """The call for Twilio's incoming-call webhook; a retried webhook gets the same call back."""
    with transaction.atomic():
        existing = Call.objects.select_for_update().filter(call_sid=call_sid).first()
        if existing is not None:
            return existing
        return call_start(
            tenant=tenant, channel=Call.Channel.PHONE, caller_number=caller_number,
            dialled_number=dialled_number, call_sid=call_sid, engine=engine,
        )


TERMINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def call_status_update(*, call_sid: str, status: str, duration: int | None = None) -> Call | None:
    """Twilio's status callback; idempotent, and a call already finalised keeps its outcome."""
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(call_sid=call_sid).first()
        if call is None:
            return None
        call.twilio_status = status
        if duration is not None:
            call.duration_seconds = duration
        if status in TERMINAL_STATUSES and call.ended_at is None:
            call.ended_at = timezone.now()
            call.status = Call.Status.COMPLETED if status == "completed" else Call.Status.FAILED
            call.outcome = call.outcome or Call.Outcome.ABANDONED
        call.save()
        return call


def call_recording_update(*, call_sid: str, recording_sid: str, url: str, duration: int | None) -> Call | None:
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(call_sid=call_sid).first()
        if call is None:
            return None
        call.recording_sid, call.recording_url, call.recording_duration_seconds = recording_sid, url, duration
        call.save(update_fields=["recording_sid", "recording_url", "recording_duration_seconds"])
        return call


def sms_status_update(*, message_sid: str, status: str, error_code: str = "") -> OutboundMessage | None:
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().filter(message_sid=message_sid).first()
        if message is None:
            return None
        message.status, message.error_code = status, error_code
        message.save(update_fields=["status", "error_code", "updated_at"])
        return message
