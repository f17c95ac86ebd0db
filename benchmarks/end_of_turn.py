"""End of turn that listens: turn latency for short answers, and no caller cut off mid-sentence.

Run: `.venv/bin/python -m benchmarks.end_of_turn` (`make bench-end-of-turn`).
Each clip is said by Piper (8 kHz mu-law) and phoned into a real `PhoneCall` in this process, 20 ms frames at
real-time pace, with the real voice-activity detector (pocketsphinx's) and recogniser (pocketsphinx in worker
processes, with the demo practice's vocabulary), a stand-in conversation that listens for the clip's kind of
answer (its greeting asks the question) and answers every turn with one short sentence, and a fast stand-in voice.
Every clip is phoned twice, in turn: BEFORE, every turn ends after a fixed 500 ms of silence
(answer_ms = mid_sentence_ms = 500), and AFTER, the silence is chosen from the words heard so far: 250 ms once
they answer the question, 500 ms otherwise, 1000 ms while the caller stops mid-sentence (the settings' defaults).

- Short answers (yes/no, dates of birth, offered times): turn latency = the first reply frame sent - the end of
  the caller's speech (its last loud 20 ms frame), median and p95, before and after.
- Lines with pauses at their commas that are ONE turn: Piper's own reading, and its parts said separately and
  joined by 300, 600 and 900 ms of silence. A line heard as more than one turn is a caller cut off.
- The words of every clip, as recognised, against what was said (a date of birth as the date it reads as):
  shorter waits must not lose words.

It exits non-zero when a line is cut off AFTER at a comma pause (Piper's own, or 300 ms), or when the median
short-answer latency AFTER is not lower than BEFORE. The 600 and 900 ms joins are hesitations longer than the
usual 500 ms window: they are reported, before and after, not gated. For every cut-off it prints what the
recogniser had heard when the turn ended, and what that was judged.
"""

import asyncio
import dataclasses
import datetime as dt
import difflib
import re
import subprocess
import sys
import time
import zoneinfo
from collections.abc import AsyncIterator
from types import SimpleNamespace

from benchmarks.common import machine, percentile
from benchmarks.dob_recognition import demo_vocabulary
from voice.conversation.understanding import understand
from voice.conversation.understanding.turns import heard_so_far
from voice.frames import AgentSentence, Audio, CallerText, EndOfTurn, Event, Mark, Output
from voice.phone.audio import FRAME_MS, frames, rms, silence_ulaw, ulaw_to_pcm
from voice.phone.pipeline import PhoneCall, Telephony
from voice.phone.stt.pocketsphinx_workers import PocketsphinxWorkerSTT
from voice.phone.tts.base import TextToSpeech
from voice.phone.vad.pocketsphinx import PocketsphinxVAD
from voice.simulator.voices import voice_by_name

END_OF_TURN_MS, ANSWER_MS, MID_SENTENCE_MS = 500, 250, 1000  # the settings' defaults
POLICIES = {"before": {"end_of_turn_ms": 500, "answer_ms": 500, "mid_sentence_ms": 500},
            "after": {"end_of_turn_ms": END_OF_TURN_MS, "answer_ms": ANSWER_MS, "mid_sentence_ms": MID_SENTENCE_MS}}
LOUD = 300  # RMS of a 20 ms frame with speech in it (tests/voice/phone/test_stages.py)
LEAD_IN_MS = 400  # the line is quiet while the question's last words fade
TAIL_MS = 1500  # silence after the caller's last word
PAUSES_MS = (300, 600, 900)  # hesitations put at a line's commas
COMMA_PAUSES = {"piper", "300"}  # a comma's pause; longer ones are hesitations
REPLY_TIMEOUT = 5.0  # seconds a step may wait on the call
DEADLINE = 30 * 60  # seconds for the whole benchmark
NOW = dt.datetime(2026, 11, 27, 10, tzinfo=zoneinfo.ZoneInfo("America/New_York"))  # the demo's clock
D = dt.date

