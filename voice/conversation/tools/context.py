"""One call's view of the tools: who is calling, what the tools have learnt, and running a tool by name."""

import dataclasses
import datetime as dt
import time
from collections.abc import Callable

from channels.db import database_sync_to_async
from django.utils import timezone
from pydantic import BaseModel, ValidationError

from bookings.models import Appointment, AppointmentType, Patient, Provider
from bookings.selectors import appointment_list_by_ids, appointment_types_bookable, providers_bookable
from calls.models import Call
from calls.services import tool_call_record
from tenants.models import AuditEvent, Tenant
from tenants.services import Actor
from tenants.spoken import say_time, say_when
from voice.conversation.tools.registry import TOOLS, Arguments
from voice.conversation.tools.results import AppointmentView, Refused, Result, SlotOffer


class ToolError(Exception):
    """A tool refused; the message is fit to say to the caller."""


@dataclasses.dataclass
class ToolSession:
    """What the tools remember during one call (saved with the call's state)."""

    caller_patient_ids: list[int] = dataclasses.field(default_factory=list)
    verified_patient_id: int | None = None
    changed_appointment_ids: list[int] = dataclasses.field(default_factory=list)
    # appointment id -> the last thing done to it on this call (booked, rescheduled, cancelled)
    appointment_actions: dict[str, str] = dataclasses.field(default_factory=dict)
    actions: list[str] = dataclasses.field(default_factory=list)
    transferred_to: str | None = None
    message: str | None = None
    ended: bool = False
    failed_verifications: int = 0
    registrations: int = 0


class ReceptionistTools:
    """The tools as one call uses them. Synchronous (the ORM); engines use `acall` off the event loop."""

    def __init__(self, *, call: Call, tenant: Tenant, now: Callable[[], dt.datetime] | None = None,
                 session: ToolSession | None = None):
        self.call = call
        self.tenant = tenant
        self.tz = tenant.tzinfo
        self._now = now or timezone.now
        self.session = session or ToolSession()
        self.actor = Actor(type=AuditEvent.ActorType.AGENT, label=f"call {call.pk}")
        self.appointment_types: dict[str, AppointmentType] = appointment_types_bookable(tenant=tenant)
        self.providers: dict[str, Provider] = providers_bookable(tenant=tenant)

    def now(self) -> dt.datetime:
        return self._now()

    def local_now(self) -> dt.datetime:
        return self.now().astimezone(self.tz)

    def today(self) -> dt.date:
        return self.local_now().date()

    # -- running tools ------------------------------------------------------------------

    def call_tool(self, name: str, arguments: dict | Arguments | None = None, /, **kwargs) -> Result:
        """Run a tool by name and record it on the call; a refusal or bad arguments come back as `Refused`."""
        tool = TOOLS.get(name)
        started = time.perf_counter()
        raw = arguments if arguments is not None else kwargs
        if tool is None:
            result: Result = Refused(error=f"There is no tool called {name}.")
        else:
            try:
                args = raw if isinstance(raw, tool.arguments) else tool.arguments.model_validate(raw)
            except ValidationError as error:
                result = Refused(error=f"Bad arguments for {name}: {_first_problem(error)}")
            else:
                raw = args
                try:
                    result = tool.handler(self, args)
                except ToolError as error:
                    result = Refused(error=str(error))
        tool_call_record(
            call=self.call, name=name,
            arguments=raw.model_dump(mode="json", exclude_defaults=True) if isinstance(raw, BaseModel) else dict(raw),
            result=result.model_dump(mode="json"), ok=not isinstance(result, Refused),
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        return result

    async def acall(self, name: str, arguments: dict | Arguments | None = None, /, **kwargs) -> Result:
        return await database_sync_to_async(self.call_tool)(name, arguments, **kwargs)

    # -- for the handlers -------------------------------------------------------------------

    def appointment_type(self, key: str) -> AppointmentType:
        if key not in self.appointment_types:
            names = ", ".join(t.name.lower() for t in self.appointment_types.values())
            raise ToolError(f"We don't have an appointment type called {key!r}; we offer {names}.")
        return self.appointment_types[key]

    def provider(self, key: str) -> Provider | None:
        if not key:
            return None
        if key not in self.providers:
            raise ToolError(f"No provider called {key!r} works here.")
        return self.providers[key]

    def aware(self, value: dt.datetime) -> dt.datetime:
        """A time the engine gave without an offset is the practice's local time."""
        return value.replace(tzinfo=self.tz) if value.tzinfo is None else value

    def slot_offer(self, start: dt.datetime, provider_id: int) -> SlotOffer:
        provider = next(p for p in self.providers.values() if p.id == provider_id)
        local = start.astimezone(self.tz)
        return SlotOffer(start=local, provider_key=provider.key, provider=provider.name,
                         spoken=say_when(local), time=say_time(local))

    def appointment_view(self, appointment: Appointment) -> AppointmentView:
        local = appointment.start.astimezone(self.tz)
        return AppointmentView(
            id=appointment.pk, type_key=appointment.appointment_type.key, type=appointment.appointment_type.name,
            provider_key=appointment.provider.key, provider=appointment.provider.name,
            start=local, spoken=say_when(local), status=appointment.status,
        )

    def verified_patient(self) -> Patient:
        if self.session.verified_patient_id is None:
            raise ToolError("I need to verify who I'm speaking with first: name and date of birth.")
        return Patient.objects.get(pk=self.session.verified_patient_id, tenant=self.tenant)

    def remember_change(self, appointment: Appointment, action: str) -> None:
        if appointment.pk not in self.session.changed_appointment_ids:
            self.session.changed_appointment_ids.append(appointment.pk)
        previous = self.session.appointment_actions.get(str(appointment.pk))
        # Moving an appointment booked on this same call leaves it a booking.
        self.session.appointment_actions[str(appointment.pk)] = (
            "booked" if (previous, action) == ("booked", "rescheduled") else action
        )

    # -- for the call record ------------------------------------------------------------------

    def changed_appointments(self) -> list[Appointment]:
        return appointment_list_by_ids(tenant=self.tenant, ids=self.session.changed_appointment_ids)

    def outcome(self, *, caller_spoke: bool) -> str:
        """What the call achieved, judged by where each appointment it touched ended up."""
        final = set(self.session.appointment_actions.values()) | set(self.session.actions)
        for outcome in ["booked", "rescheduled", "cancelled", "transferred", "message_taken"]:
            if outcome in final:
                return outcome
        return Call.Outcome.ANSWERED if caller_spoke else Call.Outcome.ABANDONED

    def state(self) -> dict:
        return dataclasses.asdict(self.session)


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "arguments"
    return f"{where}: {problem['msg']}"
