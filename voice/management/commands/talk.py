"""Talk to the receptionist over stdin and stdout: the same engine, tools and records as a phone call.

Protocol (used to evaluate the receptionist):
  AGENT: <text>     one line per agent utterance
  CALLER>           printed (and flushed) when the agent waits; one line is read
  [call ended]      when the agent hangs up or transfers, or stdin ends
  {...}             last line: the outcome as JSON
Logs go to stderr.
"""

import datetime as dt
import json
import sys

from asgiref.sync import async_to_sync, sync_to_async
from django.core.management.base import BaseCommand, CommandError

from calls.models import Call
from tenants.selectors import tenant_by_slug
from voice.conversation.session import Conversation
from voice.frames import AgentSentence, CallerText, CallStarted

ENGINES = {
    "rules": "voice.conversation.engines.rules.RulesEngine",
    "claude": "voice.conversation.engines.claude.ClaudeEngine",
}


class Command(BaseCommand):
    help = "Talk to the receptionist in the terminal, as a caller would on the phone."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="The practice's slug, e.g. demo.")
        parser.add_argument("--from", dest="caller", default="", help="The caller's number (caller ID), E.164.")
        parser.add_argument("--now", help="Freeze the practice's clock at this local time, e.g. 2026-11-30T09:00.")
        parser.add_argument("--engine", choices=sorted(ENGINES), help="Conversation engine (default: settings).")

    def handle(self, *args, tenant: str, caller: str, now: str | None, engine: str | None, **options):
        practice = tenant_by_slug(slug=tenant)
        if practice is None:
            raise CommandError(f"No active practice with slug {tenant!r}.")
        clock = None
        if now:
            try:
                frozen = dt.datetime.fromisoformat(now)
            except ValueError:
                raise CommandError(f"--now must be a local date and time like 2026-11-30T09:00, not {now!r}.") from None
            frozen = frozen.replace(tzinfo=practice.tzinfo) if frozen.tzinfo is None else frozen
            clock = lambda: frozen  # noqa: E731
        conversation = Conversation.start(
            tenant=practice,
            channel=Call.Channel.TEXT,
            caller_number=caller,
            engine_path=ENGINES[engine] if engine else None,
            now=clock,
        )
        # async_to_sync, not asyncio.run: the engine's ORM work comes back to this thread.
        async_to_sync(self._talk)(conversation)
        async_to_sync(conversation.finish)()
        print("[call ended]", flush=True)
        print(json.dumps(conversation.report()), flush=True)

    async def _talk(self, conversation: Conversation) -> None:
        event = CallStarted()
        while True:
            spoken = []
            async for output in conversation.handle(event):
                if isinstance(output, AgentSentence):
                    spoken.append(output.text)
            if spoken:
                print("AGENT: " + " ".join(spoken), flush=True)
            if conversation.finished:
                return
            print("CALLER>", flush=True)
            line = await sync_to_async(sys.stdin.readline, thread_sensitive=False)()
            if not line:
                return
            text = line.strip()
            event = CallerText(text) if text else CallerText("")
