"""What a caller's words mean: intents and slots, relative to the practice's clock.

Pure functions over text (no ORM, no I/O), so every phrasing can be unit-tested.
Dates go through dateparser once a date-like phrase has been found; the
phrases themselves, times and intents are matched here.
"""

import datetime as dt
import re
from dataclasses import dataclass, field

import dateparser

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}
ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}
HOLIDAYS = {
    "christmas eve": (12, 24),
    "christmas day": (12, 25),
    "christmas": (12, 25),
    "new year's eve": (12, 31),
    "new years eve": (12, 31),
    "new year's day": (1, 1),
    "new years day": (1, 1),
}

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_ORD = r"(?:\d{1,2}(?:st|nd|rd|th)?|" + "|".join(sorted(ORDINAL_WORDS, key=len, reverse=True)) + r")"
_WEEKDAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?"

_DATE_PATTERNS = [
    # "Tuesday December 8th", "December 8th, 2026", "Dec 8"
    re.compile(rf"\b(?:{_WEEKDAY},?\s+)?(?:the\s+)?{_MONTH}\.?\s+(?:the\s+)?{_ORD}\b(?:,?\s+\d{{4}})?", re.I),
    # "the 10th of December", "8 December 2026"
    re.compile(rf"\b(?:{_WEEKDAY},?\s+)?(?:the\s+)?{_ORD}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+\d{{4}})?", re.I),
    # 12/8, 12/8/2026, 2026-12-08
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"),
]
_RELATIVE = re.compile(
    rf"\b(?:(?P<today>today|tonight|this (?:morning|afternoon|evening)|this week)|(?P<dat>the day after tomorrow)|(?P<tomorrow>tomorrow)"
    rf"|(?P<nextweek>next week)"
    rf"|(?:(?P<which>this|next|coming|this coming)\s+)?(?P<weekday>{_WEEKDAY})\b(?:\s+(?:the\s+)?(?P<dom>{_ORD})\b)?"
    rf"|(?:on\s+)?the\s+(?P<lone>{_ORD})\b(?!\s+(?:of\s+)?{_MONTH}))",
    re.I,
)


def _weekday_index(word: str) -> int:
    word = word.lower()
    return next(i for i, name in enumerate(WEEKDAYS) if name.startswith(word[:3]))


def _ordinal(text: str) -> int:
    text = text.lower()
    if text in ORDINAL_WORDS:
        return ORDINAL_WORDS[text]
    return int(re.match(r"\d+", text).group())


_UNITS = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_ORDINAL_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                  "eighth": 8, "ninth": 9}


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def normalize_spoken(text: str) -> str:
    """Words a recogniser writes, as digits the parsers read.

    "april twelfth nineteen eighty" -> "april 12th 1980", "twenty first" -> "21st",
    "two thousand five" -> "2005", "five five five one one one" -> "555111".
    """
    def year(match):
        century, rest = match.group(1), match.group(2)
        if century == "two thousand":
            value = 2000 + (_two_digits(rest) if rest else 0)
        else:
            value = _TEENS[century] * 100 + _two_digits(rest)
        return str(value)

    text = re.sub(
        r"\b(nineteen|eighteen|two thousand)(?:\s+and)?\s+((?:oh\s+\w+)|(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-]+(?:one|two|three|four|five|six|seven|eight|nine))?)|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|one|two|three|four|five|six|seven|eight|nine)?\b",
        lambda m: year(m) if (m.group(2) or m.group(1) == "two thousand") else m.group(0),
        text,
        flags=re.I,
    )
    text = re.sub(
        r"\b(twenty|thirty)[\s-]+(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)\b",
        lambda m: (lambda n: f"{n}{_suffix(n)}")(_TENS[m.group(1).lower()] + _ORDINAL_UNITS[m.group(2).lower()]),
        text,
        flags=re.I,
    )
    text = re.sub(
        r"\b(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)[\s,-]+){2,}(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b",
        lambda m: "".join(str(_UNITS[w.lower()]) for w in re.findall(r"[a-z]+", m.group(0), re.I)),
        text,
        flags=re.I,
    )
    return text


