"""Rows of known age for the retention purge's tests, on a clock of their own. The tests using them are
marked sqlite_too: `make test` runs them on PostgreSQL and again on SQLite."""

import datetime as dt

from bookings.models import Appointment, AppointmentType, Patient, Provider
from calls.models import Call, ToolCall, Turn
from tenants.models import Tenant
from voice.simulator.twilio_api import FakeTwilioApi

NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)
SUMMARY = "Maria Garcia booked a cleaning"


def practice(slug: str, **retention) -> Tenant:
    """A practice keeping audio 30 days, transcripts 365, inactive patients 1000 (unless told otherwise)."""
    retention = {"retention_call_audio_days": 30, "retention_transcript_days": 365,
                 "retention_inactive_patient_days": 1000, **retention}
    tenant = Tenant.objects.create(name=f"Practice {slug}", slug=slug, timezone="America/Chicago", **retention)
    Provider.objects.create(tenant=tenant, key="doc", name="Dr. Doc", role="dentist")
    AppointmentType.objects.create(tenant=tenant, key="exam", name="Exam", minutes=30, role="dentist")
    return tenant


def call(tenant: Tenant, *, days_ago: float, status: str = Call.Status.COMPLETED, patient: Patient | None = None) -> Call:
    """A call started `days_ago` before NOW, with a recording, two turns, a tool call, a summary and a state."""
    number = Call.objects.count() + 1
    record = Call.objects.create(
        tenant=tenant, call_sid=f"CA{tenant.slug}{number}", caller_number="+15551230001", status=status,
        summary=SUMMARY, state='{"tools": {"patient": "Maria"}}', patient=patient,
        recording_sid=f"RE{tenant.slug}{number}", recording_url=f"https://api.twilio.com/Recordings/RE{number}",
        recording_duration_seconds=42,
    )
    Call.objects.filter(pk=record.pk).update(started_at=NOW - dt.timedelta(days=days_ago))
    Turn.objects.create(call=record, index=1, speaker="agent", text="Bright Smile, how can I help?")
    Turn.objects.create(call=record, index=2, speaker="caller", text="This is Maria Garcia, born April 12 1980.")
    ToolCall.objects.create(call=record, index=1, name="find_patient", arguments='{"last_name": "Garcia"}', result="{}")
    return Call.objects.get(pk=record.pk)


def patient(tenant: Tenant, *, days_ago: float, name: tuple[str, str] = ("Maria", "Garcia")) -> Patient:
    """A patient whose record was created and last changed `days_ago` before NOW."""
    record = Patient.objects.create(tenant=tenant, first_name=name[0], last_name=name[1], phone="+15551230001",
                                    date_of_birth=dt.date(1980, 4, 12))
    at = NOW - dt.timedelta(days=days_ago)
    Patient.objects.filter(pk=record.pk).update(created_at=at, updated_at=at)
    return Patient.objects.get(pk=record.pk)


def appointment(tenant: Tenant, patient: Patient, *, days_from_now: float,
                status: str = Appointment.Status.COMPLETED) -> Appointment:
    start = NOW + dt.timedelta(days=days_from_now)
    return Appointment.objects.create(
        tenant=tenant, patient=patient, provider=Provider.objects.get(tenant=tenant),
        appointment_type=AppointmentType.objects.get(tenant=tenant), start=start, end=start + dt.timedelta(minutes=30),
        status=status, notes="Sensitive to cold",
    )


def twilio_holds(api: FakeTwilioApi, calls) -> list[str]:
    """The fake Twilio holds these calls' recordings; their RecordingSids, in call order."""
    sids = [record.recording_sid for record in sorted(calls, key=lambda record: record.pk)]
    api.recordings.update(sids)
    return sids
