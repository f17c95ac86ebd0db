import hashlib

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from bookings.calendars import feed_ics, own_uid_suffix
from bookings.selectors import calendar_feed_by_token, calendar_feed_events


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