def _two_digits(words: str) -> int:
    parts = re.findall(r"[a-z]+", words.lower())
    if parts and parts[0] == "oh":
        return _UNITS.get(parts[1], 0) if len(parts) > 1 else 0
    value = 0
    for part in parts:
        value += _TENS.get(part) or _TEENS.get(part) or _UNITS.get(part, 0)
    return value


@dataclass
class Found:
    value: object
    start: int
    end: int


def _dateparser(phrase: str, today: dt.date, *, future: bool) -> dt.date | None:
    phrase = re.sub(r"\b(\d{1,2})(st|nd|rd|th)\b", r"\1", phrase, flags=re.I)
    for word, number in ORDINAL_WORDS.items():
        phrase = re.sub(rf"\b{word}\b", str(number), phrase, flags=re.I)
    phrase = re.sub(rf"^\s*{_WEEKDAY},?\s+", "", phrase, flags=re.I)
    phrase = re.sub(r"\b(the|of)\b", " ", phrase, flags=re.I)
    settings = {
        "RELATIVE_BASE": dt.datetime.combine(today, dt.time(12)),
        "PREFER_DATES_FROM": "future" if future else "past",
        "DATE_ORDER": "MDY",
        "REQUIRE_PARTS": ["day", "month"],
    }
    parsed = dateparser.parse(" ".join(phrase.split()), languages=["en"], settings=settings)
    return parsed.date() if parsed else None


def find_date(text: str, today: dt.date) -> Found | None:
    """The first date the caller mentions, resolved to the next such date from `today`."""
    lowered = text.lower()
    for name, (month, day) in HOLIDAYS.items():
        position = lowered.find(name)
        if position >= 0:
            candidate = dt.date(today.year, month, day)
            if candidate < today:
                candidate = dt.date(today.year + 1, month, day)
            return Found(candidate, position, position + len(name))
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text)
        if match:
            parsed = _dateparser(match.group(), today, future=True)
            if parsed:
                if not re.search(r"\d{4}", match.group()) and parsed < today:
                    parsed = parsed.replace(year=parsed.year + 1)
                return Found(parsed, match.start(), match.end())
    match = _RELATIVE.search(text)
    if not match:
        return None
    if match.group("today"):
        value = today
    elif match.group("dat"):
        value = today + dt.timedelta(days=2)
    elif match.group("tomorrow"):
        value = today + dt.timedelta(days=1)
    elif match.group("nextweek"):
        value = today + dt.timedelta(days=7 - today.weekday())  # its Monday
    elif match.group("weekday"):
        target = _weekday_index(match.group("weekday"))
        ahead = (target - today.weekday()) % 7
        which = (match.group("which") or "").lower()
        if which == "next" and ahead == 0:
            ahead = 7
        value = today + dt.timedelta(days=ahead)
        if match.group("dom"):
            wanted = _ordinal(match.group("dom"))
            value = _next_day_of_month(today, wanted) or value
    else:
        value = _next_day_of_month(today, _ordinal(match.group("lone")))
        if value is None:
            return None
    return Found(value, match.start(), match.end())


def _next_day_of_month(today: dt.date, day: int) -> dt.date | None:
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            return candidate
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return None


def find_birth_date(text: str, today: dt.date) -> dt.date | None:
    """A date of birth: a date with a year in the past ("March 3rd 1985", "04/12/1980")."""
    for pattern in [
        re.compile(rf"\b{_MONTH}\.?\s+{_ORD},?\s+\d{{4}}\b", re.I),
        re.compile(rf"\b(?:the\s+)?{_ORD}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b", re.I),
        re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}-\d{1,2}-\d{4}\b"),
    ]:
        match = pattern.search(text)
        if match:
            parsed = _dateparser(match.group(), today, future=False)
            if parsed and parsed < today and parsed.year >= 1900:
                return parsed
    return None


@dataclass
class TimeWish:
    time: dt.time | None = None
    earliest: bool = False
    part_of_day: str | None = None  # morning / afternoon / evening


_TIME = re.compile(
    r"\b(?P<lead>at|around|about|by|for|after|before|say|maybe)?\s*"
    r"(?P<hour>\d{1,2}|" + "|".join(NUMBER_WORDS) + r")"
    r"(?:[:.](?P<minute>\d{2})|\s+(?P<half>thirty|fifteen|forty[- ]five))?"
    r"\s*(?P<ampm>a\.?\s?m\.?|p\.?\s?m\.?|o'?\s?clock)?"
    r"(?:\s+in\s+the\s+(?P<part>morning|afternoon|evening))?(?![\w/])",
    re.I,
)


