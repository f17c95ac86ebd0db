"""Claude's Messages API, streamed, with tool use: plain Python, no Django.

`Claude.converse` runs one caller turn: it streams each round, yields every
sentence as soon as it is complete, runs the tools Claude asks for through a
callback, and goes round again until Claude answers without a tool. When the
first token is slow it yields a filler once; on an API error, or a second slow
start, it raises ClaudeUnavailable.
"""

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anthropic

MAX_TOOL_ROUNDS = 6
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class ClaudeUnavailable(Exception):
    """The API failed, or was too slow twice."""


@dataclass(frozen=True)
class Sentence:
    text: str


@dataclass(frozen=True)
class Filler:
    """Claude is slow to start: say something so the caller knows we're on it."""


@dataclass(frozen=True)
class TurnOver:
    """A tool ended the turn (a transfer, a hang-up): no more rounds."""


@dataclass(frozen=True)
class GaveUp:
    """Claude kept calling tools without answering: a person should take over."""


# (tool name, arguments) -> (result as JSON-able data, whether it ends the turn)
RunTool = Callable[[str, dict], Awaitable[tuple[dict, bool]]]


CACHED = {"type": "ephemeral"}


def cache_marked(*, system: str, messages: list[dict], tools: list[dict]) -> dict:
    """The request's tools, system prompt and messages with prompt-cache breakpoints, leaving the originals as they are.

    The cache holds a request's prefix up to each breakpoint, in the order tools, system, messages: the tools are
    the same on every call, the system prompt (the practice's facts) on every turn of one call, and each round of a
    turn re-sends the call so far. So each is paid for in full once and read from the cache after.
    """
    tools = [*tools[:-1], {**tools[-1], "cache_control": CACHED}] if tools else tools
    messages = list(messages)
    if messages:
        last = messages[-1]
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        messages[-1] = {**last, "content": [*blocks[:-1], {**blocks[-1], "cache_control": CACHED}]}
    return {"system": [{"type": "text", "text": system, "cache_control": CACHED}], "messages": messages, "tools": tools}


