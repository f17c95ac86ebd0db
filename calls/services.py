"""Recording calls as they happen: the call, each turn, each tool call, messages, the end."""

import datetime as dt
import json
import logging
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from calls.models import Call, Message, ToolCall, Turn
from calls.selectors import calls_recording_expired, calls_transcript_expired, filled
from calls.telephony import TOKEN_MAX_AGE_SECONDS, RecordingNotDeleted, recording_delete
from tenants.batches import pk_batches
from tenants.models import Tenant
from tenants.phones import InvalidPhoneNumber, normalize_phone
from tenants.services import WRITE_ROLES, Actor, actor_role_check, audit_record, event_publish
from tenants.twilio import sid_required

logger = logging.getLogger(__name__)


class CallNotFound(Exception):
    pass


class CallAlreadyEnded(Exception):
    pass


class StreamAlreadyAttached(Exception):
    """The call already has its media stream; Twilio never opens a second one."""


def call_start(
    *,
    tenant: Tenant,
    channel: str,
    caller_number: str = "",
    dialled_number: str = "",
    call_sid: str = "",
) -> Call:
    return Call.objects.create(
        tenant=tenant,
        channel=channel,
        caller_number=caller_number,
        dialled_number=dialled_number,
        call_sid=call_sid,
    )


def call_engine_record(*, call: Call, engine: str) -> Call:
    """Which conversation engine answers the call, by its short name ("rules", "claude") on every channel."""
    call.engine = engine
    call.save(update_fields=["engine"])
    return call


def _next_index(model, call: Call) -> int:
    return (model.objects.filter(call=call).aggregate(m=Max("index"))["m"] or 0) + 1


def turn_record(*, call: Call, speaker: str, text: str, latency: dict | None = None, unheard: str = "") -> Turn:
    """Save one completed utterance; a crash later loses nothing said before it.

    `unheard`: the rest of an agent's reply the caller never heard (they spoke over it, or hung up).
    """
    with transaction.atomic():
        return Turn.objects.create(
            call=call, index=_next_index(Turn, call), speaker=speaker, text=text, latency=latency or {}, unheard=unheard
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
    """Record the conversation's ending once; ending it again (a late hang-up) changes nothing.

    Twilio's status callback may have ended the call already, as abandoned, when the media
    stream's `stop` was still on its way: the conversation's own outcome and summary replace
    that guess, and the end time and status Twilio reported stay.
    """
    with transaction.atomic():
        current = Call.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=call.pk)
        if current.conversation_finished:
            return current
        if current.ended_at is None:
            current.ended_at = timezone.now()
            current.status = status
        current.conversation_finished = True
        current.outcome = outcome
        current.summary = summary
        current.transferred_to = transferred_to
        if fell_back_to_rules is not None:
            current.fell_back_to_rules = fell_back_to_rules
        current.save()
        event_publish(tenant=current.tenant, event_type="call.completed", data={
            "call_id": current.pk,
            "channel": current.channel,
            "status": current.status,
            "outcome": current.outcome,
            "started_at": current.started_at,
            "ended_at": current.ended_at,
            # Twilio's own count when its status callback came first; until then, ours.
            "duration_seconds": current.duration_seconds if current.duration_seconds is not None
            else round((current.ended_at - current.started_at).total_seconds()),
        })
    return current


def call_fallback_record(*, call_id: int, provider: str) -> None:
    """Note that the call moved to `provider`'s fallback; noting it again changes nothing."""
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        if provider not in call.fallbacks:
            call.fallbacks = [*call.fallbacks, provider]
            call.save(update_fields=["fallbacks"])


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
    message = Message(
        tenant=tenant,
        call=call,
        caller_name=caller_name.strip(),
        callback_number=callback_number.strip(),
        about=about,
        for_whom=for_whom.strip(),
    )
    try:
        message.full_clean()  # among others: the call is this practice's
    except ValidationError as error:
        raise ValueError(" ".join(error.messages)) from None
    with transaction.atomic():
        message.save()
        audit_record(actor=actor, action="create", object_type="calls.Message", object_id=message.pk, tenant=tenant)
        # Ids only: who called, their number, what they said and for whom are the caller's words, and stay here.
        event_publish(tenant=tenant, event_type="message.taken",
                      data={"message_id": message.pk, "call_id": message.call_id})
    return message


