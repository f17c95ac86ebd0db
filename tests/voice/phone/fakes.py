"""Stand-ins for the speech providers, the conversation and Twilio, so the speech loop can be fed frames.

The caller of these fakes speaks in frames of noise (`LOUD`) and is silent in
mu-law silence (`QUIET`); `LoudnessVAD` tells the two apart.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

from voice.frames import Event, Output
from voice.phone.audio import FRAME_BYTES, FRAME_MS, silence_ulaw
from voice.phone.pipeline import Telephony
from voice.phone.stt.base import SpeechToText, Transcript
from voice.phone.tts.base import TextToSpeech
from voice.phone.vad.base import VoiceActivityDetector

LOUD = bytes(FRAME_BYTES)  # mu-law 0x00: the loudest negative sample
QUIET = silence_ulaw(FRAME_MS)


class LoudnessVAD(VoiceActivityDetector):
    def is_speech(self, pcm8k: bytes) -> bool:
        return any(pcm8k)


class ScriptedSTT(SpeechToText):
    """Hears the next of its transcripts at the end of each utterance.

    With `partial`, feed() says it has heard that much from the start of each utterance. A test sets
    `ended_by` to play the provider's own endpointing ending the utterance.
    """

    name = "scripted"

    def __init__(self, *transcripts: str, partial: str | None = None):
        self.transcripts = list(transcripts)
        self.partial = partial
        self.ended_by: str | None = None
        self.steps: list[str] = []  # begin, finish, close
        self.fed_bytes = 0
        self.expectations: list[str] = []

    def listen_for(self, expectation: str) -> None:
        self.expectations.append(expectation)

    async def begin(self) -> None:
        self.steps.append("begin")
        self.ended_by = None

    async def feed(self, pcm: bytes) -> str | None:
        self.fed_bytes += len(pcm)
        return self.partial

    def turn_ended(self) -> str | None:
        return self.ended_by

    async def finish(self) -> Transcript:
        self.steps.append("finish")
        return Transcript(self.transcripts.pop(0))

    async def close(self) -> None:
        self.steps.append("close")


class ToneTTS(TextToSpeech):
    """Three 20 ms frames a sentence, in two pieces; a sentence with "garbled" in it fails after the first."""

    name = "tone"

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        yield bytes(2 * FRAME_BYTES)
        if "garbled" in text:
            raise RuntimeError("synthesis failed")
        yield bytes(FRAME_BYTES)


class ScriptedConversation:
    """Answers each event with what `script` gives for it, and keeps what the phone loop tells it.

    While `hold` is cleared, a reply waits before its first output: an engine still thinking.
    """

    def __init__(self, script: Callable[[Event], list[Output]], *, expecting: str = "free"):
        self.script = script
        self.expecting = expecting
        self.hold = asyncio.Event()
        self.hold.set()
        self.events: list[Event] = []
        self.agent_turns: list[tuple[str, dict, bool]] = []  # text, latency, interrupted
        self.unheard: list[str] = []  # of each agent turn, what the caller did not hear of it
        self.finished = False
        self.call = SimpleNamespace(pk=1)
        self.engine = SimpleNamespace(serving="scripted", fell_back=False)

    async def handle(self, event: Event, *, record_agent: bool = True) -> AsyncIterator[Output]:
        self.events.append(event)
        await self.hold.wait()
        for output in self.script(event):
            yield output

    async def record_agent(self, text: str, latency: dict | None = None, *, interrupted: bool = False,
                           unheard: str = "") -> None:
        self.agent_turns.append((text, latency, interrupted))
        self.unheard.append(unheard)

    def listening_for(self) -> str:
        return self.expecting

    async def finish(self) -> None:
        self.finished = True


class RecordingTelephony(Telephony):
    def __init__(self):
        self.actions: list[str] = []

    async def hang_up(self) -> None:
        self.actions.append("hang up")

    async def transfer(self, number: str) -> None:
        self.actions.append(f"transfer to {number}")