class Claude:
    def __init__(self, *, client: Callable[[], anthropic.AsyncAnthropic], model: str, first_token_seconds: float,
                 max_tokens: int):
        self.client = client  # asked for when needed: the process's client for the running loop
        self.model = model
        self.first_token_seconds = first_token_seconds
        self.max_tokens = max_tokens

    async def converse(self, *, system: str, messages: list[dict], tools: list[dict],
                       run_tool: RunTool) -> AsyncIterator[Sentence | Filler | TurnOver | GaveUp]:
        """Answer the caller's last message; `messages` grows with Claude's replies and the tool results."""
        filler_said = False
        for _ in range(MAX_TOOL_ROUNDS):
            text_blocks, tool_uses = [], []
            async for kind, value in self._stream_round(system, messages, tools, filler_said):
                if kind == "filler":
                    filler_said = True
                    yield Filler()
                elif kind == "sentence":
                    yield Sentence(value)
                elif kind == "text":
                    text_blocks.append(value)
                else:
                    tool_uses.append(value)
            content = [{"type": "text", "text": t} for t in text_blocks if t] + [
                {"type": "tool_use", "id": t["id"], "name": t["name"], "input": t["input"]} for t in tool_uses
            ]
            messages.append({"role": "assistant", "content": content or [{"type": "text", "text": "..."}]})
            if not tool_uses:
                return
            results, turn_over = [], False
            for use in tool_uses:
                result, ends = await run_tool(use["name"], use["input"])
                results.append({"type": "tool_result", "tool_use_id": use["id"], "content": json.dumps(result)})
                turn_over = turn_over or ends
            messages.append({"role": "user", "content": results})
            if turn_over:
                yield TurnOver()
                return
        yield GaveUp()

    async def _stream_round(self, system: str, messages: list[dict], tools: list[dict], filler_said: bool):
        """One Messages API call, streamed: yields ("sentence", s), ("text", block), ("tool_use", use), ("filler", None).

        The wait for the first content (response headers included) is bounded:
        past the first limit the caller hears the filler, past the second Claude
        is unavailable.
        """
        pending = asyncio.ensure_future(
            self.client().messages.create(model=self.model, max_tokens=self.max_tokens, stream=True,
                                        **cache_marked(system=system, messages=messages, tools=tools))
        )
        stream = events = None
        got_content = False
        buffer = ""
        blocks: dict[int, dict] = {}
        try:
            while True:
                if not got_content:
                    done, _ = await asyncio.wait({pending}, timeout=self.first_token_seconds)
                    if not done:
                        if filler_said:
                            raise ClaudeUnavailable("no first token in time")
                        filler_said = True
                        yield "filler", None
                        continue
                try:
                    result = await pending
                except StopAsyncIteration:
                    break
                if stream is None:
                    stream, events = result, result.__aiter__()
                    pending = asyncio.ensure_future(events.__anext__())
                    continue
                event, pending = result, asyncio.ensure_future(events.__anext__())
                if event.type == "content_block_start":
                    got_content = True
                    block = event.content_block
                    blocks[event.index] = (
                        {"kind": "tool_use", "id": block.id, "name": block.name, "json": ""}
                        if block.type == "tool_use" else {"kind": "text", "text": ""}
                    )
                elif event.type == "content_block_delta":
                    got_content = True
                    block = blocks.setdefault(event.index, {"kind": "text", "text": ""})
                    if event.delta.type == "text_delta":
                        block["text"] += event.delta.text
                        buffer += event.delta.text
                        *complete, buffer = _SENTENCE_END.split(buffer)
                        for sentence in complete:
                            if sentence.strip():
                                yield "sentence", sentence.strip()
                    elif event.delta.type == "input_json_delta":
                        block["json"] += event.delta.partial_json
                elif event.type == "content_block_stop" and blocks.get(event.index, {}).get("kind") == "text":
                    if buffer.strip():
                        yield "sentence", buffer.strip()
                    buffer = ""
        except anthropic.APIError as error:
            raise ClaudeUnavailable(type(error).__name__) from error
        finally:
            if not pending.done():
                pending.cancel()
            if stream is not None:
                await stream.close()
        if buffer.strip():
            yield "sentence", buffer.strip()
        for index in sorted(blocks):
            block = blocks[index]
            if block["kind"] == "text":
                yield "text", block["text"]
            else:
                try:
                    arguments = json.loads(block["json"] or "{}")
                except json.JSONDecodeError:
                    arguments = {}
                yield "tool_use", {"id": block["id"], "name": block["name"], "input": arguments}

    async def summarize(self, *, instructions: str, transcript: str, timeout: float = 10) -> str:
        """One short non-streamed answer; "" when Claude fails or is slow."""
        try:
            reply = await asyncio.wait_for(
                self.client().messages.create(model=self.model, max_tokens=150, system=instructions,
                                            messages=[{"role": "user", "content": transcript}]),
                timeout=timeout,
            )
        except (anthropic.APIError, TimeoutError):
            return ""
        return "".join(b.text for b in reply.content if b.type == "text").strip()


def keep_heard(messages: list[dict], heard: str) -> None:
    """Cut the assistant's last turn down to what the caller heard before talking over it.

    The turn is every assistant message since the caller last spoke; its text
    blocks are kept in order while they are within `heard`, the one the caller
    cut into is shortened, and the rest are dropped. Tool uses stay (they happened).
    """
    turn = []
    for message in reversed(messages):
        if message["role"] == "user" and isinstance(message["content"], str):
            break
        if message["role"] == "assistant" and isinstance(message["content"], list):
            turn.append(message)
    remaining = " ".join(heard.split())
    for message in reversed(turn):
        kept = []
        for block in message["content"]:
            if block.get("type") != "text":
                kept.append(block)
                continue
            text = " ".join(block["text"].split())
            if remaining.startswith(text):
                kept.append(block)
                remaining = remaining[len(text):].lstrip()
            elif remaining:
                kept.append({"type": "text", "text": remaining})
                remaining = ""
        message["content"] = kept or [{"type": "text", "text": "..."}]
