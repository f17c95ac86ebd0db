"""Masking PHI so it can appear in logs and admin lists without being disclosed."""

import re
from collections.abc import Iterator

from phonenumbers import Leniency, PhoneNumberMatcher

_INITIALS_RE = re.compile(r"(?:[A-Z]\.)+")
_EMAIL_RE = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")

# Dates. A log line cannot tell a birthday from any other date, and HIPAA Safe
# Harbor allows only the year of a date related to a person, so every date
# written with a year keeps only its year. Years outside 1800-2099 are left
# alone: "Mar 1234" or "0001-01-01" are not a person's dates.
_YEAR = r"((?:1[89]|20)\d\d)(?!\d)"
# Most log lines hold no year at all; one search spares them the four date patterns.
_YEAR_HINT_RE = re.compile(r"(?:1[89]|20)\d\d")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NUMBER = r"(?:0?[1-9]|1[0-2])"
# "2026-12-08", "2026/12/08", and the date part of "2026-12-08T15:00:00-05:00".
# Dots are not accepted here: "2024.8.30" is how calendar-versioned packages number releases.
_ISO_DATE_RE = re.compile(rf"(?<!\d){_YEAR}([-/]){_MONTH_NUMBER}\2{_DAY}(?!\d)")
# "04/12/1980", "12.04.1980", "4-12-1980": month or day first, both are masked.
# The lookarounds keep a dotted run such as "1.2.2019.5" (a version) out.
_NUMERIC_DATE_RE = re.compile(rf"(?<!\d)(?<!\d\.){_DAY}([-/.]){_DAY}\1{_YEAR}(?!\.?\d)")
_MONTH_NAME = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# The weekday goes too: with the year it narrows the date down (strftime's "%A, %B %d, %Y").
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_ORDINAL_DAY = rf"{_DAY}(?:st|nd|rd|th)?"
_SEPARATOR = r"(?:,?\s+|[-/])"
# "April 12th 1980", "Apr. 12, 1980", "Friday, November 27, 2026", "April 1980",
# "12 April 1980", "the 12th of April, 1980", "12-APR-1980", "30/Nov/2026".
_NAMED_DATE_RE = re.compile(
    rf"\b{_WEEKDAY}(?:{_MONTH_NAME}(?:{_SEPARATOR}{_ORDINAL_DAY})?"
    rf"|{_ORDINAL_DAY}(?:\s+of)?{_SEPARATOR}{_MONTH_NAME}){_SEPARATOR}{_YEAR}",
    re.IGNORECASE,
)
# repr() of a date or datetime, as in a logged dict: "datetime.date(1980, 4, 12)".
_DATE_REPR_RE = re.compile(rf"(\bdate(?:time)?\({_YEAR}), \d{{1,2}}, \d{{1,2}}(?!\d)")

# Phones. The matcher is slow next to a regex, and no phone number has fewer
# than seven digits; its candidates allow at most four punctuation characters
# between digit groups, so this finds every text it could match in.
_PHONE_HINT_RE = re.compile(r"\d(?:\D{0,4}\d){6}")
_IPV4_RE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_MASKED_PHONE_PREFIX = "XXX-XXX-"
# A number written "+1..." in a URL-encoded form or query string follows "%2B".
_URL_ENCODED_PLUS = "%2B"


def mask_phone(phone: str | None) -> str:
    """'+15551110001' -> 'XXX-XXX-0001'."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", str(phone))
    return _MASKED_PHONE_PREFIX + digits[-4:] if len(digits) >= 4 else "XXX"


def mask_email(email: str | None) -> str:
    """'jane@example.com' -> 'j****@example.com'."""
    if not email:
        return ""
    local, _, domain = str(email).partition("@")
    return f"{local[:1]}****@{domain}" if domain else "****"


def mask_name(*parts: str | None) -> str:
    """'Maria', 'Garcia' or 'Maria Garcia' -> 'M.G.'."""
    words = [w for part in parts if part for w in str(part).split()]
    if all(_INITIALS_RE.fullmatch(w) for w in words):
        return "".join(words)
    return "".join(w[0].upper() + "." for w in words)


def mask_dates(text: str) -> str:
    """Keep only the year of every date: '1980-04-12' -> '1980-**-**', 'April 12th 1980' -> '** 1980'."""
    if not _YEAR_HINT_RE.search(text):
        return text
    text = _ISO_DATE_RE.sub(r"\1\2**\2**", text)
    text = _NUMERIC_DATE_RE.sub(r"**\1**\1\2", text)
    text = _NAMED_DATE_RE.sub(r"** \1", text)
    return _DATE_REPR_RE.sub(r"\1, **, **", text)


def _is_part_of_something_else(text: str, start: int, end: int) -> bool:
    """Whether a possible phone number is really an IP address, a decimal, or digits inside an identifier."""
    if _IPV4_RE.fullmatch(text, start, end):
        return True
    # The last four digits of a number masked earlier, followed by more digits:
    # masking again must change nothing.
    if text.endswith(_MASKED_PHONE_PREFIX, 0, start):
        return True
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    # Digits glued to letters are part of a word or an id (a Twilio SID, a hash);
    # phonenumbers makes the same check itself at its stricter leniencies.
    if (before.isalnum() or before == "_") and text[start - 3 : start].upper() != _URL_ENCODED_PLUS:
        return True
    if after.isalnum() or after == "_":
        return True
    # "1764470864.25" (a time.time()) or "0.1234567890": a decimal.
    return (before == "." and text[start - 2 : start - 1].isdigit()) or (
        after == "." and text[end + 1 : end + 2].isdigit()
    )


def _phone_spans(text: str) -> Iterator[tuple[int, int, str]]:
    # POSSIBLE, not VALID: the fictional 555 numbers used in demos and tests are not valid numbers.
    for match in PhoneNumberMatcher(text, "US", leniency=Leniency.POSSIBLE):
        # Fewer than ten digits, bare or with dots only between them, are a count,
        # an id, a duration or a version ("2024.8.30") far more often than a phone
        # number written without its area code.
        dotless = match.raw_string.replace(".", "")
        if dotless.isdigit() and len(dotless) < 10:
            continue
        start = match.start
        # The matcher takes the "(" of "(+1 555 111 0001, ...)" into the number.
        if match.raw_string.startswith("(") and ")" not in match.raw_string:
            start += 1
        if not _is_part_of_something_else(text, start, match.end):
            yield start, match.end, str(match.number.national_number)


def mask_phones(text: str) -> str:
    """Mask every phone number, in any format phonenumbers recognises: '(555) 111-0001' -> 'XXX-XXX-0001'."""
    if not _PHONE_HINT_RE.search(text):
        return text
    pieces = []
    position = 0
    for start, end, number in _phone_spans(text):
        pieces += [text[position:start], mask_phone(number)]
        position = end
    return "".join(pieces) + text[position:]


def mask_text(text: str) -> str:
    """Mask every email address, date and phone number found in free text.

    Dates go before phones so that a date is never read as a phone number.
    Masking masked text changes nothing.
    """
    return mask_phones(mask_dates(_EMAIL_RE.sub(r"\1****@\2", text)))
