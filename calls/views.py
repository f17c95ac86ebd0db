"""Twilio's webhooks: thin translators from form posts to services and back to TwiML.

Outside development every request must carry a valid X-Twilio-Signature,
checked against PUBLIC_BASE_URL plus the exact path and query Twilio called
(not the URL rebuilt behind a proxy). Twilio retries: every handler is idempotent.
"""

import functools
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from calls.services import (
    MissingSid,
    call_from_incoming,
    call_recording_update,
    call_status_update,
    sms_status_update,
)
from calls.telephony import stream_token_issue
from tenants.selectors import tenant_for_number

logger = logging.getLogger(__name__)


def public_url(request) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()


def signature_valid(request) -> bool:
    if settings.ENVIRONMENT == "development" and not settings.TWILIO_AUTH_TOKEN:
        return True  # a laptop with no Twilio account: nothing to check against
    if not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return validator.validate(public_url(request), request.POST.dict(), request.headers.get("X-Twilio-Signature", ""))


def twilio_webhook(view):
    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not signature_valid(request):
            logger.warning("refused a Twilio webhook with a bad or missing signature: %s", request.path)
            return HttpResponseForbidden("Invalid Twilio signature.")
        try:
            return view(request, *args, **kwargs)
        except MissingSid as error:
            logger.warning("refused a Twilio webhook without its SID: %s (%s)", request.path, error)
            return HttpResponseBadRequest(str(error))

    return wrapper


def twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@twilio_webhook
def incoming_call(request):
    to, caller, call_sid = request.POST.get("To", ""), request.POST.get("From", ""), request.POST.get("CallSid", "")
    tenant = tenant_for_number(number=to)
    response = VoiceResponse()
    if tenant is None:
        response.say("Sorry, this number is not in service. Goodbye.")
        response.hangup()
        return twiml(response)
    call = call_from_incoming(tenant=tenant, call_sid=call_sid, caller_number=caller, dialled_number=to)
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    if tenant.record_calls:
        if tenant.recording_consent:
            response.say(tenant.recording_consent)
        start = response.start()
        start.recording(recording_status_callback=f"{base}/api/webhooks/recording-status")
    host = urlsplit(base).netloc
    scheme = "ws" if urlsplit(base).scheme == "http" else "wss"
    connect = response.connect()
    stream = connect.stream(url=f"{scheme}://{host}/media-stream/{call.pk}/")
    # Issued as of the call's creation, so a retried webhook answers exactly the same TwiML.
    stream.parameter(name="token", value=stream_token_issue(call_id=call.pk, call_sid=call.call_sid, issued_at=call.started_at))
    stream.parameter(name="callSid", value=call_sid)
    return twiml(response)


@twilio_webhook
def call_status(request):
    call_status_update(
        call_sid=request.POST.get("CallSid", ""),
        status=request.POST.get("CallStatus", ""),
        duration=_int(request.POST.get("CallDuration")),
    )
    return HttpResponse(status=204)


@twilio_webhook
def recording_status(request):
    call_recording_update(
        call_sid=request.POST.get("CallSid", ""),
        recording_sid=request.POST.get("RecordingSid", ""),
        url=request.POST.get("RecordingUrl", ""),
        duration=_int(request.POST.get("RecordingDuration")),
    )
    return HttpResponse(status=204)


@twilio_webhook
def sms_status(request):
    sms_status_update(
        message_sid=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


def webhooks_health(request):
    return JsonResponse({"status": "ok", "signatures_checked": settings.ENVIRONMENT != "development" or bool(settings.TWILIO_AUTH_TOKEN)})
