"""Texts through Twilio's Messages API, with the official SDK."""

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from bookings.sms.base import Sent, SmsBackend, SmsOutcomeUnknown, SmsRecipientOptedOut, SmsRefused, SmsUnavailable
from tenants.twilio import twilio_client

UNSUBSCRIBED_RECIPIENT = 21610
RATE_LIMITED = 20429


class TwilioBackend(SmsBackend):
    def send(self, *, to: str, sender: str, body: str, status_callback: str) -> Sent:
        try:
            message = twilio_client().messages.create(to=to, from_=sender, body=body, status_callback=status_callback)
        except TwilioRestException as error:
            if error.status == 429 or error.status >= 500 or error.code == RATE_LIMITED:
                raise SmsUnavailable(f"Twilio answered {error.status}") from error
            if error.code == UNSUBSCRIBED_RECIPIENT:
                raise SmsRecipientOptedOut(error.msg, code=str(error.code)) from error
            raise SmsRefused(error.msg, code=str(error.code or error.status)) from error
        except (requests.ConnectionError, requests.exceptions.ConnectTimeout) as error:
            # Nothing reached Twilio: safe to try again.
            raise SmsUnavailable(str(error)) from error
        except (requests.Timeout, TwilioException) as error:
            raise SmsOutcomeUnknown(str(error)) from error
        return Sent(sid=message.sid, status=message.status or "queued")
