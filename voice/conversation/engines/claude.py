"""The receptionist on Claude: the Anthropic Messages API, streamed, with tool use over the same tool layer.

Sentences are yielded as soon as they are complete, so the phone loop speaks
the first while Claude writes the next. If no first token arrives in time the
caller hears a short filler; on an API error or a second timeout the call
carries on with the rules engine, and the fallback is recorded on the call.
"""

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator

import anthropic
from channels.db import database_sync_to_async
from django.conf import settings

from voice.conversation.engines.base import ConversationEngine
from voice.conversation.engines.rules import RulesEngine
from voice.frames import AgentSentence, CallerText, CallStarted, EndCall, Event, Output, TransferCall
from voice.conversation.speech import say_list

logger = logging.getLogger(__name__)

FILLER = "One moment while I check that."
MAX_TOOL_ROUNDS = 6
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

TOOLS = [
    {
        "name": "identify_caller",
        "description": "How many patients are on file for the caller's phone number (caller ID). Never reveals who.",
        "input_schema": {"type": "object", "properties": {}},
    },
    {
        "name": "verify_patient",
        "description": "Verify the caller by date of birth, with first and last name when the caller ID matched no one. "
        "Required before revealing, booking for or changing anything of a patient.",
        "input_schema": {
            "type": "object",
            "properties": {
                "date_of_birth": {"type": "string", "description": "YYYY-MM-DD"},
                "first_name": {"type": "string"},
                "last_name": {"type": "string"},
            },
            "required": ["date_of_birth"],
        },
    },
    {
        "name": "register_patient",
        "description": "Create a record for a new patient (after verify_patient found no one); they are then verified.",
        "input_schema": {
            "type": "object",
            "properties": {
                "first_name": {"type": "string"},
                "last_name": {"type": "string"},
                "date_of_birth": {"type": "string", "description": "YYYY-MM-DD"},
                "phone": {"type": "string", "description": "Only if different from the caller ID."},
            },
            "required": ["first_name", "last_name", "date_of_birth"],
        },
    },
    {
        "name": "list_appointments",
        "description": "The verified patient's upcoming appointments.",
        "input_schema": {"type": "object", "properties": {}},
    },
    {
        "name": "find_slots",
        "description": "Open appointment times. With date and time: whether that time is free, and if not why "
        "and the nearest alternatives. With a date only: open times that day. With neither: the first open times.",
        "input_schema": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "description": "Appointment type key."},
                "date": {"type": "string", "description": "YYYY-MM-DD, practice-local."},
                "time": {"type": "string", "description": "HH:MM, 24-hour, practice-local."},
                "provider": {"type": "string", "description": "Provider key, if the caller asked for one."},
                "limit": {"type": "integer"},
            },
            "required": ["type"],
        },
    },
    {
        "name": "book_appointment",
        "description": "Book for the verified patient, after the caller confirmed. `start` as returned by find_slots.",
        "input_schema": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "start": {"type": "string", "description": "ISO date-time with offset."},
                "provider": {"type": "string"},
            },
            "required": ["type", "start"],
        },
    },
    {
        "name": "reschedule_appointment",
        "description": "Move one of the verified patient's appointments, after the caller confirmed.",
        "input_schema": {
            "type": "object",
            "properties": {
                "appointment_id": {"type": "integer"},
                "start": {"type": "string"},
                "provider": {"type": "string"},
            },
            "required": ["appointment_id", "start"],
        },
    },
    {
        "name": "cancel_appointment",
        "description": "Cancel one of the verified patient's appointments, after the caller confirmed.",
        "input_schema": {
            "type": "object",
            "properties": {"appointment_id": {"type": "integer"}},
            "required": ["appointment_id"],
        },
    },
    {
        "name": "practice_info",
        "description": "Hours (today, a given date, the week), closures, address, parking, insurance, new-patient note.",
        "input_schema": {"type": "object", "properties": {"date": {"type": "string", "description": "YYYY-MM-DD"}}},
    },
    {
        "name": "check_insurance",
        "description": "Whether the practice accepts an insurance plan.",
        "input_schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    },
    {
        "name": "transfer_to_human",
        "description": "Transfer the call to the front desk: the caller asked for a person, or an emergency needs one.",
        "input_schema": {"type": "object", "properties": {"reason": {"type": "string"}}},
    },
    {
        "name": "take_message",
        "description": "Leave a message for the practice; the callback number defaults to the caller ID.",
        "input_schema": {
            "type": "object",
            "properties": {
                "about": {"type": "string"},
                "caller_name": {"type": "string"},
                "callback_number": {"type": "string"},
                "for_whom": {"type": "string"},
            },
            "required": ["about"],
        },
    },
    {
        "name": "end_call",
        "description": "Hang up, after saying goodbye, once the caller has nothing else.",
        "input_schema": {"type": "object", "properties": {}},
    },
]


