"""How the receptionist says times, dates and lists aloud."""

import datetime as dt


def say_time(local: dt.datetime | dt.time) -> str:
    """'9 AM', '3:30 PM', 'noon'."""
    if local.hour == 12 and local.minute == 0:
        return "noon"
    hour = local.hour % 12 or 12
    suffix = "AM" if local.hour < 12 else "PM"
    return f"{hour} {suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d} {suffix}"


def say_date(day: dt.date) -> str:
    """'Tuesday, December 8'."""
    return f"{day:%A, %B} {day.day}"


def say_when(local: dt.datetime) -> str:
    """'Tuesday, December 8 at 3 PM'."""
    return f"{say_date(local.date())} at {say_time(local)}"


def say_list(items: list[str], conjunction: str = "or") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return ", ".join(items[:-1]) + f", {conjunction} {items[-1]}"
