"""The receptionist on Claude, over the same tools as the rules engine.

Sentences go out as soon as Claude completes them, so the phone loop speaks
the first while Claude writes the next. The greeting, silences and the keypad
need no model. When Claude is unavailable this engine says so
(EngineUnavailable) and the fallback it was put together with takes over
(see engines.base.engine_build).
"""

import functools
import json
from collections.abc import AsyncIterator

import anthropic
from django.conf import settings

from voice.clients import client_shared
from voice.conversation.engines.base import ConversationEngine, EngineUnavailable, greeting_sentences
from voice.conversation.engines.claude.adapter import Claude, ClaudeUnavailable, Filler, GaveUp, Sentence, TurnOver, keep_heard
from voice.conversation.engines.claude.prompt import system_prompt
from voice.conversation.tools import anthropic_tools
from voice.conversation.tools.results import Refused, Transfer
from voice.frames import AgentSentence, CallerText, CallStarted, DtmfDigits, EndCall, Event, Output, SilenceTimeout, TransferCall

FILLER = "One moment while I check that."
SUMMARY_INSTRUCTIONS = ("Summarise this dental practice phone call for the front desk in one or two sentences: "
                        "who called, what they wanted, what was done.")
ENDS_THE_TURN = {"transfer_to_human", "end_call"}


class ClaudeEngine(ConversationEngine):
    name = "claude"

    def __init__(self, *, tools, state: dict | None = None):
        super().__init__(tools=tools, state=state)
        self.messages: list[dict] = (state or {}).get("messages", [])
        self.claude = Claude(
            client=functools.partial(
                client_shared, anthropic.AsyncAnthropic,
                api_key=settings.ANTHROPIC_API_KEY or "missing",
                base_url=settings.ANTHROPIC_BASE_URL or None,
                max_retries=0,  # a caller is waiting: the fallback is faster than a retry
                timeout=anthropic.Timeout(30.0, connect=3.0),
            ),
            model=settings.ANTHROPIC_MODEL,
            max_tokens=settings.ANTHROPIC_MAX_TOKENS,
            first_token_seconds=settings.CLAUDE_FIRST_TOKEN_SECONDS,
        )
        self._system: str | None = None
        self._after_turn: Output | None = None

    def state(self) -> dict:
        return {"messages": self.messages}

    def heard(self, text: str) -> None:
        keep_heard(self.messages, text)

    async def respond(self, event: Event) -> AsyncIterator[Output]:
        if isinstance(event, CallStarted):
            greeting = greeting_sentences(self.tools.tenant)
            self.messages = [{"role": "user", "content": "(The call connected.)"},
                             {"role": "assistant", "content": " ".join(greeting)}]
            for sentence in greeting:
                yield AgentSentence(sentence)
        elif isinstance(event, CallerText):
            async for output in self._answer(event.text):
                yield output
        elif isinstance(event, DtmfDigits):
            async for output in self._keypad(event.digits):
                yield output
        elif isinstance(event, SilenceTimeout):
            for output in self._silence(event.count):
                yield output

    async def _answer(self, text: str) -> AsyncIterator[Output]:
        self.messages.append({"role": "user", "content": text})
        self._after_turn = None
        try:
            if self._system is None:
                self._system = await self._system_prompt()
            async for step in self.claude.converse(system=self._system, messages=self.messages, tools=anthropic_tools(),
                                                   run_tool=self._run_tool):
                if isinstance(step, Sentence):
                    yield AgentSentence(step.text)
                elif isinstance(step, Filler):
                    yield AgentSentence(FILLER)
                elif isinstance(step, TurnOver) and self._after_turn is not None:
                    yield self._after_turn
                elif isinstance(step, GaveUp):
                    yield AgentSentence("Let me get someone from our team to help you with that.")
                    async for output in self._transfer("too many steps"):
                        yield output
        except ClaudeUnavailable as error:
            self.messages.pop()  # the fallback answers this turn; Claude never saw it answered
            raise EngineUnavailable(str(error)) from error

    async def _run_tool(self, name: str, arguments: dict) -> tuple[dict, bool]:
        result = await self.tools.acall(name, arguments)
        if name == "transfer_to_human" and isinstance(result, Transfer):
            self._after_turn = TransferCall(result.transfer_to)
        elif name == "end_call" and not isinstance(result, Refused):
            self._after_turn = EndCall()
        return result.model_dump(mode="json"), name in ENDS_THE_TURN and self._after_turn is not None

    async def _system_prompt(self) -> str:
        tools = self.tools
        info = await tools.acall("practice_info")
        return system_prompt(
            info=info, now=tools.local_now(), timezone=tools.tenant.timezone,
            types=[(t.key, t.name, t.minutes) for t in tools.appointment_types.values()],
            providers=[(p.key, p.name, p.role) for p in tools.providers.values()],
        )

    async def _transfer(self, reason: str) -> AsyncIterator[Output]:
        result = await self.tools.acall("transfer_to_human", reason=reason)
        if isinstance(result, Transfer):
            yield TransferCall(result.transfer_to)
        else:
            yield AgentSentence(result.error)

    async def _keypad(self, digits: str) -> AsyncIterator[Output]:
        if "0" in digits:
            yield AgentSentence("Of course. I'm transferring you to our front desk now, please hold.")
            async for output in self._transfer("caller pressed 0"):
                yield output
        else:
            yield AgentSentence("Sorry, I can't use the keypad for that. How can I help you?")

    def _silence(self, count: int) -> list[Output]:
        if count >= 3:
            return [AgentSentence("I haven't heard anything for a while, so I'll end the call now."),
                    AgentSentence(f"Thank you for calling {self.tools.tenant.name}. Goodbye!"), EndCall()]
        return [AgentSentence("Are you still there? How can I help you today?" if count == 2 else "How can I help you today?")]

    async def summarize(self) -> str:
        transcript = _transcript_text(self.messages)
        summary = await self.claude.summarize(instructions=SUMMARY_INSTRUCTIONS, transcript=transcript) if transcript else ""
        return summary or "Call with the Claude receptionist; no summary available."


def _transcript_text(messages: list[dict]) -> str:
    lines = []
    for message in messages:
        if isinstance(message["content"], str):
            lines.append(f"{message['role']}: {message['content']}")
            continue
        for block in message["content"]:
            if block.get("type") == "text":
                lines.append(f"{message['role']}: {block['text']}")
            elif block.get("type") == "tool_use":
                lines.append(f"(tool {block['name']} {json.dumps(block['input'])})")
    return "\n".join(lines)