def find_time(text: str, *, expecting_time: bool = False) -> TimeWish | None:
    """A time of day ("3 pm", "10 in the morning", "around 11", "12:30", "noon") or a wish ("as early as possible")."""
    lowered = text.lower()
    wish = TimeWish()
    if re.search(r"\b(as (early|soon) as (possible|you can)|earliest|first (available|thing|opening)|soonest|asap|right away|straight away)\b", lowered):
        wish.earliest = True
    for part in ["morning", "afternoon", "evening"]:
        if re.search(rf"\b(in the|this|tomorrow) {part}\b|\b{part}s?\b", lowered):
            wish.part_of_day = part
            break
    if re.search(r"\b(noon|midday|lunchtime)\b", lowered):
        wish.time = dt.time(12, 0)
        return wish
    for match in _TIME.finditer(text):
        hour_text = match.group("hour").lower()
        hour = NUMBER_WORDS.get(hour_text) or int(hour_text)
        minute = int(match.group("minute") or 0)
        half = (match.group("half") or "").lower()
        minute = {"thirty": 30, "fifteen": 15}.get(half, 45 if half.startswith("forty") else minute)
        ampm = (match.group("ampm") or "").lower().replace(".", "").replace(" ", "")
        part = (match.group("part") or "").lower()
        cue = match.group("lead") or match.group("minute") or ampm or part
        if not cue and not expecting_time:
            continue
        if hour_text.isdigit() and len(hour_text) > 2 or hour > 23 or minute > 59:
            continue
        if ampm.startswith("p") or part in {"afternoon", "evening"}:
            hour = hour + 12 if hour < 12 else hour
        elif ampm.startswith("a") or part == "morning":
            hour = 0 if hour == 12 else hour
        elif hour <= 6:
            hour += 12  # nobody books a dental visit at 3 in the morning
        if not (0 <= hour <= 23):
            continue
        wish.time = dt.time(hour, minute)
        return wish
    return wish if (wish.earliest or wish.part_of_day) else None


_PHONE = re.compile(r"(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}")


def find_phone(text: str) -> str | None:
    match = _PHONE.search(text)
    return re.sub(r"\D", "", match.group()) if match else None


_NOT_NAMES = {
    "a", "an", "the", "new", "calling", "looking", "trying", "here", "just", "not", "sure", "good", "fine",
    "yes", "no", "existing", "patient", "sorry", "in", "having", "really", "so", "still", "hoping", "going",
    "wondering", "interested", "free", "available", "ok", "okay", "hi", "hello", "well", "um", "uh", "it's", "its",
    "my", "name", "is", "this", "and", "i", "i'm", "im", "am", "to", "for", "of", "at", "on", "with",
    "i'd", "i'll", "id", "like", "want", "need", "would", "could", "can", "please", "thanks", "thank", "you",
    "actually", "what", "when", "where", "how", "why", "do", "does", "book", "cancel", "appointment", "that",
    "there", "they", "we", "he", "she", "me", "about", "from", "get", "have", "has", "be", "been", "was",
}
_INTRO = re.compile(r"\b(?:my name is|my name's|name is|this is|it's|it is|i am|i'm|im|call me|speaking)\s+", re.I)
_NAME_WORD = re.compile(r"^[A-Za-z][A-Za-z'\-]*$")


def find_name(text: str, *, expecting_name: bool = False) -> tuple[str, str] | None:
    """(first, last) from "this is Maria Garcia", "my name is ...", or a bare name when one was asked for."""
    candidates = [m.end() for m in _INTRO.finditer(text)]
    if expecting_name:
        candidates.append(0)
    for start in candidates:
        words = re.split(r"[\s,.!?;]+", text[start:].strip())
        name = []
        for word in words:
            if not word:
                continue
            if not _NAME_WORD.match(word) or word.lower() in _NOT_NAMES:
                if name:
                    break
                if word.lower() in {"it's", "its", "um", "uh", "well", "sure", "yes", "hi", "hello", "ok", "okay",
                                    "my", "name", "is", "this", "i'm", "im", "i", "am"}:
                    continue
                break
            if not expecting_name and not word[0].isupper():
                break
            name.append(word)
            if len(name) == 3:
                break
        if len(name) >= 2:
            return " ".join(w.capitalize() if w.islower() else w for w in name[:-1]), name[-1].capitalize() if name[-1].islower() else name[-1]
    return None


