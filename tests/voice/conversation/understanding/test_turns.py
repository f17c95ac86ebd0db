"""Whether the words heard so far answer the question: what decides how long the phone waits for more."""

import datetime as dt

import pytest

from voice.conversation.understanding.turns import SoFar, heard_so_far

TODAY = dt.date(2026, 11, 30)


@pytest.mark.parametrize(("text", "expecting"), [
    ("yes", "yes_no"),
    ("Yes, please.", "yes_no"),
    ("no thank you", "yes_no"),
    ("that's right", "yes_no"),
    ("july the fourth nineteen eighty", "dob"),
    ("four twelve eighty", "dob"),
    ("March 3rd, 1988.", "dob"),
    ("nine a m", "date_time"),
    ("10 AM.", "date_time"),
    ("nine thirty a m works", "date_time"),
    ("the first one", "date_time"),
    ("that works", "date_time"),
])
def test_a_whole_answer_to_the_question_asked(text, expecting):
    assert heard_so_far(text, expecting=expecting, today=TODAY) is SoFar.ANSWERED


@pytest.mark.parametrize(("text", "expecting"), [
    ("on tuesday um", "free"),
    ("I'd like to book a cleaning with", "free"),
    ("yes and", "yes_no"),
    ("Yes,", "yes_no"),  # a recogniser's comma: more is coming
    ("my date of birth is", "dob"),
    ("can I come in on", "date_time"),
    ("ten a m or maybe", "date_time"),
])
def test_words_that_stop_mid_sentence(text, expecting):
    assert heard_so_far(text, expecting=expecting, today=TODAY) is SoFar.UNFINISHED


@pytest.mark.parametrize(("text", "expecting"), [
    ("", "yes_no"),
    ("yes and could I also ask about my insurance", "yes_no"),  # more than an answer: the usual wait
    ("april twelfth nineteen", "dob"),  # the year is still being said
    ("april twelfth", "dob"),
    ("half past", "date_time"),
    ("nine", "date_time"),  # "nine ... thirty"
    ("maria garcia", "name"),  # a name has no shape that says it is finished
    ("I'd like to book a cleaning", "free"),
    ("yes", "free"),  # nothing was asked
])
def test_words_that_answer_nothing_yet_get_the_usual_wait(text, expecting):
    assert heard_so_far(text, expecting=expecting, today=TODAY) is SoFar.OPEN
