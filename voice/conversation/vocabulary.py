"""Example sentences a practice's callers say, built from its own data, for speech recognition.

One corpus for each kind of answer the conversation can expect, so a recogniser
that is told what was asked hears only such answers: names only when a name was
asked for (in every other answer they came back for ordinary words: "the
filling" heard as "the helen"), dates of birth only when one was asked for.
The short answers (yes, no, a digit) are in every corpus: a caller may give one
whatever was asked.
"""

import hashlib
import itertools
import random
from dataclasses import dataclass, field

from tenants.spoken import MONTH_NAMES, WEEKDAY_NAMES


@dataclass(frozen=True)
class Vocabulary:
    """What a practice's callers say, for providers that can be told. Plain data: no models.

    `corpora` maps an expectation ("free", "yes_no", "date_time", "dob", "name")
    to example sentences; "free" is what callers open with and say when no
    narrower answer is expected.
    """

    corpora: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The practice's own words, for recognisers that take a list of terms to listen for (Deepgram's keyterms).
    keyterms: tuple[str, ...] = ()
    cache_key: str = ""


# Recognisers write words in lower case.
WEEKDAYS = [name.lower() for name in WEEKDAY_NAMES]
MONTHS = [name.lower() for name in MONTH_NAMES]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
            "eighteenth", "nineteenth", "twentieth", "twenty first", "twenty second", "twenty third",
            "twenty fourth", "twenty fifth", "twenty sixth", "twenty seventh", "twenty eighth", "twenty ninth",
            "thirtieth", "thirty first"]
UNITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
HOURS = UNITS + TEENS[:3]
CARDINAL_DAYS = UNITS + TEENS + ["twenty"] + [f"twenty {u}" for u in UNITS] + ["thirty", "thirty one"]
DIGITS = ["zero", *UNITS]
SHORT_ANSWERS = ["yes", "no", *DIGITS]
# What callers put before a date of birth.
LEAD_INS = ["it's", "it is", "my date of birth is", "my birthday is", "i was born on"]
# Common US first and last names, so new callers' names are in the vocabulary.
FIRST_NAMES = """james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan
joseph jessica thomas sarah charles karen christopher lisa daniel nancy matthew betty anthony sandra mark margaret
donald ashley steven kimberly paul emily andrew donna joshua michelle kenneth carol kevin amanda brian melissa george
deborah timothy stephanie ronald rebecca edward sharon jason laura jeffrey cynthia ryan amy jacob kathleen gary angela
nicholas shirley eric anna jonathan brenda stephen pamela larry emma justin nicole scott helen brandon samantha
benjamin katherine samuel christine gregory debra alexander rachel frank carolyn patrick janet raymond maria jack
catherine dennis heather jerry diane tyler olivia aaron julie jose joyce adam victoria nathan ruth henry virginia
peter lauren zachary kelly douglas christina noah grace ethan aisha tom ann ben cara dan eve finn gina hal ivy""".split()
LAST_NAMES = """smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez
wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson
walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell
carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook
rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks
chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster jimenez
khan novak wei chen okafor davis holt ives fox ray cole hart""".split()


def _dates() -> list[str]:
    out = []
    for month, ordinal in itertools.product(MONTHS, ORDINALS):
        out.append(f"{month} {ordinal}")
        out.append(f"the {ordinal} of {month}")
    for ordinal in ORDINALS:
        out += [f"the {ordinal}", f"on the {ordinal}"]
    for weekday in WEEKDAYS:
        out += [weekday, f"on {weekday}", f"this {weekday}", f"next {weekday}",
                *(f"on {weekday} the {o}" for o in ORDINALS[WEEKDAYS.index(weekday)::7]),
                *(f"{weekday} {m} {o}" for m, o in itertools.islice(itertools.product(MONTHS, ORDINALS), 0, 372, 7))]
    return out + ["today", "tomorrow", "next week", "christmas day", "christmas eve", "new year's day"]


def _times() -> list[str]:
    out = ["noon", "as early as possible", "first thing in the morning", "in the afternoon", "in the morning"]
    for hour in HOURS:
        out += [f"{hour}", f"at {hour}", f"{hour} a m", f"{hour} p m", f"{hour} o'clock", f"{hour} thirty",
                f"at {hour} thirty", f"{hour} in the morning", f"{hour} in the afternoon", f"around {hour}",
                f"{hour} p m works for me", f"how about {hour}", f"half past {hour}", f"at around half past {hour}",
                f"quarter past {hour}", f"a quarter to {hour}", f"{hour} fifteen", f"{hour} forty five",
                f"after {hour}", f"sometime after {hour}", f"before {hour}", f"{hour} is fine",
                # a caller correcting themselves
                f"no wait make it {hour}", f"actually make it {hour}", f"sorry i meant {hour}"]
    return out


def _years() -> list[str]:
    """Years as they are said: "nineteen eighty", "nineteen eighty eight", "two thousand and five", "twenty twelve"."""
    pairs = [*TENS[1:], *(f"{t} {u}" for t, u in itertools.product(TENS[1:], UNITS))]
    return ([f"nineteen {p}" for p in pairs] + [f"two thousand {u}" for u in UNITS] + [f"two thousand and {u}" for u in UNITS]
            + ["two thousand"] + [f"twenty {t}" for t in TEENS] + [f"two thousand {t}" for t in TEENS])


