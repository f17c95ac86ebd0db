"""Reading intents and slots from what callers say, across phrasings."""

import datetime as dt

import pytest

from voice.conversation.understanding import (
    Choice,
    find_birth_date,
    find_date,
    find_name,
    find_time,
    find_yes_no,
    provider_choices,
    understand,
)

TODAY = dt.date(2026, 11, 30)  # a Monday
TYPES = [
    Choice("cleaning", "Cleaning", ["hygiene", "teeth cleaning", "checkup and cleaning"]),
    Choice("exam", "Exam", ["checkup", "check-up", "examination"]),
    Choice("new_patient_exam", "New patient exam", ["first visit", "new patient visit"]),
    Choice("emergency", "Emergency visit", ["toothache", "tooth pain", "broken tooth", "urgent"]),
    Choice("filling", "Filling", ["cavity"]),
]
PROVIDERS = provider_choices([("patel", "Dr. Maya Patel", "dentist"), ("okafor", "Dr. James Okafor", "dentist"), ("chen", "Lisa Chen", "hygienist")])


def parse(text, expecting=None):
    return understand(text, today=TODAY, types=TYPES, providers=PROVIDERS, insurers=["Cigna", "Medicaid"], expecting=expecting)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Tuesday December 8th", "2026-12-08"),
        ("the 10th of December", "2026-12-10"),
        ("this Saturday", "2026-12-05"),
        ("tomorrow", "2026-12-01"),
        ("next Monday", "2026-12-07"),
        ("Christmas day", "2026-12-25"),
        ("on Thursday", "2026-12-03"),
        ("December 1st", "2026-12-01"),
        ("Dec 8", "2026-12-08"),
        ("12/8", "2026-12-08"),
        ("January 4th", "2027-01-04"),
        ("the 15th", "2026-12-15"),
        ("today", "2026-11-30"),
        ("New Year's Day", "2027-01-01"),
    ],
)
def test_dates(text, expected):
    assert find_date(text, TODAY).value.isoformat() == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("3", "15:00"),
        ("3 pm", "15:00"),
        ("10 in the morning", "10:00"),
        ("around 11", "11:00"),
        ("12:30", "12:30"),
        ("noon", "12:00"),
        ("at 2", "14:00"),
        ("9 am", "09:00"),
        ("at ten thirty", "10:30"),
        ("3:30 p.m.", "15:30"),
        ("8 o'clock", "08:00"),
    ],
)
def test_times(text, expected):
    assert find_time(text, expecting_time=True).time.strftime("%H:%M") == expected


def test_time_wishes_and_non_times():
    assert find_time("As early as possible, please.").earliest
    assert find_time("sometime in the afternoon").part_of_day == "afternoon"
    assert find_time("I need to cancel my cleaning on Thursday.") is None
    assert find_time("I have 2 kids") is None  # a bare number is only a time when a time was asked for


@pytest.mark.parametrize(
    "text,expected",
    [("March 3rd 1985", "1985-03-03"), ("June 5th 1990", "1990-06-05"), ("04/12/1980", "1980-04-12"),
     ("the 5th of June, 1990", "1990-06-05"), ("It's September 30th, 1975.", "1975-09-30")],
)
def test_birth_dates(text, expected):
    assert find_birth_date(text, TODAY).isoformat() == expected


def test_future_dates_are_not_birth_dates():
    assert find_birth_date("December 8th 2026", TODAY) is None


@pytest.mark.parametrize(
    "text,expecting,expected",
    [
        ("Hi, this is Maria Garcia. I need to cancel", False, ("Maria", "Garcia")),
        ("Emma Wilson", True, ("Emma", "Wilson")),
        ("my name is emma wilson", True, ("Emma", "Wilson")),
        ("Sure, it's John Smith.", True, ("John", "Smith")),
        ("I'm a new patient", False, None),
        ("I'd like a cleaning", True, None),
    ],
)
def test_names(text, expecting, expected):
    assert find_name(text, expecting_name=expecting) == expected


@pytest.mark.parametrize(
    "text,expected",
    [("Yes, please.", True), ("Yeah that works", True), ("No, that's all. Thank you, bye.", False),
     ("Nope", False), ("Sorry, I'm not sure.", None), ("blue", None), ("Sure", True)],
)
def test_yes_no(text, expected):
    assert find_yes_no(text) is expected


@pytest.mark.parametrize(
    "text,intent",
    [
        ("I'd like to schedule a teeth cleaning", "book"),
        ("I need to cancel my cleaning on Thursday.", "cancel"),
        ("Can I move my appointment to another day?", "reschedule"),
        ("What time are you open until on Friday?", "hours"),
        ("Where are you located?", "location"),
        ("Do you accept Cigna insurance?", "insurance"),
        ("Can I speak to a real person please?", "human"),
        ("I'd like to leave a message for Dr. Patel", "message"),
        ("When is my next appointment?", "my_appointments"),
        ("No thanks, bye", "goodbye"),
    ],
)
def test_intents(text, intent):
    assert intent in parse(text).intents


def test_someone_seeing_me_is_not_asking_for_a_person():
    u = parse("I cracked my tooth and it really hurts. Can someone see me today?")
    assert "human" not in u.intents and u.emergency and not u.airway
    assert u.date == TODAY


def test_airway_emergency():
    u = parse("My face is really swollen and it's getting hard to breathe.")
    assert u.emergency and u.airway


def test_everything_in_one_sentence():
    u = parse("Could I see Dr. Okafor for a checkup on Thursday at 11?")
    assert (u.type_key, u.provider_key, u.date, u.time.time) == ("exam", "okafor", dt.date(2026, 12, 3), dt.time(11))
    u = parse("Hi, I'd like to schedule a teeth cleaning for Tuesday December 1st at 10 in the morning.")
    assert (u.type_key, u.date, u.time.time) == ("cleaning", dt.date(2026, 12, 1), dt.time(10))


def test_synonyms_longest_first():
    assert parse("a checkup and cleaning").type_key == "cleaning"
    assert parse("a checkup").type_key == "exam"
    assert parse("I think I have a cavity").type_key == "filling"
    assert parse("it's my first visit").type_key == "new_patient_exam"
    assert parse("with Lisa please").provider_key == "chen"
