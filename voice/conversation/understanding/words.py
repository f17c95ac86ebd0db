"""What a caller wants and who they are: intents, names, yes or no, the practice's choices, self-corrections.

Pure functions over text (no ORM, no I/O), so every phrasing can be unit-tested.
"""

import re
from dataclasses import dataclass

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
    """The choice whose name or synonym appears in the text, longest phrase first; "teeth cleaned" and "a tooth
    filled" name a cleaning and a filling."""
    lowered = " " + re.sub(r"[^a-z0-9' ]+", " ", text.lower()) + " "
    phrases = sorted(
        ((w.lower(), c.key) for c in choices for w in [c.name, *c.words] if w),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    for phrase, key in phrases:
        words = re.sub(r"[^a-z0-9' ]+", " ", phrase).split()
        pattern = r"\s+".join(re.escape(w[:-3]) + "(?:ing|ed)" if w.endswith("ing") else re.escape(w) for w in words)
        if words and re.search(rf"\b{pattern}s?\b", lowered):
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


# "at 9, no wait, make it 10": what follows a cue replaces what it restates. Not a cue: "no later than", "no one",
# "I can't make it".
CORRECTION = re.compile(
    r"\b(?:no,? wait|wait,? no|(?:sorry,? )?i meant?|actually|scratch that|or rather|on second thought"
    r"|no,? sorry|(?<!n't )(?<!not )(?<!to )make (?:it|that)"
    r"|no(?!\s+(?:later|earlier|sooner|more|preference|idea|one|problem)\b))\b",
    re.I,
)
_MOVE = re.compile(r"\b(?:reschedul\w*|move|change|push|shift|postpone)\b", re.I)
_MOVE_TO = re.compile(r"\bto\b", re.I)
_MOVE_FOR = re.compile(r"\b(?:for|until|till)\b", re.I)
_MOVE_FROM = re.compile(r"\bfrom\b", re.I)
_SAME_TIME = re.compile(r"(?<!not )(?<!not the )(?<!not at the )\bsame time\b", re.I)


def corrections(text: str) -> list[str]:
    """The text cut at each self-correction cue: later pieces restate earlier ones."""
    pieces, start = [], 0
    for cue in CORRECTION.finditer(text):
        pieces.append(text[start: cue.start()])
        start = cue.end()
    return [*pieces, text[start:]]


def split_move(text: str) -> tuple[str, str] | None:
    """"Move my cleaning on the eighth to the tenth" -> ("Move my cleaning on the eighth", " the tenth"): the words
    about the appointment and those about where it goes, at the first "to" (else "for", "until") after the verb.
    "From 2" names the appointment's time, not a range: it is read as "at 2"."""
    verb = _MOVE.search(text)
    if verb is None:
        return None
    to = _MOVE_TO.search(text, verb.end()) or _MOVE_FOR.search(text, verb.end())
    if to is None:
        return None
    return _MOVE_FROM.sub("at", text[: to.start()]), text[to.end():]


def same_time(text: str) -> bool:
    """"Same time is fine": the new appointment keeps the old one's time."""
    return bool(_SAME_TIME.search(text))


def find_insurance(text: str, insurers: list[str]) -> str | None:
    """A plan the practice knows by name, else the capitalised words after "accept", "take", "covered by"."""
    lowered = text.lower()
    known = next((insurer for insurer in insurers if insurer.lower() in lowered), None)
    if known:
        return known
    match = re.search(r"\b(?:accept|take|in[- ]network with|have|covered by)\s+([A-Z][\w&]*(?:\s+[A-Z][\w&]*)?)", text)
    if match and match.group(1).lower() not in {"insurance", "i", "you"}:
        return match.group(1)
    return None


def find_intents(text: str) -> set[str]:
    lowered = text.lower()
    return {intent for intent, pattern in INTENT_PATTERNS.items() if re.search(pattern, lowered)}
