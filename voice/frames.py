"""Typed frames passed between the stages of a conversation.

Events go into a conversation engine; outputs come out of it. The phone loop
and the text channel (`manage.py talk`) translate to and from these.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class CallStarted:
    pass


@dataclass(frozen=True)
class CallerText:
    text: str


@dataclass(frozen=True)
class DtmfDigits:
    digits: str


@dataclass(frozen=True)
class SilenceTimeout:
    count: int  # how many silences in a row


Event = CallStarted | CallerText | DtmfDigits | SilenceTimeout


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
