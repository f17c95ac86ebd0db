"""The embedded default: a text is recorded (and shown in the admin) but not sent anywhere."""

import logging

from bookings.sms.base import Sent, SmsBackend
from tenants.masking import mask_phone

logger = logging.getLogger(__name__)


class ConsoleBackend(SmsBackend):
    def send(self, *, to: str, sender: str, body: str, status_callback: str) -> Sent:
        # The words stay in the database (encrypted); the log says only that a text was made.
        logger.info("text to %s recorded, not sent (no SMS provider configured)", mask_phone(to))
        return Sent(sid="", status="recorded")
