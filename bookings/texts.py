"""What texts to patients say and when reminders go out: pure functions, no database.

Texts carry the minimum a patient needs to recognise their visit (first name, day, date,
time, who with, the practice and its number) and never the procedure: a lock screen shows
them to anyone nearby.
"""

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass

from tenants.spoken import say_when

# Nobody is texted between these local times; a reminder due then goes out the evening before.
QUIET_FROM = dt.time(21, 0)
QUIET_UNTIL = dt.time(8, 0)
EVENING_SEND = dt.time(20, 0)
# A reminder found this long after its time (the worker was down) is no longer worth sending.
REMINDER_STALE_AFTER = dt.timedelta(hours=6)

# Twilio's own keywords: it answers and blocks on these itself, and forwards them to us.
# "CANCEL" is among them, which is why no text ever says "reply CANCEL".
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}
CONFIRM_WORDS = {"C", "CONFIRM", "CONFIRMED"}
RESCHEDULE_WORDS = {"R", "RESCHEDULE"}


class Reply(enum.Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"
    OTHER = "other"


def reply_read(body: str) -> Reply:
    """What a patient's text asks for. Keywords count only as the whole message, as Twilio reads them."""
    word = body.strip().strip(".!").upper()
    for words, reply in ((OPT_OUT_WORDS, Reply.OPT_OUT), (OPT_IN_WORDS, Reply.OPT_IN), (HELP_WORDS, Reply.HELP),
                         (CONFIRM_WORDS, Reply.CONFIRM), (RESCHEDULE_WORDS, Reply.RESCHEDULE)):
        if word in words:
            return reply
    return Reply.OTHER


@dataclass(frozen=True)
class Visit:
    """What a text may say about an appointment."""

    first_name: str
    start: dt.datetime  # aware
    provider: str
    practice: str
    practice_phone: str  # as people write it
    timezone: zoneinfo.ZoneInfo


def _when(visit: Visit) -> str:
    return say_when(visit.start.astimezone(visit.timezone))


def _call_us(visit: Visit) -> str:
    return f"call us at {visit.practice_phone}" if visit.practice_phone else "call us"


def booked_text(visit: Visit) -> str:
    return (f"Hi {visit.first_name}, you're booked with {visit.provider} at {visit.practice} on {_when(visit)}. "
            f"To change it, {_call_us(visit)}. Reply STOP to opt out of texts.")


def moved_text(visit: Visit) -> str:
    return (f"Hi {visit.first_name}, your visit with {visit.provider} at {visit.practice} is now on {_when(visit)}. "
            f"Questions? {_call_us(visit).capitalize()}. Reply STOP to opt out of texts.")


def cancelled_text(visit: Visit) -> str:
    return (f"Hi {visit.first_name}, your visit with {visit.provider} at {visit.practice} on {_when(visit)} "
            f"is cancelled. To book again, {_call_us(visit)}. Reply STOP to opt out of texts.")


def reminder_text(visit: Visit) -> str:
    return (f"Reminder: Hi {visit.first_name}, you're seeing {visit.provider} at {visit.practice} on {_when(visit)}. "
            f"Reply C to confirm, or R to reschedule. Reply STOP to opt out of texts.")


def confirmed_reply(visit: Visit) -> str:
    return f"Thank you, {visit.first_name}: your visit on {_when(visit)} is confirmed. See you then!"


def _at(practice_phone: str) -> str:
    return f" at {practice_phone}" if practice_phone else ""


def reschedule_reply(*, practice: str, practice_phone: str) -> str:
    number = _at(practice_phone)
    return f"To reschedule, please call {practice}{number}. Our receptionist answers day and night."


def help_reply(*, practice: str, practice_phone: str) -> str:
    number = f" Call us at {practice_phone}." if practice_phone else ""
    return f"{practice}: appointment texts.{number} Reply STOP to opt out, START to opt back in."


def kept_for_staff_reply(*, practice: str, practice_phone: str) -> str:
    number = _at(practice_phone)
    return f"Thanks, {practice} has your message. For anything urgent, please call us{number}."


def nothing_to_confirm_reply(*, practice: str, practice_phone: str) -> str:
    number = _at(practice_phone)
    return f"We couldn't find an upcoming visit to confirm. Please call {practice}{number}."


def _quiet(moment: dt.datetime, timezone: zoneinfo.ZoneInfo) -> bool:
    clock = moment.astimezone(timezone).time()
    return not QUIET_UNTIL <= clock < QUIET_FROM


def reminder_send_at(*, start: dt.datetime, hours_before: int, timezone: zoneinfo.ZoneInfo) -> dt.datetime:
    """When a reminder `hours_before` an appointment goes out: then, or at 8 PM the evening before if that is at night."""
    nominal = (start - dt.timedelta(hours=hours_before)).astimezone(timezone)
    if not _quiet(nominal, timezone):
        return nominal
    evening = nominal.date() if nominal.time() >= QUIET_FROM else nominal.date() - dt.timedelta(days=1)
    return dt.datetime.combine(evening, EVENING_SEND, tzinfo=timezone)


def reminder_due(
    *, send_at: dt.datetime, start: dt.datetime, booked_at: dt.datetime, now: dt.datetime, timezone: zoneinfo.ZoneInfo
) -> bool:
    """Whether to send a reminder now: its time has come, the visit is still ahead, and it says something new.

    A visit booked after its reminder's time already had its confirmation; a reminder
    found hours late (the workers were down) would only confuse; and nobody is texted at night.
    """
    return (send_at <= now < start and booked_at <= send_at and now - send_at <= REMINDER_STALE_AFTER
            and not _quiet(now, timezone))
