"""Providers' own calendars over CalDAV (Google, iCloud, Nextcloud, Fastmail), and the iCalendar we write.

What leaves the practice is the minimum a calendar needs: a time, "Appointment" and a UID made of the
appointment's id and the practice's slug; never the patient or the procedure, because a provider's
calendar (and a subscribed feed) ends up on phones and in other companies' clouds. No models here:
the services pass plain values in and store what comes back.
"""

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import caldav
import requests
from caldav.lib import error as caldav_error
from icalendar import Calendar, Event

PRODID = "-//AI Receptionist//Appointments//EN"
SUMMARY = "Appointment"
TIMEOUT_SECONDS = 10
UID_DOMAIN = "receptionist"
# Answers that mean "later may work": the server is down, overloaded or asking us to slow down.
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class CalendarError(Exception):
    """A calendar server did not do what was asked; `str()` is a sentence for the practice's staff."""


class CalendarUnavailable(CalendarError):
    """Unreachable, timed out or a server error: the same request may well succeed later."""


class CalendarRefused(CalendarError):
    """Wrong login, no such calendar, or a request the server will never accept: retrying will not help."""


@dataclass(frozen=True)
class CalendarAccess:
    url: str
    username: str
    password: str


@dataclass(frozen=True)
class AppointmentEvent:
    uid: str
    start: dt.datetime
    end: dt.datetime
    sequence: int
    stamp: dt.datetime


@dataclass(frozen=True)
class BusyEvent:
    """Busy time in a calendar; `uid` tells occurrences of a recurring event apart."""

    uid: str
    start: dt.datetime
    end: dt.datetime


def appointment_uid(*, appointment_id: int, tenant_slug: str) -> str:
    return f"appointment-{appointment_id}{own_uid_suffix(tenant_slug)}"


def own_uid_suffix(tenant_slug: str) -> str:
    """How the practice's own pushed events end: pulled back, they are its appointments, not busy time."""
    return f"@{tenant_slug}.{UID_DOMAIN}"


def feed_token_new() -> str:
    return secrets.token_urlsafe(32)


def feed_token_hash(token: str) -> str:
    # The token is 256 random bits: a plain hash cannot be reversed, and equal tokens give an indexed lookup.
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(moment: dt.datetime) -> dt.datetime:
    # UTC needs no VTIMEZONE, and every calendar app shows it in the reader's own zone.
    return moment.astimezone(dt.UTC)


def _vevent(event: AppointmentEvent) -> Event:
    return Event.new(
        uid=event.uid, start=_utc(event.start), end=_utc(event.end), summary=SUMMARY, sequence=event.sequence,
        stamp=_utc(event.stamp), status="CONFIRMED", transparency="OPAQUE",
    )


def event_ics(event: AppointmentEvent) -> str:
    calendar = Calendar.new(prodid=PRODID, uid=event.uid, subcomponents=[_vevent(event)])
    return calendar.to_ical().decode()


def feed_ics(events: Iterable[AppointmentEvent], *, name: str, feed_uid: str) -> bytes:
    """A subscribable calendar. The same appointments give the same bytes, so its ETag only changes with them."""
    calendar = Calendar.new(
        prodid=PRODID, name=name, uid=feed_uid, method="PUBLISH", refresh_interval=dt.timedelta(minutes=15),
        subcomponents=[_vevent(event) for event in events],
    )
    return calendar.to_ical()


def _as_instant(value: dt.date | dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """An all-day date is the practice's local midnight; a floating time is the practice's local time."""
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time.min, tzinfo=tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def busy_from_components(components: Iterable, *, tz: dt.tzinfo, skip_uid_suffix: str) -> list[BusyEvent]:
    """The busy time among expanded VEVENTs: not free (TRANSPARENT), not cancelled, not the practice's own."""
    busy = []
    for component in components:
        uid = str(component.get("uid", ""))
        if uid.endswith(skip_uid_suffix):
            continue
        if str(component.get("transp", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(component.get("status", "")).upper() == "CANCELLED":
            continue
        if "dtstart" not in component:
            continue
        raw_start = component.decoded("dtstart")
        if "dtend" in component:
            raw_end = component.decoded("dtend")
        elif "duration" in component:
            raw_end = raw_start + component.decoded("duration")
        else:  # RFC 5545: a date lasts the day, a date-time is an instant
            raw_end = raw_start if isinstance(raw_start, dt.datetime) else raw_start + dt.timedelta(days=1)
        start, end = _as_instant(raw_start, tz), _as_instant(raw_end, tz)
        if end <= start:
            continue
        if "recurrence-id" in component:
            uid = f"{uid}/{_utc(_as_instant(component.decoded('recurrence-id'), tz)):%Y%m%dT%H%M%SZ}"
        busy.append(BusyEvent(uid=uid[:255], start=start, end=end))
    return busy


@contextmanager
def _calendar(access: CalendarAccess) -> Iterator[caldav.Calendar]:
    """The calendar at `access.url`, with every failure turned into CalendarUnavailable or CalendarRefused."""
    try:
        # Basic up front: no 401 round trip on every request; the URL names the calendar, so no discovery.
        with caldav.DAVClient(url=access.url, username=access.username, password=access.password,
                              auth_type="basic", timeout=TIMEOUT_SECONDS, enable_rfc6764=False) as client:
            yield caldav.Calendar(client=client, url=access.url)
    except requests.Timeout:
        raise CalendarUnavailable("The calendar server did not answer in time.") from None
    except requests.ConnectionError:
        raise CalendarUnavailable("The calendar server could not be reached.") from None
    except caldav_error.AuthorizationError as failure:
        raise CalendarRefused(f"The calendar server refused the login (HTTP {failure.status}).") from None
    except caldav_error.NotFoundError:
        raise CalendarRefused("There is no calendar at that address.") from None
    except caldav_error.DAVError as failure:
        if failure.status in TRANSIENT_STATUSES or isinstance(failure, caldav_error.RateLimitError):
            raise CalendarUnavailable(f"The calendar server had an error (HTTP {failure.status}).") from None
        raise CalendarRefused(f"The calendar server refused the request (HTTP {failure.status}).") from None


def _event_url(calendar: caldav.Calendar, uid: str):
    # Where caldav puts an event it saves: one href per UID, which is what makes pushing idempotent.
    return calendar.url.join(quote(uid, safe="") + ".ics")


def event_put(access: CalendarAccess, event: AppointmentEvent) -> None:
    """Create the event, or overwrite the one with its UID."""
    with _calendar(access) as calendar:
        # Our own SEQUENCE: caldav would otherwise add one on every push, retries included.
        calendar.add_event(event_ics(event), increase_seqno=False)


def event_delete(access: CalendarAccess, uid: str) -> None:
    """Delete the event with this UID; one that is already gone counts as deleted."""
    with _calendar(access) as calendar:
        caldav.Event(client=calendar.client, url=_event_url(calendar, uid), parent=calendar).delete()


def busy_events(
    access: CalendarAccess, *, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo, skip_uid_suffix: str
) -> list[BusyEvent]:
    """Busy time overlapping [start, end), recurring events expanded, all-day events as the practice's days."""
    with _calendar(access) as calendar:
        found = calendar.search(start=start, end=end, event=True, expand=True)
        components = [item.component for item in found]
    return [
        event for event in busy_from_components(components, tz=tz, skip_uid_suffix=skip_uid_suffix)
        if event.start < end and event.end > start
    ]
