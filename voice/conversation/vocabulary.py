"""Example sentences a practice's callers say, built from its own data, for speech recognition."""

import hashlib
import itertools
from dataclasses import dataclass, field

from tenants.spoken import MONTH_NAMES, WEEKDAY_NAMES


@dataclass(frozen=True)
class Vocabulary:
    """What a practice's callers say, for providers that can be told. Plain data: no models.

    `corpora` maps an expectation ("free", "yes_no", "date_time", "dob", "name")
    to example sentences; "free" covers everything.
    """

    corpora: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cache_key: str = ""


# Recognisers write words in lower case.
WEEKDAYS = [name.lower() for name in WEEKDAY_NAMES]
MONTHS = [name.lower() for name in MONTH_NAMES]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
            "eighteenth", "nineteenth", "twentieth", "twenty first", "twenty second", "twenty third",
            "twenty fourth", "twenty fifth", "twenty sixth", "twenty seventh", "twenty eighth", "twenty ninth",
            "thirtieth", "thirty first"]
HOURS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
UNITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
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
    for weekday in WEEKDAYS:
        out += [weekday, f"on {weekday}", f"this {weekday}", f"next {weekday}",
                *(f"{weekday} {m} {o}" for m, o in itertools.islice(itertools.product(MONTHS, ORDINALS), 0, 372, 7))]
    return out + ["today", "tomorrow", "next week", "christmas day", "christmas eve", "new year's day"]


def _times() -> list[str]:
    out = ["noon", "as early as possible", "first thing in the morning", "in the afternoon", "in the morning"]
    for hour in HOURS:
        out += [f"{hour}", f"at {hour}", f"{hour} a m", f"{hour} p m", f"{hour} o'clock", f"{hour} thirty",
                f"at {hour} thirty", f"{hour} in the morning", f"{hour} in the afternoon", f"around {hour}",
                f"{hour} p m works for me", f"how about {hour}"]
    return out


def _birth_dates() -> list[str]:
    years = [f"nineteen {t} {u}" for t, u in itertools.product(TENS[2:], UNITS)] + [f"nineteen {t}" for t in TENS[2:]]
    years += [f"two thousand {u}" for u in UNITS] + ["two thousand", "two thousand ten"]
    return [f"{m} {o} {y}" for m, o, y in zip(itertools.cycle(MONTHS), itertools.cycle(ORDINALS), years * 4)]


def vocabulary_for(*, practice: str, types: list[tuple[str, list[str]]], providers: list[str],
                   insurers: list[str], patient_names: list[str] = ()) -> Vocabulary:
    """Sentences per expectation, from the practice's appointment types, providers and insurers."""
    kinds = [w.lower() for name, synonyms in types for w in [name, *synonyms]]
    people = [p.lower().replace("dr. ", "doctor ") for p in providers]
    people += [f"doctor {p.split()[-1].lower()}" for p in providers]
    names = [f"{f} {l}" for f, l in zip(itertools.cycle(FIRST_NAMES), LAST_NAMES * 2)] + [n.lower() for n in patient_names]
    yes_no = ["yes", "yes please", "yeah", "sure", "that works", "sounds good", "correct", "no", "no thanks",
              "no that's all", "no that's all thank you bye", "that's all thank you", "yes that's right", "okay",
              "the first one", "the second one", "the last one"]
    dates, times = _dates(), _times()
    date_time = dates + times + [f"{d} at {t}" for d, t in zip(dates[::5], itertools.cycle(times))]
    requests = []
    for kind in kinds:
        requests += [f"i'd like to book a {kind}", f"i'd like to schedule a {kind}", f"i need a {kind}",
                     f"can i get a {kind}", f"i need to cancel my {kind}", f"i need to reschedule my {kind}",
                     f"can i move my {kind}", f"a {kind} please"]
        requests += [f"i'd like a {kind} on {d} at {t}" for d, t in zip(dates[::40], times[::7])]
    requests += [f"can i see {p}" for p in people]
    requests += [f"do you accept {i.lower()}" for i in insurers] + [f"do you take {i.lower()} insurance" for i in insurers]
    requests += [
        "what time are you open until on friday", "what are your hours", "what are your hours today",
        "where are you located", "is there parking", "can i speak to a real person please", "i'd like to talk to someone",
        "i'd like to leave a message", "i cracked my tooth and it really hurts", "can someone see me today",
        "i have a toothache", "my face is swollen", "when is my next appointment", "hi this is", "my name is",
        f"thank you for calling {practice.lower()}",
    ] + [f"this is {n}" for n in names[:60]]
    corpora = {
        "yes_no": tuple(yes_no),
        "date_time": tuple(date_time + yes_no),
        "dob": tuple(_birth_dates()),
        "name": tuple(names + [f"my name is {n}" for n in names[:50]]),
    }
    corpora["free"] = tuple(requests + yes_no + date_time + list(corpora["dob"][:80]) + names)
    digest = hashlib.sha256(repr(sorted(corpora.items())).encode()).hexdigest()[:16]
    return Vocabulary(corpora=corpora, cache_key=digest)
