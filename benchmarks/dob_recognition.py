"""Dates of birth said by a natural voice, heard through the phone's recognition path and read as dates.

Run: `make bench-dob`.
Each date of birth of CORPUS is synthesized by Piper as 8 kHz mu-law, played through the Recognizer stage into
the offline speech-to-text (pocketsphinx in a worker process, listening for a date of birth, with the demo
practice's vocabulary) in 20 ms frames as the phone delivers them, and the words are read by
`understand(..., expecting="dob")`. It prints the share of all the dates of birth read exactly (target 95%: it
exits non-zero below) and how many were read as another date, the misses of each group, how often something
other than a date of birth ("sorry, could you say that again?") is marked not confident or gives no date, and
the time from the end of the turn to the words.

Measured with the n-gram "dob" model of commit 81ecf1e (this script, run on that tree): BEFORE.
"""

import asyncio
import datetime as dt
import json
import sys
import time
import zoneinfo
from dataclasses import dataclass

from benchmarks.common import machine, percentile
from voice.conversation.understanding import understand
from voice.conversation.vocabulary import Vocabulary, vocabulary_for
from voice.frames import Audio, CallerText, EndOfTurn, Interrupt
from voice.phone.audio import frames, silence_ulaw
from voice.phone.stages import Recognizer
from voice.phone.stt.pocketsphinx_workers import PocketsphinxWorkerSTT
from voice.simulator.voices import voice_by_name

