"""Twilio's text webhooks: thin translators from form posts to services and back to TwiML."""

from django.http import HttpResponse
from twilio.twiml.messaging_response import MessagingResponse

from bookings.services import UnknownTextStatus, text_receive, text_status_update
from tenants.selectors import tenant_for_number
from tenants.twilio import twilio_webhook


@twilio_webhook
def sms_status(request):
    try:
        text_status_update(
            message_sid=request.POST.get("MessageSid", ""),
            status=request.POST.get("MessageStatus", ""),
            error_code=request.POST.get("ErrorCode", ""),
        )
    except UnknownTextStatus as error:
        return HttpResponse(str(error), status=400)
    return HttpResponse(status=204)


@twilio_webhook
def sms_incoming(request):
    response = MessagingResponse()
    tenant = tenant_for_number(number=request.POST.get("To", ""))
    if tenant is not None:
        reply = text_receive(
            tenant=tenant, message_sid=request.POST.get("MessageSid", ""), phone=request.POST.get("From", ""),
            body=request.POST.get("Body", ""),
        )
        if reply:
            response.message(reply)
    return HttpResponse(str(response), content_type="application/xml")