# Short answers: the state the conversation listens for, what is said, and the date of birth it reads as.
SHORT = [
    ("yes_no", "Yes.", None), ("yes_no", "Yes, please.", None), ("yes_no", "No, thank you.", None),
    ("yes_no", "That's right.", None), ("yes_no", "No.", None), ("yes_no", "Yes, that's right.", None),
    ("yes_no", "Sure.", None),
    ("dob", "July fourth, nineteen eighty.", D(1980, 7, 4)),
    ("dob", "April twelfth, nineteen eighty-eight.", D(1988, 4, 12)),
    ("dob", "June fifth, nineteen ninety.", D(1990, 6, 5)),
    ("dob", "January twentieth, nineteen ninety-two.", D(1992, 1, 20)),
    ("dob", "March third, nineteen eighty-five.", D(1985, 3, 3)),
    ("dob", "October fifteenth, nineteen eighty-six.", D(1986, 10, 15)),
    ("dob", "December the first, nineteen seventy.", D(1970, 12, 1)),
    ("date_time", "Ten a.m.", None), ("date_time", "The first one.", None),
    ("date_time", "Nine thirty a.m. works.", None), ("date_time", "The second one.", None),
    ("date_time", "Two p.m.", None), ("date_time", "Eleven o'clock.", None), ("date_time", "The last one.", None),
]
# Lines that are one turn, in the parts said between their commas.
COMMA_LINES = [
    ("yes_no", ["Yes,", "and I'd also like to ask about my insurance."], None),
    ("yes_no", ["No,", "but could I come in on Friday instead?"], None),
    ("date_time", ["On Tuesday,", "um,", "in the afternoon."], None),
    ("date_time", ["Ten a.m.,", "or maybe a bit later."], None),
    ("dob", ["My date of birth is,", "let me think,", "July fourth, nineteen eighty."], D(1980, 7, 4)),
    ("free", ["I'd like to book a cleaning,", "with Lisa Chen,", "next week."], None),
]
KINDS = ("yes_no", "dob", "date_time")


@dataclasses.dataclass
class Clip:
    kind: str  # what the conversation listens for
    said: str
    pause: str  # "" for a short answer; "piper" (its own reading) or the silence joining the parts
    ulaw: bytes
    speech_end: int  # frames into `ulaw` of the end of the caller's last loud frame
    date: dt.date | None = None


@dataclasses.dataclass
class Turn:
    heard: str  # the partial transcript when the turn ended
    so_far: str  # what it was judged
    waited_ms: int  # the silence that ended it
    by: str
    text: str = ""  # the final transcript


@dataclasses.dataclass
class Result:
    clip: Clip
    policy: str
    turns: list[Turn]
    latency_ms: float | None  # first reply frame - end of speech
    records: list[dict]  # the latency records of the agent's turns

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.turns if t.text)

    @property
    def right(self) -> bool:
        if self.clip.date is not None:
            said = understand(self.text, now=NOW, types=[], providers=[], insurers=[], expecting="dob").birth_date
            return said == self.clip.date
        return words(self.text) == words(self.clip.said)


    @property
    def recall(self) -> float:
        """The share of the words said that were heard, in order."""
        said = words(self.clip.said)
        matcher = difflib.SequenceMatcher(a=said, b=words(self.text), autojunk=False)
        return sum(block.size for block in matcher.get_matching_blocks()) / len(said)


def words(text: str) -> list[str]:
    """Lower case, without punctuation: "Nine thirty a.m." -> nine thirty a m; "eighty-eight" -> eighty eight."""
    return re.findall(r"[a-z']+", text.lower().replace(".", " ").replace("-", " "))


def spoken(ulaw: bytes) -> list[bytes]:
    """The words alone, without the synthesiser's quiet lead-in and tail (as tests/voice/phone/test_stages.py)."""
    audio = frames(ulaw)
    loud = [i for i, frame in enumerate(audio) if rms(ulaw_to_pcm(frame)) > LOUD]
    return audio[loud[0]: loud[-1] + 1]