def message_mark_handled(*, message: Message, actor: Actor) -> Message:
    actor_role_check(actor=actor, tenant=message.tenant, roles=WRITE_ROLES, doing="mark messages as handled")
    with transaction.atomic():
        message.status = Message.Status.HANDLED
        message.handled_at = timezone.now()
        message.save(update_fields=["status", "handled_at"])
        audit_record(actor=actor, action="handled", object_type="calls.Message", object_id=message.pk, tenant=message.tenant)
    return message


def call_from_incoming(*, tenant: Tenant, call_sid: str, caller_number: str, dialled_number: str) -> Call:
    """The call for Twilio's incoming-call webhook; a retried webhook, even a simultaneous one, gets the same call."""
    call, _ = Call.objects.get_or_create(
        call_sid=sid_required(call_sid, "CallSid"),
        defaults={"tenant": tenant, "channel": Call.Channel.PHONE, "caller_number": caller_number,
                  "dialled_number": dialled_number},
    )
    return call


def call_stream_attach(*, call_id: int, call_sid: str, stream_sid: str) -> Call:
    """Bind the call's one media stream to it, atomically: of two streams for one call, one wins."""
    stream_sid = sid_required(stream_sid, "streamSid")
    with transaction.atomic():
        call = (
            Call.objects.select_for_update().select_related("tenant")
            .filter(pk=call_id, call_sid=sid_required(call_sid, "callSid"), tenant__is_active=True).first()
        )
        if call is None:
            raise CallNotFound(f"No live call {call_id} with that CallSid.")
        if call.ended_at is not None:
            raise CallAlreadyEnded(f"Call {call_id} has ended.")
        if call.stream_sid:
            raise StreamAlreadyAttached(f"Call {call_id} already has its media stream.")
        call.stream_sid = stream_sid
        call.save(update_fields=["stream_sid"])
    return call


TERMINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def call_status_update(*, call_sid: str, status: str, duration: int | None = None) -> Call | None:
    """Twilio's status callback; idempotent. It ends a call the conversation has not ended yet,
    as abandoned until the conversation says otherwise (see call_end)."""
    call_sid = sid_required(call_sid, "CallSid")
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
    call_sid = sid_required(call_sid, "CallSid")
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(call_sid=call_sid).first()
        if call is None:
            return None
        call.recording_sid, call.recording_url, call.recording_duration_seconds = recording_sid, url, duration
        call.save(update_fields=["recording_sid", "recording_url", "recording_duration_seconds"])
        return call


def _recordings_purge(*, tenant: Tenant, now: dt.datetime, ids: list[int]) -> tuple[int, int]:
    """Delete one batch's recordings at Twilio, then clear the references to what is gone; (cleared, failed).

    Twilio's copy goes first, so a reference is never cleared while Twilio still holds the audio:
    a call whose recording Twilio did not delete keeps its RecordingSid for the next run. The REST
    calls happen outside the transaction, so no row stays locked while Twilio answers.
    """
    gone: dict[int, str] = {}  # call id -> the RecordingSid whose audio Twilio no longer holds
    failed = 0
    batch = calls_recording_expired(tenant=tenant, now=now).filter(pk__in=ids).order_by("pk")
    for pk, recording_sid in batch.values_list("pk", "recording_sid"):
        # Without a RecordingSid Twilio holds no audio of the call (calls over `talk` never have one).
        if recording_sid:
            try:
                recording_delete(recording_sid=recording_sid)
            except RecordingNotDeleted as error:
                logger.warning("kept the recording of call %s for the next purge: %s", pk, error)
                failed += 1
                continue
        gone[pk] = recording_sid
    with transaction.atomic():
        # Lock and read again: only calls that still qualify, with the recording deleted above, are cleared.
        current = calls_recording_expired(tenant=tenant, now=now).select_for_update().filter(pk__in=gone)
        cleared = [pk for pk, recording_sid in current.values_list("pk", "recording_sid") if gone[pk] == recording_sid]
        return Call.objects.filter(pk__in=cleared).update(recording_sid="", recording_url=""), failed