_UNSURE = re.compile(r"\b(not sure|unsure|don't know|do not know|no idea|maybe)\b", re.I)
_YES = re.compile(
    r"\b(yes|yeah|yep|yup|sure|please do|ok|okay|correct|right|that works|works for me|works|sounds good|perfect|"
    r"go ahead|absolutely|definitely|great|fine|of course|please|do it|book it|that's right|that is right)\b",
    re.I,
)
_NO = re.compile(
    r"\b(no|nope|nah|not really|don't|do not|never mind|nevermind|that's all|that is all|nothing else|"
    r"i'm good|i am good|not now|not today|no thanks|no thank you|wrong|incorrect)\b",
    re.I,
)


def find_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the caller said neither (or is unsure); the first one said wins."""
    if _UNSURE.search(text):
        return None
    yes, no = _YES.search(text), _NO.search(text)
    if yes and no:
        return yes.start() < no.start()
    if yes:
        return True
    if no:
        return False
    return None


@dataclass
class Choice:
    key: str
    name: str
    words: list[str]


def find_choice(text: str, choices: list[Choice]) -> str | None:
    """The choice whose name or synonym appears in the text, longest phrase first."""
    lowered = " " + re.sub(r"[^a-z0-9' ]+", " ", text.lower()) + " "
    phrases = sorted(
        ((w.lower(), c.key) for c in choices for w in [c.name, *c.words] if w),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    for phrase, key in phrases:
        phrase = re.sub(r"[^a-z0-9' ]+", " ", phrase)
        if re.search(rf"\b{re.escape(phrase.strip())}s?\b", lowered):
            return key
    return None


def provider_choices(providers: list[tuple[str, str, str]]) -> list[Choice]:
    """From (key, name, role): "Dr. James Okafor" answers to "Okafor", "Dr Okafor", "James"."""
    choices = []
    for key, name, role in providers:
        bare = re.sub(r"^(dr\.?|doctor)\s+", "", name, flags=re.I)
        parts = bare.split()
        words = [bare, *parts, f"dr {parts[-1]}", f"doctor {parts[-1]}"] if parts else []
        choices.append(Choice(key=key, name=name, words=words))
    return choices


INTENT_PATTERNS = {
    "human": r"\b(real|live|actual) (person|human)\b|\bhuman\b|\boperator\b|\brepresentative\b|\bfront desk\b|\breceptionist\b|\b(speak|talk) (to|with) (a|an|the|someone|somebody|some one|dr|doctor|your)\b|\btransfer me\b|\bput me through\b",
    "message": r"\b(leave|take|pass on|pass along) (a |the )?message\b|\bmessage for\b|\bcall me back\b|\bhave (someone|somebody|the doctor|dr\.? \w+) call me\b",
    "my_appointments": r"\bwhen is my\b|\bwhat time is my\b|\bdo i have (an|any) appointments?\b|\b(check|confirm) my appointments?\b|\bmy next appointment\b|\bmy upcoming appointments?\b",
    "cancel": r"\bcancel\b|\bcall off\b|\b(can't|cannot|won't be able to|not be able to) (make|come|attend)\b",
    "reschedule": r"\breschedul|\b(move|change|push|shift|postpone) (my|the|our|it|that)\b|\b(different|another|new) (day|time|date)\b|\bpush (it|that) back\b",
    "book": r"\b(book|schedule|make|set up|get|need|want|like|come in for|see (the|a) (dentist|doctor|hygienist)|appointment|visit|check ?-?up|cleaning|exam)\b",
    "hours": r"\b(hours|open|close[sd]?|closing|opening|until|till)\b|\bwhat time (do|are) you\b",
    "location": r"\b(where|address|located|location|directions|find you|park|parking|get there)\b",
    "insurance": r"\b(insurance|insured|in[- ]network|out of network|coverage|cover|accept|take)\b",
    "new_patient_info": r"\b(what should i bring|what do i need to bring|first visit|new patients?)\b",
    "goodbye": r"\b(bye|goodbye|good bye|that's all|that is all|that's everything|nothing else|hang up|no thanks|no thank you)\b",
}
EMERGENCY = re.compile(
    r"\b(emergency|urgent|severe|excruciating|unbearable|really hurts|hurts (so|a lot|really|badly)|killing me|"
    r"in (a lot of|so much|terrible|severe) pain|swell|swollen|swelling|bleed|bleeding|abscess|"
    r"(broke|broken|cracked|chipped|knocked[- ]out|lost|fell out).{0,20}\btooth\b|\btooth.{0,20}(broke|broken|cracked|chipped|knocked out|fell out)|toothache|tooth ?ache)\b",
    re.I,
)
AIRWAY = re.compile(r"\b(breath|breathe|breathing|swallow|swallowing|throat closing|can't swallow)\b", re.I)


_MOVE_TO = re.compile(r"\b(?:to|for|until|till|instead)\b(?!.*\b(?:to|for|until|till)\b)", re.I)


def find_new_time(text: str, today: dt.date) -> tuple[dt.date | None, "TimeWish | None"]:
    """In "move my cleaning on Thursday to Friday at 10", the date and time after the last "to"."""
    match = _MOVE_TO.search(text)
    if not match:
        return None, None
    rest = text[match.end():]
    found = find_date(rest, today)
    remaining = rest if found is None else rest[: found.start] + " " + rest[found.end:]
    return (found.value if found else None), find_time(remaining)


@dataclass
class Understanding:
    text: str
    intents: set[str] = field(default_factory=set)
    emergency: bool = False
    airway: bool = False
    date: dt.date | None = None
    time: TimeWish | None = None
    type_key: str | None = None
    provider_key: str | None = None
    yes_no: bool | None = None
    name: tuple[str, str] | None = None
    birth_date: dt.date | None = None
    phone: str | None = None
    insurance: str | None = None
    weekday_asked: int | None = None
    new_date: dt.date | None = None  # "move it to Friday at 10": where to
    new_time: TimeWish | None = None


def understand(
    text: str,
    *,
    today: dt.date,
    types: list[Choice],
    providers: list[Choice],
    insurers: list[str],
    expecting: str | None = None,
) -> Understanding:
    """Everything the rules engine can read from one utterance."""
    text = normalize_spoken(text)
    u = Understanding(text=text)
    lowered = text.lower()
    for intent, pattern in INTENT_PATTERNS.items():
        if re.search(pattern, lowered):
            u.intents.add(intent)
    u.emergency = bool(EMERGENCY.search(text))
    u.airway = u.emergency and bool(AIRWAY.search(text))
    u.birth_date = find_birth_date(text, today)
    remaining = text
    if u.birth_date is None or expecting not in {"dob"}:
        found = find_date(text, today) if u.birth_date is None else None
        if found:
            u.date = found.value
            remaining = text[: found.start] + " " + text[found.end :]
    weekday = re.search(rf"\b({_WEEKDAY})\b", lowered)
    if weekday:
        u.weekday_asked = _weekday_index(weekday.group(1))
    if u.birth_date is None:
        u.time = find_time(remaining, expecting_time=expecting in {"time", "alternative", "date_time"})
    if "reschedule" in u.intents:
        u.new_date, u.new_time = find_new_time(text, today)
    u.type_key = find_choice(text, types)
    u.provider_key = find_choice(text, providers)
    u.yes_no = find_yes_no(text)
    u.name = find_name(text, expecting_name=expecting == "name")
    u.phone = find_phone(text)
    for insurer in insurers:
        if insurer.lower() in lowered:
            u.insurance = insurer
            break
    if u.insurance is None:
        match = re.search(r"\b(?:accept|take|in[- ]network with|have|covered by)\s+([A-Z][\w&]*(?:\s+[A-Z][\w&]*)?)", text)
        if match and match.group(1).lower() not in {"insurance", "i", "you"}:
            u.insurance = match.group(1)
    return u