BEFORE = "corpus 71.6% exact (48 of 67), typed dates 0 of 6, non-dates 0 of 10 without a date"  # measured 2026-11-30
TARGET = 95.0
NOW = dt.datetime(2026, 11, 27, 10, tzinfo=zoneinfo.ZoneInfo("America/New_York"))  # the demo's clock
D = dt.date
# Every month, several years a decade from the 1930s to the 2010s, the day as "twelfth", "the twelfth of",
# "the twelfth", "twelve", and the numbers alone.
CORPUS = [
    ("January third, nineteen thirty-one.", D(1931, 1, 3)),
    ("The fourteenth of February, nineteen thirty-four.", D(1934, 2, 14)),
    ("March the twenty-second, nineteen thirty-six.", D(1936, 3, 22)),
    ("April nine, nineteen thirty-eight.", D(1938, 4, 9)),
    ("It's May seventeenth, nineteen thirty-nine.", D(1939, 5, 17)),
    ("June first, nineteen thirty.", D(1930, 6, 1)),
    ("July the fourth, nineteen forty.", D(1940, 7, 4)),
    ("The thirtieth of August, nineteen forty-two.", D(1942, 8, 30)),
    ("September eleventh, nineteen forty-five.", D(1945, 9, 11)),
    ("October twentieth, nineteen forty-seven.", D(1947, 10, 20)),
    ("November the sixth, nineteen forty-nine.", D(1949, 11, 6)),
    ("Oh one fifteen nineteen forty-three.", D(1943, 1, 15)),
    ("December twenty-fifth, nineteen fifty.", D(1950, 12, 25)),
    ("January the twenty-ninth, nineteen fifty-two.", D(1952, 1, 29)),
    ("The second of February, nineteen fifty-three.", D(1953, 2, 2)),
    ("March thirty-first, nineteen fifty-five.", D(1955, 3, 31)),
    ("April eighteenth, nineteen fifty-seven.", D(1957, 4, 18)),
    ("May the tenth, nineteen fifty-eight.", D(1958, 5, 10)),
    ("It's June twenty-third, nineteen fifty-nine.", D(1959, 6, 23)),
    ("July seventh, nineteen sixty.", D(1960, 7, 7)),
    ("The nineteenth of August, nineteen sixty-one.", D(1961, 8, 19)),
    ("September the fifth, nineteen sixty-three.", D(1963, 9, 5)),
    ("October twenty-seventh, nineteen sixty-four.", D(1964, 10, 27)),
    ("November thirty, nineteen sixty-six.", D(1966, 11, 30)),
    ("December eighth, nineteen sixty-eight.", D(1968, 12, 8)),
    ("Oh seven twenty-seven, nineteen sixty-nine.", D(1969, 7, 27)),
    ("January twelfth, nineteen seventy.", D(1970, 1, 12)),
    ("February the twenty-first, nineteen seventy-two.", D(1972, 2, 21)),
    ("The sixteenth of March, nineteen seventy-three.", D(1973, 3, 16)),
    ("April twenty-sixth, nineteen seventy-five.", D(1975, 4, 26)),
    ("May four, nineteen seventy-six.", D(1976, 5, 4)),
    ("June the thirteenth, nineteen seventy-eight.", D(1978, 6, 13)),
    ("It's September thirtieth, nineteen seventy-five.", D(1975, 9, 30)),
    ("April twelfth, nineteen eighty.", D(1980, 4, 12)),
    ("July second, nineteen eighty-one.", D(1981, 7, 2)),
    ("The twenty-fourth of August, nineteen eighty-three.", D(1983, 8, 24)),
    ("August eighth, nineteen eighty-eight.", D(1988, 8, 8)),
    ("September the ninth, nineteen eighty-four.", D(1984, 9, 9)),
    ("October fifteenth, nineteen eighty-six.", D(1986, 10, 15)),
    ("Twelve eleven nineteen eighty-seven.", D(1987, 12, 11)),
    ("November third, nineteen eighty-nine.", D(1989, 11, 3)),
    ("January twentieth, nineteen ninety-two.", D(1992, 1, 20)),
    ("December the first, nineteen ninety.", D(1990, 12, 1)),
    ("The eleventh of January, nineteen ninety-one.", D(1991, 1, 11)),
    ("February twenty-eighth, nineteen ninety-three.", D(1993, 2, 28)),
    ("March fourteen, nineteen ninety-five.", D(1995, 3, 14)),
    ("June fifth, nineteen ninety.", D(1990, 6, 5)),
    ("It's April the seventh, nineteen ninety-seven.", D(1997, 4, 7)),
    ("May twenty-ninth, nineteen ninety-nine.", D(1999, 5, 29)),
    ("June twenty-first, two thousand.", D(2000, 6, 21)),
    ("July the eighteenth, two thousand and one.", D(2001, 7, 18)),
    ("The third of August, two thousand three.", D(2003, 8, 3)),
    ("March third, two thousand five.", D(2005, 3, 3)),
    ("September twenty-fifth, two thousand and six.", D(2006, 9, 25)),
    ("October second, two thousand eight.", D(2008, 10, 2)),
    ("Oh three twenty two thousand nine.", D(2009, 3, 20)),
    ("November the twentieth, two thousand four.", D(2004, 11, 20)),
    ("December sixth, twenty ten.", D(2010, 12, 6)),
    ("January the thirty-first, twenty eleven.", D(2011, 1, 31)),
    ("February fifth, twenty twelve.", D(2012, 2, 5)),
    ("The ninth of March, two thousand thirteen.", D(2013, 3, 9)),
    ("April twenty-second, twenty fourteen.", D(2014, 4, 22)),
    ("May the sixteenth, twenty fifteen.", D(2015, 5, 16)),
    ("June twenty-seventh, two thousand sixteen.", D(2016, 6, 27)),
    ("It's July fourteenth, twenty seventeen.", D(2017, 7, 14)),
    ("August eleven, twenty eighteen.", D(2018, 8, 11)),
    ("October the twelfth, twenty nineteen.", D(2019, 10, 12)),
]
# A day said as a number, two-digit years, the numbers alone, "nineteen hundred".
OTHER_FORMS = [
    ("October twenty, nineteen forty-seven.", D(1947, 10, 20)),  # not the year 2019
    ("April eighteen, nineteen fifty-seven.", D(1957, 4, 18)),  # not 1819
    ("Oh seven oh seven, nineteen sixty-nine.", D(1969, 7, 7)),
    ("Four twelve eighty.", D(1980, 4, 12)),
    ("Oh four twelve eighty.", D(1980, 4, 12)),
    ("August eighth, eighty-eight.", D(1988, 8, 8)),
    ("March third, oh five.", D(2005, 3, 3)),
    ("April twelfth, nineteen hundred eighty.", D(1980, 4, 12)),
]
# Dates as a script types them: Piper says "1980" as "nineteen hundred eighty".
TYPED = [("April 12th 1980.", D(1980, 4, 12)), ("August 8th 1988.", D(1988, 8, 8)),
         ("January 20th 1992.", D(1992, 1, 20)), ("June 5th 1990.", D(1990, 6, 5)),
         ("January 1st 1970.", D(1970, 1, 1)), ("March 3rd 1985.", D(1985, 3, 3))]
ALL_DATES = CORPUS + OTHER_FORMS + TYPED
NOT_DATES = ["Sorry, could you say that again?", "I don't know.", "What?", "Sorry, what was that?",
             "I'd like to book a cleaning.", "Can I talk to the front desk?", "Hold on a second.", "Um, let me think.",
             "I'm not sure.", "Why do you need that?"]