class ClaudeUnavailable(Exception):
    """The API failed or was too slow twice: the rules engine takes over."""


def system_prompt(tools) -> str:
    tenant = tools.tenant
    info = tools.call_tool("practice_info")
    now = tools.now().astimezone(tools.tz)
    types = "; ".join(f"{t.key} ({t.name}, {t.minutes} min)" for t in tools.appointment_types.values())
    providers = "; ".join(f"{p.key} ({p.name}, {p.role})" for p in tools.providers.values())
    closures = say_list([f"{c['spoken_date']} ({c['reason']})" for c in info["upcoming_closures"]], "and")
    week = "; ".join(f"{day}: {hours}" for day, hours in info["week"].items())
    return f"""You are the phone receptionist of {tenant.name}, a dental practice. You are speaking on the phone.
Now: {now:%A, %B %d, %Y, %H:%M} ({tenant.timezone}).
Address: {tenant.address}. Parking: {tenant.parking_note}.
Hours: {week}. Upcoming closures: {closures or 'none'}.
Insurance accepted: {say_list(tenant.insurance_accepted, 'and')}. Not accepted: {say_list(tenant.insurance_not_accepted, 'and') or 'none listed'}.
New patients: {tenant.new_patient_note}
Appointment types (key, name, length): {types}.
Providers (key, name, role): {providers}.

Rules:
- Speak in short, natural sentences; ask one question at a time. No lists, markdown or emoji.
- Never guess availability or patient details: call find_slots before offering or confirming any time, and the patient tools for anything about a patient.
- Verify the caller (date of birth, and name if caller ID found no one) before revealing, booking for or changing any appointment. New callers: take first and last name and date of birth, then register_patient.
- Collect only what is missing. Confirm day, date, time and provider before booking, moving or cancelling, and read them back after.
- When a time is taken, closed or at lunch, say why and offer the alternatives find_slots gives.
- Emergencies (severe pain, swelling, bleeding, a broken or knocked-out tooth): offer the earliest same-day emergency slot, or transfer. If swelling affects breathing or swallowing, tell them to call 911 now.
- If the caller asks for a person, call transfer_to_human. If you cannot help, offer a transfer or a message.
- Say when you don't know something; only use the practice facts above and tool results.
- When the caller is done, say goodbye and call end_call."""


