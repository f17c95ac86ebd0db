"""The conversation engine contract, and loading one by dotted path (like Django's session engines)."""

from collections.abc import AsyncIterator

from django.conf import settings
from django.utils.module_loading import import_string

from voice.frames import Event, Output
from voice.conversation.tools import ReceptionistTools


class ConversationEngine:
    """Turns caller events into sentences and actions, reaching data only through the tools."""

    name = "base"
    # True once a cloud engine has handed the call to the rules engine.
    fell_back = False

    def __init__(self, *, tools: ReceptionistTools, state: dict | None = None):
        self.tools = tools

    def respond(self, event: Event) -> AsyncIterator[Output]:
        """Yield sentences (as soon as each is ready) and at most one TransferCall or EndCall."""
        raise NotImplementedError

    def state(self) -> dict:
        """Everything needed to carry on the conversation after a restart."""
        raise NotImplementedError

    def listening_for(self) -> str:
        """The kind of answer expected next: "yes_no", "date_time", "dob", "name" or "free"."""
        return "free"

    async def summarize(self) -> str:
        """A short account of the call for staff."""
        raise NotImplementedError


def engine_class(path: str | None = None) -> type[ConversationEngine]:
    return import_string(path or settings.CONVERSATION_ENGINE)
