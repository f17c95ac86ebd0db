"""Twilio's call webhooks: thin translators from form posts to services and back to TwiML.

Signatures are checked by `tenants.twilio.twilio_webhook`. Twilio retries: every handler is idempotent.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from twilio.twiml.voice_response import VoiceResponse

from calls.services import call_from_incoming, call_recording_update, call_status_update
from calls.telephony import stream_token_issue
from tenants.selectors import tenant_for_number
from tenants.twilio import twilio_webhook


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


def webhooks_health(request):
    return JsonResponse({"status": "ok", "signatures_checked": settings.ENVIRONMENT != "development" or bool(settings.TWILIO_AUTH_TOKEN)})
