"""The conversation engine contract, and putting engines together by dotted path (like Django's session engines)."""

import logging
from collections.abc import AsyncIterator

from django.conf import settings
from django.utils.module_loading import import_string

from voice.conversation.tools import ReceptionistTools
from voice.frames import Event, Output

logger = logging.getLogger(__name__)


class EngineUnavailable(Exception):
    """The engine cannot carry on with this call (a cloud API failed or was too slow): a fallback takes over."""


class ConversationEngine:
    """Turns caller events into sentences and actions, reaching data only through the tools."""

    name = "base"
    # True once a cloud engine has handed the call to its fallback.
    fell_back = False

    def __init__(self, *, tools: ReceptionistTools, state: dict | None = None):
        self.tools = tools

    def respond(self, event: Event) -> AsyncIterator[Output]:
        """Yield sentences (as soon as each is ready) and at most one TransferCall or EndCall.

        Raises EngineUnavailable before or while answering when it cannot go on.
        """
        raise NotImplementedError

    def state(self) -> dict:
        """Everything needed to carry on the conversation after a restart."""
        raise NotImplementedError

    @property
    def serving(self) -> str:
        """The name of the engine answering now: after a fallback, the fallback's."""
        return self.name

    def listening_for(self) -> str:
        """The kind of answer expected next: "yes_no", "date_time", "dob", "name" or "free"."""
        return "free"

    def heard(self, text: str) -> None:
        """The caller talked over the last reply and heard only `text` of it: remember only that."""

    async def summarize(self) -> str:
        """A short account of the call for staff."""
        raise NotImplementedError


def greeting_sentences(tenant) -> list[str]:
    """What every engine says first: the practice's own greeting, or one with its name."""
    return [tenant.greeting or f"Thank you for calling {tenant.name}. This is the virtual receptionist.",
            "How can I help you today?"]


class FallbackEngine(ConversationEngine):
    """`primary` until it is unavailable; then `fallback`, from the event it failed on, for the rest of the call."""

    def __init__(self, *, primary: ConversationEngine, fallback: ConversationEngine, fell_back: bool = False):
        super().__init__(tools=primary.tools)
        self.primary, self.fallback, self.fell_back = primary, fallback, fell_back
        self.name = primary.name

    @property
    def active(self) -> ConversationEngine:
        return self.fallback if self.fell_back else self.primary

    @property
    def serving(self) -> str:
        return self.active.serving

    async def respond(self, event: Event) -> AsyncIterator[Output]:
        if not self.fell_back:
            try:
                async for output in self.primary.respond(event):
                    yield output
                return
            except EngineUnavailable as error:
                logger.warning("%s unavailable (%s); %s takes over this call", self.primary.name, error, self.fallback.name)
                self.fell_back = True
        async for output in self.fallback.respond(event):
            yield output

    def state(self) -> dict:
        return {"primary": self.primary.state(), "fallback": self.fallback.state(), "fell_back": self.fell_back}

    def listening_for(self) -> str:
        return self.active.listening_for()

    def heard(self, text: str) -> None:
        self.active.heard(text)

    async def summarize(self) -> str:
        return await self.active.summarize()


def engine_build(*, tools: ReceptionistTools, state: dict | None, path: str | None = None) -> ConversationEngine:
    """The engine settings (or `path`) choose, inside a FallbackEngine when CONVERSATION_FALLBACK_ENGINE differs."""
    path = path or settings.CONVERSATION_ENGINE
    fallback_path = settings.CONVERSATION_FALLBACK_ENGINE
    state = state or {}
    if not fallback_path or fallback_path == path:
        return import_string(path)(tools=tools, state=state)
    return FallbackEngine(
        primary=import_string(path)(tools=tools, state=state.get("primary")),
        fallback=import_string(fallback_path)(tools=tools, state=state.get("fallback")),
        fell_back=state.get("fell_back", False),
    )