def _birth_dates() -> list[str]:
    """A date of birth in each of the ways it is said, each year once: the month or the day first, the numbers alone."""
    out = []
    for i, year in enumerate(_years()):
        month, ordinal, day = MONTHS[i % 12], ORDINALS[i % 31], CARDINAL_DAYS[i % 31]
        forms = [f"{month} {ordinal} {year}", f"the {ordinal} of {month} {year}", f"{month} the {ordinal} {year}",
                 f"{month} {day} {year}", f"{CARDINAL_DAYS[i % 12]} {day} {year}"]
        out.append(forms[i % len(forms)])
    return out


def _phone_numbers() -> list[str]:
    """Ten digits said one at a time, as callers give a number (no phone state: they are in the free corpus)."""
    digits = random.Random(0)  # the same sentences every time: the models' files are cached by their content
    return [" ".join(digits.choice(DIGITS) for _ in range(10)) for _ in range(40)]


def _names() -> list[str]:
    """Every first name with every last name: no pairing likelier than another (with some pairs only as examples,
    "emma wilson" was heard as the example "emma watson")."""
    names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    return names + FIRST_NAMES + [f"{lead} {n}" for lead in ("my name is", "this is", "it's") for n in names[::29]]


# What callers say when they did not catch the question, or will not answer it: in the free model, so that a
# narrower one forced onto these words scores far below it and the answer is known not to be understood.
NON_ANSWERS = [
    "sorry could you say that again", "could you repeat that", "can you repeat that please", "what", "sorry what",
    "sorry what was that", "pardon", "i didn't catch that", "i don't know", "i'm not sure", "hold on a second",
    "one moment please", "let me check", "um let me think", "why do you need that", "hello", "are you there",
]
YES_NO = ["yes", "yes please", "yeah", "sure", "that works", "sounds good", "correct", "no", "no thanks",
          "no that's all", "no that's all thank you bye", "that's all thank you", "yes that's right", "okay",
          "the first one", "the second one", "the last one", "that's right", "that's wrong", "no that's not right"]


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _requests(practice: str, kinds: list[str], people: list[str], insurers: list[str], dates: list[str],
              times: list[str]) -> list[str]:
    """What callers open with: what they want, with the practice's own words, and their questions."""
    requests = []
    for kind in kinds:
        requests += [f"i'd like to book {_a(kind)}", f"i'd like to schedule {_a(kind)}", f"i need {_a(kind)}",
                     f"can i get {_a(kind)}", f"i need to cancel my {kind}", f"i need to reschedule my {kind}",
                     f"can i move my {kind}", f"{_a(kind)} please", f"the {kind}", f"my {kind} on the {ORDINALS[7]}",
                     f"when is my {kind}", f"do you have {_a(kind)}", f"my daughter needs {_a(kind)}",
                     f"my son needs {_a(kind)}", f"i won't make it to my {kind}", f"please cancel my {kind}",
                     f"could you move my {kind} on the {ORDINALS[7]} to the {ORDINALS[9]}",
                     f"could i come in for {_a(kind)}"]
        requests += [f"i'd like {_a(kind)} on {d} at {t}" for d, t in zip(dates[::40], times[::7])]
        requests += [f"do you have {_a(kind)} on {d} {t}" for d, t in zip(dates[17::40], times[3::7])]
        requests += [f"could i come in for {_a(kind)} at {t} on {d}" for d, t in zip(dates[29::40], times[9::11])]
    requests += [f"would you have something on {d} at {t}" for d, t in zip(dates[::30], times[5::5])]
    requests += [f"can i see {p}" for p in people]
    requests += [f"do you accept {i.lower()}" for i in insurers] + [f"do you take {i.lower()} insurance" for i in insurers]
    return requests + [
        "what time are you open until on friday", "what are your hours", "what are your hours today",
        "are you open on saturdays", "where are you located", "is there parking", "can i speak to a real person please",
        "i'd like to talk to someone", "can i talk to the front desk", "i'd like to leave a message",
        "i cracked my tooth and it really hurts", "can someone see me today", "i have a toothache",
        "my face is swollen", "when is my next appointment", "hi", "hi this is", "my name is", "good morning",
        "yes i'm a new patient", "no i'm an existing patient", "i've been there before", "my number is",
        "move my appointment on the eighth to the tenth", "same time is fine", "same time", "please cancel it",
        "my daughter needs her teeth cleaned", "my son needs his teeth cleaned", "for my daughter", "for my son",
        "i won't make it", "something in the afternoon", f"thank you for calling {practice.lower()}",
    ]


def vocabulary_for(*, practice: str, types: list[tuple[str, list[str]]], providers: list[str],
                   insurers: list[str]) -> Vocabulary:
    """Sentences per expectation, from the practice's appointment types, providers and insurers."""
    kinds = [w.lower() for name, synonyms in types for w in [name, *synonyms]]
    people = [p.lower().replace("dr. ", "doctor ") for p in providers]
    people += [f"doctor {p.split()[-1].lower()}" for p in providers]
    dates, times = _dates(), _times()
    date_time = dates + times + [f"{d} at {t}" for d, t in zip(dates[::5], itertools.cycle(times))]
    birth_dates = _birth_dates()
    corpora = {
        "yes_no": YES_NO,
        "date_time": date_time + YES_NO,
        "dob": birth_dates,
        "name": _names(),
        "free": (_requests(practice, kinds, people, insurers, dates, times) + NON_ANSWERS + YES_NO + date_time
                 + birth_dates[::2] + _phone_numbers()),
    }
    corpora = {name: tuple(sentences + SHORT_ANSWERS) for name, sentences in corpora.items()}
    digest = hashlib.sha256(repr(sorted(corpora.items())).encode()).hexdigest()[:16]
    keyterms = tuple(dict.fromkeys([practice, *(name for name, _ in types), *providers, *insurers]))
    return Vocabulary(corpora=corpora, keyterms=keyterms, cache_key=digest)
