"""Whether what a caller has said so far answers the question, so the phone knows how long to wait for more.

A caller who has said "yes" to "shall I book it?" has finished; one who has
said "on Tuesday, um," has not, whatever the silence. Pure functions over the
words heard so far (a recogniser's partial transcript) and the kind of answer
the conversation expects ("yes_no", "date_time", "dob", "name", "free").
"""

import datetime as dt
import re
from enum import StrEnum

from voice.conversation.understanding.spoken import normalize_spoken
from voice.conversation.understanding.words import find_yes_no


class SoFar(StrEnum):
    ANSWERED = "answered"  # a whole answer to the question asked: a short silence ends the turn
    OPEN = "open"  # nothing to tell: the usual silence
    UNFINISHED = "unfinished"  # stopped in the middle of a sentence: wait longer


# Words nobody ends a sentence on: fillers, joining words, and words that need one after them.
_CARRY_ON = {
    "um", "umm", "uh", "er", "erm", "hmm", "and", "or", "but", "so", "because", "the", "a", "an", "my", "our",
    "to", "for", "on", "at", "in", "of", "with", "from", "about", "is", "it's", "was", "like", "maybe", "also",
    "then", "if", "your", "his", "her", "their", "some", "any", "next", "this", "that's", "i'm", "i'd", "i",
    "would", "could", "can", "before", "after", "around", "between",
}
# The start of a year still being said ("nineteen ... eighty"), or of a clock time ("half past ...").
_UNSAID_REST = {"nineteen", "twenty", "thousand", "hundred", "past", "quarter", "half"}
_YES_NO_WORDS = 4  # "yes", "no thank you", "yes that's right": more words are more than an answer
# A clock time said, anywhere: "ten a m", "nine thirty a m works".
_CLOCK = re.compile(r"\b(?:a\.?\s?m\.?|p\.?\s?m\.?|o'?\s?clock|noon|midday)\b", re.I)
_PICK = re.compile(r"\b(?:first|second|third|last|earlier|later|earliest|latest)(?:\s+one)?\W*$", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_MONTH_OR_DATE = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december|\d{1,2}/\d{1,2}/)",
    re.I)


def heard_so_far(text: str, *, expecting: str, today: dt.date) -> SoFar:
    words = re.findall(r"[\w']+", text.lower())
    if not words:
        return SoFar.OPEN
    if text.rstrip().endswith(",") or words[-1] in _CARRY_ON:
        return SoFar.UNFINISHED
    if words[-1] in _UNSAID_REST:
        return SoFar.OPEN
    if _answers(text, words, expecting=expecting, today=today):
        return SoFar.ANSWERED
    return SoFar.OPEN


def _answers(text: str, words: list[str], *, expecting: str, today: dt.date) -> bool:
    short_yes_no = len(words) <= _YES_NO_WORDS and find_yes_no(text) is not None
    if expecting == "yes_no":
        return short_yes_no
    if expecting == "date_time":  # a time offered, picked or accepted
        return bool(_CLOCK.search(text) or _PICK.search(text)) or short_yes_no
    if expecting == "dob":
        said = normalize_spoken(text, born_by=today)
        return bool(_YEAR.search(said) and _MONTH_OR_DATE.search(said))
    return False  # names, requests and questions have no shape to recognise as finished