def clip(kind: str, parts: list[bytes], pause: str, said: str, date: dt.date | None) -> Clip:
    lead, tail = frames(silence_ulaw(LEAD_IN_MS)), frames(silence_ulaw(TAIL_MS))
    body: list[bytes] = []
    for i, part in enumerate(parts):
        if i:
            body += frames(silence_ulaw(int(pause)))
        body += part
    return Clip(kind, said, pause, b"".join(lead + body + tail), len(lead) + len(body), date)


def clips() -> tuple[list[Clip], list[Clip]]:
    speak = voice_by_name("piper")
    short = [clip(kind, [spoken(speak(said))], "", said, date) for kind, said, date in SHORT]
    lines = []
    for kind, parts, date in COMMA_LINES:
        said = " ".join(parts)
        lines.append(clip(kind, [spoken(speak(said))], "piper", said, date))
        pieces = [spoken(speak(part)) for part in parts]
        lines += [clip(kind, pieces, str(ms), said, date) for ms in PAUSES_MS]
    return short, lines


class QuickTTS(TextToSpeech):
    """Three 20 ms frames a sentence, at once."""

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        yield silence_ulaw(3 * FRAME_MS)


class Listening:
    """The conversation: listens for one kind of answer, asks for it, and answers every turn with one sentence."""

    def __init__(self, kind: str):
        self.kind = kind
        self.call = SimpleNamespace(pk=1)
        self.records: list[dict] = []

    async def handle(self, event: Event, *, record_agent: bool = True) -> AsyncIterator[Output]:
        yield AgentSentence("Okay." if isinstance(event, CallerText) else "What can I do for you?")

    async def record_agent(self, text: str, latency: dict | None = None, *, interrupted: bool = False) -> None:
        if latency:
            self.records.append(latency)

    def listening_for(self) -> str:
        return self.kind

    async def finish(self) -> None:
        pass


async def phone_in(clip: Clip, policy: str, vocabulary) -> Result:
    """One call: the greeting (which asks), the clip at real-time pace, the replies; the call ends after the clip."""
    conversation = Listening(clip.kind)
    sent: list[tuple[float, object]] = []
    echoes: set[asyncio.Task] = set()

    async def echo(name: str) -> None:  # Twilio: the mark comes back once the sentence has played
        await asyncio.sleep(0.06)
        await phone.mark(name)

    async def send(frame) -> None:
        sent.append((time.monotonic(), frame))
        if isinstance(frame, Mark):
            task = asyncio.ensure_future(echo(frame.name))
            echoes.add(task)
            task.add_done_callback(echoes.discard)

    stt = PocketsphinxWorkerSTT(vocabulary=vocabulary)
    phone = PhoneCall(conversation=conversation, stt=stt, tts=QuickTTS(), vad=PocketsphinxVAD(), send=send,
                      telephony=Telephony(), idle_seconds=60.0, **POLICIES[policy])
    turns: list[Turn] = []
    process = phone.recognizer.process

    async def recognise(frame):
        if isinstance(frame, EndOfTurn):
            heard = phone.recognizer.heard
            turns.append(Turn(heard, heard_so_far(heard, expecting=phone._expecting, today=dt.date.today()).value,
                              frame.waited_ms, frame.by))
        said = await process(frame)
        if said is not None and turns:
            turns[-1].text = said.text
        return said

    phone.recognizer.process = recognise
    try:
        await phone.start()
        await asyncio.wait_for(stt.connect(), REPLY_TIMEOUT)
        await asyncio.wait_for(phone._reply, REPLY_TIMEOUT)  # the greeting sent: the conversation listens for the kind
        for _ in range(int(REPLY_TIMEOUT / 0.01)):
            if not phone.player.busy:
                break
            await asyncio.sleep(0.01)
        greeted = len(sent)
        start = time.monotonic()
        speech_end = None
        for i, frame in enumerate(frames(clip.ulaw)):
            delay = start + (i + 1) * FRAME_MS / 1000 - time.monotonic()  # a frame arrives once it has been said
            if delay > 0:
                await asyncio.sleep(delay)
            if i + 1 == clip.speech_end:
                speech_end = time.monotonic()
            await phone.audio(frame)
        if phone._reply is not None and not phone._reply.done():
            await asyncio.wait_for(asyncio.shield(phone._reply), REPLY_TIMEOUT)
        reply = next((t for t, frame in sent[greeted:] if isinstance(frame, Audio)), None)
        await asyncio.sleep(0.1)  # the last mark's echo
    finally:
        await phone.stop()
        for task in list(echoes):
            task.cancel()
    latency = None if reply is None or speech_end is None else (reply - speech_end) * 1000
    return Result(clip, policy, turns, latency, conversation.records)


