"""One conversation, whatever the channel: engine, tools and persistence wired together.

The text channel (`manage.py talk`) and the phone loop both drive a
`Conversation`: feed it events, get outputs back, and every turn, tool call
and state change is saved on the `Call` as it happens.
"""

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable

from channels.db import database_sync_to_async
from django.conf import settings

from bookings.models import Appointment
from calls.models import Call, Turn
from calls.services import call_end, call_engine_record, call_save_state, call_start, turn_record
from tenants.models import Tenant
from voice.conversation.engines.base import ConversationEngine, engine_build
from voice.conversation.tools import ReceptionistTools, ToolSession
from voice.frames import AgentSentence, CallerText, EndCall, Event, Output, TransferCall


class Conversation:
    def __init__(self, *, call: Call, tools: ReceptionistTools, engine: ConversationEngine):
        self.call = call
        self.tools = tools
        self.engine = engine
        self.caller_spoke = False
        self.finished = False

    @classmethod
    def start(
        cls,
        *,
        tenant: Tenant,
        channel: str,
        caller_number: str = "",
        engine_path: str | None = None,
        now: Callable[[], dt.datetime] | None = None,
        call: Call | None = None,
    ) -> "Conversation":
        """Set up a new call (or take over one the phone webhook created). Synchronous: uses the ORM."""
        if now is None and settings.FROZEN_NOW:
            frozen = dt.datetime.fromisoformat(settings.FROZEN_NOW)
            now = lambda: frozen  # noqa: E731
        if call is None:
            call = call_start(tenant=tenant, channel=channel, caller_number=caller_number)
        saved = json.loads(call.state) if call.state else {}
        tools = ReceptionistTools(call=call, tenant=tenant, now=now, session=ToolSession(**saved.get("tools", {})))
        engine = engine_build(tools=tools, state=saved.get("engine"), path=engine_path)
        if call.engine != engine.name:
            call_engine_record(call=call, engine=engine.name)
        return cls(call=call, tools=tools, engine=engine)

    async def handle(self, event: Event, *, record_agent: bool = True) -> AsyncIterator[Output]:
        """Yield the engine's outputs as they come; save the turns and the state as each completes.

        The phone loop passes record_agent=False and records the agent's turn
        itself once it knows what the caller actually heard (see record_agent).
        """
        if isinstance(event, CallerText):
            self.caller_spoke = True
            await database_sync_to_async(turn_record)(call=self.call, speaker=Turn.Speaker.CALLER, text=event.text)
        spoken: list[str] = []
        async for output in self.engine.respond(event):
            if isinstance(output, AgentSentence):
                spoken.append(output.text)
            elif isinstance(output, (TransferCall, EndCall)):
                self.finished = True
            yield output
        if spoken and record_agent:
            await self.record_agent(" ".join(spoken))
        await database_sync_to_async(self._save_state)()

    async def record_agent(self, text: str, latency: dict | None = None, *, interrupted: bool = False,
                           unheard: str = "") -> None:
        """Save the agent's turn as the caller heard it, and apart what they did not hear (staff see both).

        Cut off by the caller, the engine forgets the unheard rest too.
        """
        if interrupted:
            latency = {**(latency or {}), "interrupted": True}
            self.engine.heard(text)
        await database_sync_to_async(turn_record)(call=self.call, speaker=Turn.Speaker.AGENT, text=text, latency=latency,
                                                  unheard=unheard)

    def listening_for(self) -> str:
        """What kind of answer the engine expects next, to narrow speech recognition."""
        return self.engine.listening_for()

    def _save_state(self) -> None:
        state = {"engine": self.engine.state(), "tools": self.tools.state()}
        call_save_state(call=self.call, state=state, patient_id=self.tools.session.verified_patient_id)

    async def finish(self) -> Call:
        """End the call record with its outcome and summary (idempotent)."""
        summary = await self.engine.summarize()
        return await database_sync_to_async(call_end)(
            call=self.call,
            outcome=self.tools.outcome(caller_spoke=self.caller_spoke),
            summary=summary,
            transferred_to=self.tools.session.transferred_to or "",
            fell_back_to_rules=self.engine.fell_back,
        )

    def report(self) -> dict:
        """The outcome as `manage.py talk` prints it last. Synchronous: uses the ORM."""
        tz = self.tools.tz
        return {
            "call": self.call.pk,
            "outcome": self.tools.outcome(caller_spoke=self.caller_spoke),
            "appointments": [appointment_outcome(a, tz) for a in self.tools.changed_appointments()],
            "transferred_to": self.tools.session.transferred_to,
            "message": self.tools.session.message,
        }


def appointment_outcome(appointment: Appointment, tz: dt.tzinfo) -> dict:
    """An appointment as a call's outcome lists it (`manage.py talk`, the scenario judge)."""
    return {
        "id": appointment.pk,
        "type": appointment.appointment_type.key,
        "provider": appointment.provider.key,
        "start": appointment.start.astimezone(tz).isoformat(),
        "end": appointment.end.astimezone(tz).isoformat(),
        "status": appointment.status,
        "patient": appointment.patient.full_name,
    }
