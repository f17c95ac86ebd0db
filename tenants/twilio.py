"""Twilio plumbing every app shares: the REST client and the check on Twilio's webhooks.

Twilio cannot be reached from development machines; TWILIO_API_BASE_URL points
the official SDK at another host (the tests' fake) through its http_client.
Outside development every webhook must carry a valid X-Twilio-Signature,
checked against PUBLIC_BASE_URL plus the exact path and query Twilio called
(not the URL rebuilt behind a proxy).
"""

import functools
import logging

from django.conf import settings
from django.http import HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

logger = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"


class MissingSid(ValueError):
    """A Twilio callback without the SID that says which call or message it is about."""


def sid_required(sid: str, name: str) -> str:
    # A blank SID would match every row whose SID is blank (calls placed over `talk`, texts never sent).
    if not sid or not sid.strip():
        raise MissingSid(f"{name} is missing.")
    return sid.strip()


def twilio_api_url(url: str) -> str:
    """Where to reach one of Twilio's REST URLs: at TWILIO_API_BASE_URL instead, when that is set."""
    base = getattr(settings, "TWILIO_API_BASE_URL", "")
    if base and url.startswith(TWILIO_API):
        return base.rstrip("/") + url[len(TWILIO_API):]
    return url


class _RedirectingHttpClient(TwilioHttpClient):
    def __init__(self):
        super().__init__(timeout=5)

    def request(self, method, url, *args, **kwargs):
        return super().request(method, twilio_api_url(url), *args, **kwargs)


def twilio_client() -> Client:
    redirected = bool(getattr(settings, "TWILIO_API_BASE_URL", ""))
    http_client = _RedirectingHttpClient() if redirected else TwilioHttpClient(timeout=5)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)


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
