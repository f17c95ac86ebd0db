"""Numbers as a recogniser writes them, turned into the digits Duckling reads.

Duckling reads "april twelfth" but not "nineteen eighty" (two numbers) or "five five five ..." (one number a
word), so a spoken year or digit run is written in digits first.
"""

import datetime as dt
import re

from tenants.spoken import MONTH_NAMES, WEEKDAY_NAMES

UNITS = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}
ORDINAL_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                 "eighth": 8, "ninth": 9}


def _any(words) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_DIGIT = _any(UNITS.keys() - {"zero", "oh"})
_PAIR = rf"(?:{_any(TENS)})(?:[\s-]+(?:{_DIGIT}))?|{_any(TEENS)}"
# Two passes, the twentieth century first: in "october twenty nineteen forty seven" the year is 1947, not 2019.
# Nobody alive was born in the 1800s, so "eighteen" is never a century ("april eighteen nineteen fifty seven").
_YEAR = re.compile(rf"\b(nineteen|two thousand)(?:\s+hundred)?(?:\s+and)?(?:\s+(oh\s+(?:{_DIGIT})|{_PAIR}|{_DIGIT}))?\b",
                   re.I)
_TWENTY_YEAR = re.compile(rf"\b(twenty)\s+({_any(TEENS)}|twenty(?:[\s-]+(?:{_DIGIT}))?)\b", re.I)
_COMPOUND_ORDINAL = re.compile(rf"\b(twenty|thirty)[\s-]+({_any(ORDINAL_UNITS)})\b", re.I)
_NUMBER = rf"(?:oh\s+)?(?:{_PAIR}|{_DIGIT})"  # a month or day said as a number: "four", "oh four", "twelve"
_NUMERIC_DATE = re.compile(rf"\b({_NUMBER})\s+({_NUMBER})\s+(\d{{4}})\b", re.I)
_MONTH = _any(m.lower() for m in MONTH_NAMES)
_CARDINAL_DAY = rf"thirty(?:[\s-]+one)?|twenty(?:[\s-]+(?:{_DIGIT}))?|{_any(TEENS)}|{_DIGIT}"
# "july the four", "october twenty": a day said as a number after its month, which Duckling does not read.
_MONTH_CARDINAL = re.compile(rf"\b({_MONTH})(\s+the)?\s+({_CARDINAL_DAY})\b(?![\s-]+(?:{_any(ORDINAL_UNITS)})\b)", re.I)
# "monday the seven": a recogniser's cardinal for the day of the month after a weekday (said "the seventh").
_WEEKDAY_CARDINAL = re.compile(
    rf"\b({_any(d.lower() for d in WEEKDAY_NAMES)})(\s+the)\s+({_CARDINAL_DAY})\b(?![\s-]+(?:{_any(ORDINAL_UNITS)})\b)", re.I)
# A date of birth ending in a two-digit year: "august eighth eighty eight", "four twelve eighty", "march third oh five".
_SHORT_YEAR = re.compile(rf"^(.*?\b(?:(?:{_MONTH})\s+\S+|{_NUMBER}\s+{_NUMBER}))\s+(oh\s+(?:{_DIGIT})|{_PAIR})\W*$",
                         re.I)
_RUN_TOKEN = rf"(?:{_PAIR}|{_any(UNITS)})"
_RUN = re.compile(rf"\b{_RUN_TOKEN}(?:[\s,-]+{_RUN_TOKEN})+\b", re.I)


def _value(words: str) -> int:
    """"fifty five" -> 55, "twelve" -> 12, "oh five" -> 5."""
    return sum(UNITS.get(w) or TEENS.get(w) or TENS.get(w, 0) for w in re.findall(r"[a-z]+", words.lower()))


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _year(match: re.Match) -> str:
    century, rest = match.group(1).lower(), match.group(2)
    if century in ("two thousand", "twenty"):
        return str(2000 + (_value(rest) if rest else 0))
    if not rest:
        return match.group(0)  # "nineteen" alone is a number, not a year
    return str(1900 + _value(rest))


def _month_cardinal(match: re.Match) -> str:
    """"july the four" -> "july the 4th", "monday the seven" -> "monday the 7th"."""
    n = _value(match.group(3))
    return f"{match.group(1)}{match.group(2) or ''} {n}{_suffix(n)}" if 1 <= n <= 31 else match.group(0)


def _compound_ordinal(match: re.Match) -> str:
    """"twenty first" -> "21st"."""
    n = TENS[match.group(1).lower()] + ORDINAL_UNITS[match.group(2).lower()]
    return f"{n}{_suffix(n)}"


def _short_year(match: re.Match, born_by: dt.date) -> str:
    if re.search(r"\d{4}", match.group(1)):
        return match.group(0)
    year = 2000 + _value(match.group(2))
    return f"{match.group(1)} {year if year <= born_by.year else year - 100}"


def _numeric_date(match: re.Match) -> str:
    """"twelve four 1980" -> "12/4/1980": read month first, as US callers (and the EN_US locale) do."""
    month, day = _value(match.group(1)), _value(match.group(2))
    if 1 <= month <= 12 and 1 <= day <= 31:
        return f"{month}/{day}/{match.group(3)}"
    return match.group(0)


def _digit_run(match: re.Match) -> str:
    """Spoken digits: "five five five one" -> "5551"; pairs ("five fifty five ...") only in phone-length runs."""
    tokens = re.findall(_RUN_TOKEN, match.group(0), re.I)
    digits = "".join(f"{_value(t):0{1 if t.lower() in UNITS else 2}d}" for t in tokens)
    only_digits = all(t.lower() in UNITS for t in tokens)
    # Pairs appear in times ("ten thirty", "two fifteen"); only a phone number is seven digits or more.
    if (only_digits and len(tokens) >= 3) or len(digits) >= 7:
        return digits
    return match.group(0)


def normalize_spoken(text: str, *, born_by: dt.date | None = None) -> str:
    """Words a recogniser writes, as digits the parsers read.

    "april twelfth nineteen eighty" -> "april twelfth 1980", "twenty first" -> "21st",
    "nineteen hundred and ninety" -> "1990", "two thousand five" -> "2005", "twenty twelve" -> "2012",
    "twelve four nineteen eighty" -> "12/4/1980", "five five five one one one" -> "555111",
    "five fifty five four four four zero zero one two" -> "5554440012".

    `born_by`: a date of birth is expected, so it is no later than this day. Then a day said as a number
    ("july the four") is a day of the month, and a two-digit year at the end is in the last hundred years:
    "august eighth eighty eight" -> "august 8th 1988", "four twelve eighty" -> "4/12/1980".
    """
    text = _TWENTY_YEAR.sub(_year, _YEAR.sub(_year, text))
    text = _WEEKDAY_CARDINAL.sub(_month_cardinal, text)
    if born_by is not None:
        text = _SHORT_YEAR.sub(lambda m: _short_year(m, born_by), text)
        text = _MONTH_CARDINAL.sub(_month_cardinal, text)
    text = _COMPOUND_ORDINAL.sub(_compound_ordinal, text)
    text = _NUMERIC_DATE.sub(_numeric_date, text)
    return _RUN.sub(_digit_run, text)
