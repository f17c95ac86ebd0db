"""The date-of-birth answer as a JSGF grammar: what pocketsphinx may hear while a date of birth is asked for.

An n-gram model over example dates strings any words together ("april twelfth ninety nine third eighty"); a
grammar admits only whole dates: a month and a day ("april twelfth", "the twelfth of april", "april twelve")
and a year the ways people say one ("nineteen eighty", "nineteen hundred and eighty", "two thousand and five",
"twenty twelve", "eighty-eight", "oh five"), or the numbers alone ("four twelve eighty", "oh four twelve nineteen eighty"). The short answers
every search keeps (yes, no, a digit) are in it too.
"""

import re

from voice.conversation.vocabulary import CARDINAL_DAYS, LEAD_INS, MONTHS, ORDINALS, SHORT_ANSWERS, TEENS, TENS, UNITS


def _one_of(words: list[str]) -> str:
    return "(" + " | ".join(words) + ")"


def dob_jsgf() -> str:
    rules = {
        "month": _one_of(MONTHS),
        "unit": _one_of(UNITS),
        "teen": _one_of(TEENS),
        "tens": _one_of(TENS),
        "ordinal": _one_of(ORDINALS),
        "cardinal": _one_of(CARDINAL_DAYS),
        "day": "[the] (<ordinal> | <cardinal>)",
        "pair": "<tens> [<unit>] | <teen> | oh <unit>",  # 80, 88, 12, 05: the last two digits of a year
        # Born 1900 to 2029. The century said is far the likelier: a weak "nineteen" must not turn into "twenty oh".
        "recent": "<unit> | <teen> | twenty [<unit>]",
        "year": "/20/ nineteen [hundred [and]] <pair> | /5/ two thousand [and] [<recent>] | /2/ twenty (<teen> | twenty [<unit>])"
                " | /1/ (<tens> [<unit>] | oh <unit>)",
        "month_number": "[oh] <unit> | ten | eleven | twelve",
        "day_number": "[oh] <unit> | <teen> | twenty [<unit>] | thirty [one]",
        "date": "<month> <day> [[of] <year>] | <day> of <month> [<year>] | <month_number> <day_number> <year>",
        "lead_in": _one_of(LEAD_INS),
        "short": _one_of(SHORT_ANSWERS),
    }
    body = "".join(f"<{name}> = {rule};\n" for name, rule in rules.items())
    return f"#JSGF V1.0;\ngrammar dob;\npublic <answer> = [<lead_in>] <date> | <short>;\n{body}"


def jsgf_words(jsgf: str) -> set[str]:
    """The words a grammar can put in a transcript: all but its header, rule names and operators."""
    rules = jsgf.split(";", 2)[2]
    return set(re.findall(r"[a-z']+", re.sub(r"<[^>]*>|\bpublic\b", " ", rules)))