@dataclass
class Heard:
    said: str
    words: CallerText
    date: dt.date | None
    seconds: float  # from the end of the turn to the words


def demo_vocabulary() -> Vocabulary:
    """What `voice.phone.consumers` builds for the demo practice, from the file `seed_demo` loads."""
    from benchmarks.phone import ROOT

    practice = json.loads((ROOT / "bookings/demo_data/demo_practice.json").read_text())
    tenant = practice["tenant"]
    return vocabulary_for(
        practice=tenant["name"], types=[(t["name"], t["synonyms"]) for t in practice["appointment_types"]],
        providers=[p["name"] for p in practice["providers"]],
        insurers=[*tenant["insurance_accepted"], *tenant["insurance_not_accepted"]],
    )


async def hear(recognizer: Recognizer, ulaw: bytes, said: str) -> Heard:
    """One turn as the turn detector passes it on: its start, a little silence, the speech, its end."""
    recognizer.stt.listen_for("dob")
    await recognizer.process(Interrupt())
    for frame in frames(silence_ulaw(200) + ulaw + silence_ulaw(200)):
        await recognizer.process(Audio(frame))
    started = time.perf_counter()
    words = await recognizer.process(EndOfTurn(at=0.0, waited_ms=500))
    seconds = time.perf_counter() - started
    date = understand(words.text, now=NOW, types=[], providers=[], insurers=[], expecting="dob").birth_date
    return Heard(said, words, date, seconds)


async def run(voice: str) -> dict[str, list[Heard]]:
    speak = voice_by_name(voice)
    stt = PocketsphinxWorkerSTT(vocabulary=demo_vocabulary())
    recognizer = Recognizer(stt)
    groups = {"dates": ALL_DATES, "not dates": [(s, None) for s in NOT_DATES]}
    try:
        return {name: [await hear(recognizer, speak(said), said) for said, _ in items] for name, items in groups.items()}
    finally:
        await stt.close()


def exact(heard: list[Heard], items: list[tuple[str, dt.date]]) -> int:
    return sum(h.date == date for h, (_, date) in zip(heard, items))


def report(voice: str, results: dict[str, list[Heard]]) -> float:
    dates = results["dates"]
    share = 100 * exact(dates, ALL_DATES) / len(ALL_DATES)
    wrong = sum(h.date is not None and h.date != date for h, (_, date) in zip(dates, ALL_DATES))
    print(f"  {voice}: {share:.1f}% exact ({exact(dates, ALL_DATES)} of {len(ALL_DATES)} dates of birth), {wrong} read "
          f"as another date, {sum(not h.words.confident for h in dates)} marked not confident")
    for name, items, heard in (("corpus", CORPUS, dates[:len(CORPUS)]),
                               ("other forms", OTHER_FORMS, dates[len(CORPUS):len(CORPUS) + len(OTHER_FORMS)]),
                               ("typed dates", TYPED, dates[len(CORPUS) + len(OTHER_FORMS):])):
        print(f"    {name}: {exact(heard, items)} of {len(items)} exact")
        for h, (_, date) in zip(heard, items):
            if h.date != date:
                print(f"      {h.said!r} heard {h.words.text!r} (confident={h.words.confident}): {h.date}")
    others = results["not dates"]
    doubted = sum(not h.words.confident for h in others)
    dateless = sum(h.date is None or not h.words.confident for h in others)
    print(f"    not dates of birth: {doubted} of {len(others)} marked not confident, "
          f"{dateless} of {len(others)} not confident or without a date")
    for h in others:
        print(f"      {h.said!r}: {h.words.text!r} (confident={h.words.confident}) -> {h.date}")
    seconds = [h.seconds * 1000 for group in results.values() for h in group]
    print(f"    end of turn to words: p50 {percentile(seconds, 50):.0f} ms, p95 {percentile(seconds, 95):.0f} ms, "
          f"max {max(seconds):.0f} ms")
    return share


def main() -> int:
    print(f"date of birth recognition; {machine()}; Piper (joe) at 8 kHz mu-law, the demo practice's vocabulary")
    print(f"  before: {BEFORE}")
    share = report("piper", asyncio.run(run("piper")))
    if "--espeak" in sys.argv:
        report("espeak", asyncio.run(run("espeak")))
    print(f"  target {TARGET:.0f}% exact: {'met' if share >= TARGET else 'MISSED'}")
    return 0 if share >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