def load() -> str:
    try:
        return subprocess.run(["uptime"], check=False, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return open("/proc/loadavg").read().strip()


async def run(short: list[Clip], lines: list[Clip]) -> list[Result]:
    vocabulary = demo_vocabulary()
    deadline = time.monotonic() + DEADLINE
    results = []
    warm = await phone_in(short[0], "after", vocabulary)  # the workers started and the models built
    del warm
    for n, clip in enumerate(short + lines):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the benchmark ran over {DEADLINE} s")
        order = ("before", "after") if n % 2 == 0 else ("after", "before")  # neither policy always goes first
        for policy in order:
            results.append(await phone_in(clip, policy, vocabulary))
    return results


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{percentile(values, 50):.0f} / {percentile(values, 95):.0f}"


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def describe(result: Result) -> str:
    turns = "; ".join(f"ended after {t.waited_ms} ms ({t.by}) on {t.heard!r} ({t.so_far}) -> {t.text!r}"
                      for t in result.turns)
    return f"{result.clip.said!r} [{result.clip.pause or 'short'}] {result.policy}: {len(result.turns)} turns: {turns}"


def report(results: list[Result]) -> int:
    by = {(r.clip.said, r.clip.pause, r.policy): r for r in results}
    short = [r for r in results if not r.clip.pause]
    lines = [r for r in results if r.clip.pause]
    print("\nshort answers: turn latency, end of speech to the first reply frame, median / p95 (ms)")
    print(f"  {'kind':<10} {'clips':>5}  {'before':>11}  {'after':>11}  {'final transcript p50':>20}  "
          "after: end-of-turn waits (ms)")
    medians = {}
    for kind in (*KINDS, "all"):
        group = [r for r in short if kind in ("all", r.clip.kind)]
        before = [r.latency_ms for r in group if r.policy == "before" and r.latency_ms is not None]
        after = [r.latency_ms for r in group if r.policy == "after" and r.latency_ms is not None]
        waits = sorted({rec["end_of_turn_wait_ms"] for r in group if r.policy == "after" for rec in r.records})
        medians[kind] = (percentile(before, 50) if before else None, percentile(after, 50) if after else None)
        final = {p: [rec["final_transcript_ms"] for r in group if r.policy == p for rec in r.records[:1]]
                 for p in POLICIES}
        final_ms = " / ".join(f"{percentile(v, 50):.0f}" if v else "-" for v in final.values())
        print(f"  {kind:<10} {len(group) // 2:>5}  {ms(before):>11}  {ms(after):>11}  {final_ms:>20}  {waits}")
    for r in short:
        if r.latency_ms is None or len(r.turns) != 1:
            print(f"    NOT ONE TURN OR NO REPLY: {describe(r)}")
    print("\n  per clip, latency before -> after (ms), the wait after, and what was heard when the turn ended (after):")
    for said, pause, policy in by:
        if pause or policy != "after":
            continue
        before, after = by[(said, pause, "before")], by[(said, pause, "after")]
        last = after.turns[-1] if after.turns else Turn("", "", 0, "")
        print(f"    {said:<40} {fmt(before.latency_ms):>6} -> {fmt(after.latency_ms):>6}"
              f"  wait {last.waited_ms:>4}  {last.heard!r} ({last.so_far})")

    print("\ncomma lines: turns heard per line (1 = one turn; more = the caller cut off)")
    print(f"  {'line':<62} " + "  ".join(f"{p:>9}" for p in ("piper", *map(str, PAUSES_MS))))
    cut = {"before": [], "after": []}
    for kind, parts, _ in COMMA_LINES:
        said = " ".join(parts)
        if (said, "piper", "after") not in by:
            continue
        cells = []
        for pause in ("piper", *map(str, PAUSES_MS)):
            counts = []
            for policy in ("before", "after"):
                r = by[(said, pause, policy)]
                counts.append(str(len(r.turns)))
                if len(r.turns) != 1:
                    cut[policy].append(r)
            cells.append(f"{counts[0]:>3} -> {counts[1]}")
        print(f"  {said[:62]:<62} " + "  ".join(f"{c:>9}" for c in cells))
    total = len(lines) // 2
    print(f"  cut off: before {len(cut['before'])} of {total}, after {len(cut['after'])} of {total}")
    newly = [r for r in cut["after"] if len(by[(r.clip.said, r.clip.pause, "before")].turns) == 1]
    mended = [r for r in cut["before"] if len(by[(r.clip.said, r.clip.pause, "after")].turns) == 1]
    print(f"  cut off after but one turn before: {len(newly)} {[(r.clip.said, r.clip.pause) for r in newly]}")
    print(f"  one turn after but cut off before: {len(mended)} {[(r.clip.said, r.clip.pause) for r in mended]}")
    for policy in ("before", "after"):
        for r in cut[policy]:
            print(f"    {describe(r)}")

    print("\nrecognition: words right (a date of birth: the date read), before / after")
    lost = []
    for name, group in (("short answers", short), ("comma lines", lines)):
        right = {p: sum(r.right for r in group if r.policy == p) for p in POLICIES}
        recall = {p: 100 * sum(r.recall for r in group if r.policy == p) / (len(group) // 2) for p in POLICIES}
        print(f"  {name}: {right['before']} / {right['after']} of {len(group) // 2} right; "
              f"words said that were heard {recall['before']:.0f}% / {recall['after']:.0f}%")
    for said, pause, policy in by:
        before, after = by[(said, pause, "before")], by[(said, pause, "after")]
        if policy == "after" and (before.right and not after.right or after.recall < before.recall):
            lost.append((before, after))
    for before, after in lost:
        print(f"    fewer words after: {after.clip.said!r} [{after.clip.pause or 'short'}]: "
              f"before {before.text!r}, after {after.text!r}")
    for r in results:
        if not r.right and r.policy == "after" and not any(a is r for _, a in lost):
            print(f"    wrong both ways ({r.clip.pause or 'short'}): {r.clip.said!r} heard {r.text!r}")

    failures = []
    at_commas = [r for r in cut["after"] if r.clip.pause in COMMA_PAUSES]
    if at_commas:
        failures.append(f"{len(at_commas)} lines cut off after at a comma pause")
    before, after = medians["all"]
    if before is None or after is None or not after < before:
        failures.append(f"median short-answer latency after ({after}) not lower than before ({before})")
    print(f"\n{'FAILED: ' + '; '.join(failures) if failures else 'passed'}")
    return 1 if failures else 0


def main() -> int:
    print(f"end of turn that listens; {machine()}")
    print(f"  load at start: {load()}")
    print(f"  before: every turn ends after 500 ms of silence; after: {ANSWER_MS} ms once the words answer, "
          f"{END_OF_TURN_MS} ms otherwise, {MID_SENTENCE_MS} ms mid-sentence")
    short, lines = clips()
    if "--quick" in sys.argv:  # a smoke test: a few clips
        short, lines = short[::7], lines[:4]
    print(f"  {len(short)} short answers and {len(lines)} readings of comma lines (Piper's own, and the parts joined by "
          f"{', '.join(map(str, PAUSES_MS))} ms of silence), Piper (joe) at 8 kHz mu-law, in real time")
    results = asyncio.run(run(short, lines))
    code = report(results)
    print(f"  load at end: {load()}")
    return code


if __name__ == "__main__":
    sys.exit(main())
