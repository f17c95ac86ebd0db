"""Typed frames: everything that passes between the stages of a call.

A conversation engine takes Events and gives Outputs, whatever the channel
(the phone loop, or `manage.py talk` over the terminal). The phone loop's own
stages also pass the caller's and the agent's audio, the edges of the caller's
turns and the marks that tell what the caller heard. Both halves of `voice`
import their frames from here, so neither needs the other.
"""

from dataclasses import dataclass

# -- into a conversation ---------------------------------------------------------------------


@dataclass(frozen=True)
class CallStarted:
    pass


@dataclass(frozen=True)
class CallerText:
    text: str
    # False when the recogniser doubts it heard right (the words it expected fit the audio far worse
    # than a free hearing of it): an engine reads back, or asks again, rather than act on it.
    confident: bool = True


@dataclass(frozen=True)
class DtmfDigits:
    digits: str


@dataclass(frozen=True)
class SilenceTimeout:
    count: int  # how many silences in a row


Event = CallStarted | CallerText | DtmfDigits | SilenceTimeout

# -- out of a conversation -------------------------------------------------------------------


@dataclass(frozen=True)
class AgentSentence:
    """One sentence to say; the phone loop can speak it while later ones are still coming."""

    text: str


@dataclass(frozen=True)
class TransferCall:
    number: str


@dataclass(frozen=True)
class EndCall:
    pass


Output = AgentSentence | TransferCall | EndCall

# -- inside the phone loop -------------------------------------------------------------------


@dataclass(frozen=True)
class Audio:
    """8 kHz mu-law in whole 20 ms frames, the caller's or the agent's: Twilio's `media`, both ways."""

    ulaw: bytes


@dataclass(frozen=True)
class Interrupt:
    """The caller has started to speak, so whatever the agent is saying stops.

    Sent to the phone, it drops the audio not yet played (Twilio's `clear`).
    """


@dataclass(frozen=True)
class EndOfTurn:
    at: float  # when the end of the caller's turn was decided
    waited_ms: float  # the silence waited for before deciding
    by: str = "silence"  # or the recogniser's own endpointing: "speech_final", "utterance_end"


@dataclass(frozen=True)
class Mark:
    """Sent after a sentence's audio; the phone echoes it once the caller has heard all audio before it."""

    name: str


CallerTurn = Interrupt | Audio | EndOfTurn  # what the turn detector finds in the caller's audio
ToPhone = Audio | Mark | Interrupt
