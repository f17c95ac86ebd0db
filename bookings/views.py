"""Twilio's text webhooks (thin translators from form posts to services and back to TwiML), and the
providers' calendar feeds."""

import hashlib

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe
from twilio.twiml.messaging_response import MessagingResponse

from bookings.calendars import feed_ics, own_uid_suffix
from bookings.selectors import calendar_feed_by_token, calendar_feed_events
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


@require_safe
def calendar_feed(request, token: str):
    """A provider's appointments as iCalendar, for calendar apps that subscribe to a URL.

    The token is the only credential (calendar apps send no login): an unknown or revoked one is a plain 404.
    """
    feed = calendar_feed_by_token(token=token)
    if feed is None:
        raise Http404("No such calendar.")
    body = feed_ics(
        calendar_feed_events(provider=feed.provider, now=timezone.now()),
        name=f"{feed.provider.name}: appointments",
        feed_uid=f"feed-{feed.pk}{own_uid_suffix(feed.tenant.slug)}",
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    response["Cache-Control"] = "private, no-cache"
    return get_conditional_response(request, etag=response["ETag"], response=response)