class ClaudeEngine(ConversationEngine):
    name = "claude"

    def __init__(self, *, tools, state: dict | None = None, client: anthropic.AsyncAnthropic | None = None):
        super().__init__(tools=tools, state=state)
        state = state or {}
        self.messages: list[dict] = state.get("messages", [])
        self.fell_back: bool = state.get("fell_back", False)
        self.rules = RulesEngine(tools=tools, state=state.get("rules"))
        self.first_token_seconds = settings.CLAUDE_FIRST_TOKEN_SECONDS
        self.client = client or anthropic.AsyncAnthropic(
            api_key=settings.ANTHROPIC_API_KEY or "missing",
            base_url=settings.ANTHROPIC_BASE_URL or None,
            max_retries=0,  # a caller is waiting: the fallback is faster than a retry
            timeout=anthropic.Timeout(30.0, connect=3.0),
        )
        self._system: str | None = None

    def state(self) -> dict:
        return {"messages": self.messages, "fell_back": self.fell_back, "rules": self.rules.state()}

    async def respond(self, event: Event) -> AsyncIterator[Output]:
        if self.fell_back or not isinstance(event, (CallStarted, CallerText)):
            # Silences and the keypad follow the same simple rules either way.
            async for output in self.rules.respond(event):
                yield output
            return
        if isinstance(event, CallStarted):
            greeting = []
            async for output in self.rules.respond(event):  # a fixed greeting needs no model
                if isinstance(output, AgentSentence):
                    greeting.append(output.text)
                yield output
            self.messages = [
                {"role": "user", "content": "(The call connected.)"},
                {"role": "assistant", "content": " ".join(greeting)},
            ]
            return
        self.messages.append({"role": "user", "content": event.text})
        try:
            async for output in self._converse():
                yield output
        except ClaudeUnavailable as error:
            logger.warning("Claude unavailable (%s); the rules engine takes over this call", error)
            self.fell_back = True
            async for output in self.rules.respond(event):
                yield output

    async def _converse(self) -> AsyncIterator[Output]:
        if self._system is None:
            self._system = await database_sync_to_async(system_prompt)(self.tools)
        filler_said = False
        for _ in range(MAX_TOOL_ROUNDS):
            text_blocks, tool_uses, outputs_after = [], [], []
            async for kind, value in self._stream_round(filler_said):
                if kind == "filler":
                    filler_said = True
                    yield AgentSentence(FILLER)
                elif kind == "sentence":
                    yield AgentSentence(value)
                elif kind == "text":
                    text_blocks.append(value)
                elif kind == "tool_use":
                    tool_uses.append(value)
            content = [{"type": "text", "text": t} for t in text_blocks if t] + [
                {"type": "tool_use", "id": t["id"], "name": t["name"], "input": t["input"]} for t in tool_uses
            ]
            self.messages.append({"role": "assistant", "content": content or [{"type": "text", "text": "..."}]})
            if not tool_uses:
                return
            results = []
            for use in tool_uses:
                result = await self.tools.acall(use["name"], **use["input"])
                results.append({"type": "tool_result", "tool_use_id": use["id"], "content": json.dumps(result, default=str)})
                if use["name"] == "transfer_to_human" and "transfer_to" in result:
                    outputs_after.append(TransferCall(result["transfer_to"]))
                elif use["name"] == "end_call":
                    outputs_after.append(EndCall())
            self.messages.append({"role": "user", "content": results})
            if outputs_after:
                for output in outputs_after[:1]:
                    yield output
                return
        yield AgentSentence("Let me get someone from our team to help you with that.")
        result = await self.tools.acall("transfer_to_human", reason="too many steps")
        if "transfer_to" in result:
            yield TransferCall(result["transfer_to"])

    async def _stream_round(self, filler_said: bool):
        """One Messages API call, streamed: yields ("sentence", s), ("text", block), ("tool_use", use), ("filler", None).

        The wait for the first content (response headers included) is bounded:
        past the first limit the caller hears the filler, past the second the
        rules engine takes over (ClaudeUnavailable).
        """
        pending = asyncio.ensure_future(
            self.client.messages.create(
                model=settings.ANTHROPIC_MODEL,
                max_tokens=400,
                system=self._system,
                messages=self.messages,
                tools=TOOLS,
                stream=True,
            )
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

    async def summarize(self) -> str:
        transcript = await self._transcript_text()
        if self.fell_back or not transcript:
            return await self.rules.summarize()
        try:
            reply = await asyncio.wait_for(
                self.client.messages.create(
                    model=settings.ANTHROPIC_MODEL,
                    max_tokens=150,
                    system="Summarise this dental practice phone call for the front desk in one or two sentences: "
                    "who called, what they wanted, what was done.",
                    messages=[{"role": "user", "content": transcript}],
                ),
                timeout=10,
            )
            text = "".join(b.text for b in reply.content if b.type == "text").strip()
            return text or await self.rules.summarize()
        except (anthropic.APIError, TimeoutError):
            return await self.rules.summarize()

    async def _transcript_text(self) -> str:
        lines = []
        for message in self.messages:
            if isinstance(message["content"], str):
                lines.append(f"{message['role']}: {message['content']}")
            else:
                for block in message["content"]:
                    if block.get("type") == "text":
                        lines.append(f"{message['role']}: {block['text']}")
                    elif block.get("type") == "tool_use":
                        lines.append(f"(tool {block['name']} {json.dumps(block['input'])})")
        return "\n".join(lines)
