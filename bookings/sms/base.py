"""Sending a text: one small interface, a backend per way of sending, chosen by dotted path in SMS_BACKEND.

Backends know numbers and words, never patients or appointments.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    pass


class SmsUnavailable(SmsError):
    """The provider could not be reached or asked us to come back later: nothing was sent, try again."""


class SmsOutcomeUnknown(SmsError):
    """The request went out but no answer came back: it may have been sent, so it is never sent again."""


class SmsRefused(SmsError):
    """The provider refused this text for good (a bad number, a landline): retrying changes nothing."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


class SmsRecipientOptedOut(SmsRefused):
    """The number texted STOP to the sending number."""


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str  # one of bookings.models.TextMessage.Status


class SmsBackend:
    def send(self, *, to: str, sender: str, body: str, status_callback: str) -> Sent:
        raise NotImplementedError


def sms_backend(path: str | None = None) -> SmsBackend:
    return import_string(path or settings.SMS_BACKEND)()
