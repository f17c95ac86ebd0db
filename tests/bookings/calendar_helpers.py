"""What a provider does in their own calendar app, written as the iCalendar it sends."""

import datetime as dt

from bookings.models import CalendarLink, Provider

CALDAV_USER, CALDAV_PASSWORD = "drpatel", "calendar-password-for-tests"


def link_calendar(provider: Provider, calendar, **fields) -> CalendarLink:
    return CalendarLink.objects.create(tenant_id=provider.tenant_id, provider=provider, url=str(calendar.url),
                                       username=CALDAV_USER, password=CALDAV_PASSWORD, **fields)


def external_event(calendar, uid: str, start: dt.datetime, end: dt.datetime, extra: str = "") -> None:
    stamp = "20261101T000000Z"
    calendar.add_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Provider's phone//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{stamp}\r\nDTSTART:{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{end.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}\r\nSUMMARY:Private\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def events_in(calendar) -> list:
    """The VEVENTs the calendar holds, as its owner would see them."""
    return [item.component for item in calendar.get_events()]
