"""The offline voices side by side: espeak-ng and Piper's joe voice, a sentence of the receptionist's at a time.

Run: `make bench-tts`. Each voice speaks the receptionist's usual sentences (ROUNDS times each, through its
TextToSpeech provider as a call does) after one warm-up sentence (Piper loads its model then). It prints the time
to the first audio of a sentence (p50, p95, max: both voices give a sentence's audio in one piece, so this is the
time to synthesize it), and the CPU seconds per minute of speech produced, over all the process's threads.
Target (issue 11): Piper keeps the one-call turn target, so its first audio p95 stays under 200 ms on top of
the 500 ms end-of-turn window and the engine.
"""

import asyncio
import sys
import time

from benchmarks.common import machine, percentile
from voice.phone.audio import SAMPLE_RATE
from voice.phone.tts.espeak import EspeakTTS
from voice.phone.tts.piper import PiperTTS

ROUNDS = 5
TARGET_P95_MS = 200
SENTENCES = [
    "Thank you for calling Bright Smile Dental.",
    "This is the virtual receptionist. How can I help you today?",
    "Great, I can fit you in on Tuesday, December 1 at 10 AM with Lisa Chen.",
    "Could I have your first and last name, please?",
    "And what is your date of birth?",
    "Shall I book a cleaning with Lisa Chen on Tuesday, December 1 at 10 AM?",
    "On Fridays we're open 8 AM to 2 PM.",
    "Is there anything else I can help you with?",
    "Thank you for calling Bright Smile Dental. Goodbye!",
]


async def measure(tts) -> tuple[list[float], float, float]:
    """(first-audio times in ms, CPU seconds, seconds of speech)."""
    [_ async for _ in tts.synthesize("Hello.")]  # warm up
    firsts, speech = [], 0
    cpu = time.process_time()
    for _ in range(ROUNDS):
        for sentence in SENTENCES:
            started = time.perf_counter()
            first = True
            async for piece in tts.synthesize(sentence):
                if first:
                    firsts.append((time.perf_counter() - started) * 1000)
                    first = False
                speech += len(piece)
    return firsts, time.process_time() - cpu, speech / SAMPLE_RATE


def main() -> int:
    print(f"offline voices; {machine()}; {len(SENTENCES)} sentences x {ROUNDS}")
    p95s = {}
    for name, tts in (("espeak-ng", EspeakTTS()), ("piper (joe)", PiperTTS())):
        firsts, cpu, seconds = asyncio.run(measure(tts))
        p95s[name] = percentile(firsts, 95)
        print(f"  {name}: first audio p50 {percentile(firsts, 50):.0f} ms, p95 {p95s[name]:.0f} ms, "
              f"max {max(firsts):.0f} ms; {60 * cpu / seconds:.1f} CPU-s per minute of speech "
              f"({seconds:.0f} s of speech)")
    met = p95s["piper (joe)"] < TARGET_P95_MS
    print(f"  target (Piper first audio p95 under {TARGET_P95_MS} ms): {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
