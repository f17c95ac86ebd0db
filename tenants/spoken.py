"""How the receptionist says times, dates, hours and lists aloud: one phrasing for every layer.

Scheduling refusals, the practice's hours and the conversation all speak to
callers, so the words live here, below all of them.
"""

import calendar
import datetime as dt

# The one list of day and month names (Python's, in English: nothing here sets a locale).
WEEKDAY_NAMES = tuple(calendar.day_name)  # Monday first, as date.weekday() counts
MONTH_NAMES = tuple(calendar.month_name)[1:]


def say_time(local: dt.datetime | dt.time) -> str:
    """'9 AM', '3:30 PM', 'noon'."""
    if local.hour == 12 and local.minute == 0:
        return "noon"
    hour = local.hour % 12 or 12
    suffix = "AM" if local.hour < 12 else "PM"
    return f"{hour} {suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d} {suffix}"


def say_date(day: dt.date) -> str:
    """'Tuesday, December 8'."""
    return f"{WEEKDAY_NAMES[day.weekday()]}, {MONTH_NAMES[day.month - 1]} {day.day}"


def say_when(local: dt.datetime) -> str:
    """'Tuesday, December 8 at 3 PM' (give it a practice-local time)."""
    return f"{say_date(local.date())} at {say_time(local)}"


def say_article(word: str) -> str:
    """'a' or 'an' before a word, by its first letter (good enough for appointment names)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def say_list(items: list[str], conjunction: str = "or") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return ", ".join(items[:-1]) + f", {conjunction} {items[-1]}"


def say_intervals(intervals: list[tuple[dt.time, dt.time]]) -> str:
    """'8 AM to noon and 1 PM to 5 PM'."""
    return say_list([f"{say_time(opens)} to {say_time(closes)}" for opens, closes in intervals], "and")


def say_weekday_hours(weekday: int, intervals: list[tuple[dt.time, dt.time]]) -> str:
    """'On Fridays we're open 8 AM to 2 PM.' or 'We're closed on Saturdays.' (Monday = 0)."""
    name = WEEKDAY_NAMES[weekday]
    return f"On {name}s we're open {say_intervals(intervals)}." if intervals else f"We're closed on {name}s."


def say_day_hours(day: dt.date, intervals: list[tuple[dt.time, dt.time]], closed_for: str = "") -> str:
    """'On Tuesday, December 8 we're open 8 AM to 5 PM.', or why the practice is closed that day."""
    if closed_for:
        return f"We're closed on {say_date(day)} for {closed_for}."
    if not intervals:
        return say_weekday_hours(day.weekday(), intervals)
    return f"On {say_date(day)} we're open {say_intervals(intervals)}."


def say_week(week: dict[int, list[tuple[dt.time, dt.time]]]) -> str:
    """'Monday to Thursday 8 AM to 5 PM; Friday 8 AM to 2 PM; Saturday to Sunday closed' (days with equal hours grouped)."""
    groups: list[tuple[list[str], str]] = []
    for weekday, name in enumerate(WEEKDAY_NAMES):
        hours = say_intervals(week[weekday]) if week.get(weekday) else "closed"
        if groups and groups[-1][1] == hours:
            groups[-1][0].append(name)
        else:
            groups.append(([name], hours))
    return "; ".join(
        f"{days[0] if len(days) == 1 else f'{days[0]} to {days[-1]}'} {hours}" for days, hours in groups
    )