def call_records_purge(*, tenant: Tenant, now: dt.datetime, batch_size: int = 500) -> dict[str, int]:
    """Delete what the practice's retention periods say has expired of its calls; counts by kind.

    Recordings (older than retention_call_audio_days): Twilio holds the audio, we its RecordingSid
    and URL. The audio is deleted at Twilio, then both references cleared (the duration stays, for
    statistics); a recording Twilio did not delete is counted in "recordings_failed" and kept for
    the next run, and the purge goes on.
    What was said (older than retention_transcript_days): the turns and tool calls are deleted,
    the summary and the saved conversation state cleared. The call row itself stays (when, how
    long, the outcome), for the practice's statistics. Each batch is its own transaction, so an
    interrupted purge keeps what it did and the next run goes on from there.
    The same selectors give `call_records_expired_counts`, so a dry run counts what this deletes.
    """
    counts = dict.fromkeys(("recordings", "turns", "tool_calls", "summaries", "states", "recordings_failed"), 0)
    for ids in pk_batches(calls_recording_expired(tenant=tenant, now=now), batch_size=batch_size):
        cleared, failed = _recordings_purge(tenant=tenant, now=now, ids=ids)
        counts["recordings"] += cleared
        counts["recordings_failed"] += failed
    for ids in pk_batches(calls_transcript_expired(tenant=tenant, now=now), batch_size=batch_size):
        with transaction.atomic():
            # Lock the batch's calls (no turn is added to a call while its transcript is purged), then
            # read again under the lock: only calls that still qualify are changed.
            list(Call.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
            ids = list(calls_transcript_expired(tenant=tenant, now=now).filter(pk__in=ids).values_list("pk", flat=True))
            counts["turns"] += Turn.objects.filter(call_id__in=ids).delete()[0]
            counts["tool_calls"] += ToolCall.objects.filter(call_id__in=ids).delete()[0]
            calls = Call.objects.filter(pk__in=ids)
            counts["summaries"] += calls.filter(filled("summary")).update(summary="")
            counts["states"] += calls.filter(filled("state")).update(state="")
    return counts


class BrowserCallRefused(Exception):
    """A test call from the browser was refused: a role that may not act for the practice, a bad caller ID."""


BROWSER_CALL_SID_PREFIX = "BR"  # never a Twilio SID (those start with CA), so no Twilio callback can match one


def browser_call_start(*, tenant: Tenant, actor: Actor, caller_number: str = "") -> Call:
    """A test call a staff member places from the browser to hear their receptionist.

    It is a real call to the practice's receptionist: it books real appointments, so only roles that may
    write for the practice may place one. `caller_number` is the caller ID it presents, to call as a patient.
    """
    actor_role_check(actor=actor, tenant=tenant, roles=WRITE_ROLES, doing="place test calls")
    if caller_number:
        try:
            caller_number = normalize_phone(caller_number)
        except InvalidPhoneNumber:
            raise BrowserCallRefused(f"{caller_number} is not a phone number the receptionist could see.") from None
    now = timezone.now()
    with transaction.atomic():
        # A test call whose page closed before its stream connected never will (its token has expired by
        # now); ended here, it does not stay "in progress" in the call list.
        Call.objects.filter(
            tenant=tenant, is_test=True, stream_sid="", ended_at__isnull=True,
            started_at__lt=now - dt.timedelta(seconds=TOKEN_MAX_AGE_SECONDS),
        ).update(ended_at=now, status=Call.Status.FAILED, outcome=Call.Outcome.ABANDONED)
        call = Call.objects.create(
            tenant=tenant, channel=Call.Channel.PHONE, is_test=True, caller_number=caller_number,
            call_sid=f"{BROWSER_CALL_SID_PREFIX}{uuid.uuid4().hex}",
        )
        audit_record(actor=actor, action="test_call", object_type="calls.Call", object_id=call.pk, tenant=tenant,
                     detail={"as_caller": bool(caller_number)})
    return call
