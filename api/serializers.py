"""What goes in and out of the API. Inputs are validated here; every decision is the services'."""

import datetime as dt

from rest_framework import serializers

from bookings.models import Appointment
from calls.models import Call, Message


class PartOfDay(serializers.ChoiceField):
    WINDOWS = {"morning": (None, dt.time(12)), "afternoon": (dt.time(12), dt.time(17)), "evening": (dt.time(17), None)}

    def __init__(self, **kwargs):
        super().__init__(choices=list(self.WINDOWS), **kwargs)


class AvailabilityQuery(serializers.Serializer):
    appointment_type = serializers.SlugField(help_text="An appointment type's key, from /practice.")
    provider = serializers.SlugField(required=False, help_text="A provider's key; any who does the type if left out.")
    start_date = serializers.DateField(help_text="Practice-local date.")
    end_date = serializers.DateField(required=False, help_text="Inclusive; at most 31 days after start_date.")
    part_of_day = PartOfDay(required=False)

    def validate(self, data):
        end = data.get("end_date") or data["start_date"]
        if end < data["start_date"]:
            raise serializers.ValidationError({"end_date": "The end date is before the start date."})
        if (end - data["start_date"]).days > 31:
            raise serializers.ValidationError({"end_date": "Search at most 31 days at a time."})
        data["end_date"] = end
        return data


class SlotOut(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    provider_id = serializers.IntegerField()


class AppointmentOut(serializers.ModelSerializer):
    appointment_type = serializers.SlugRelatedField(slug_field="key", read_only=True)
    provider = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Appointment
        fields = ["id", "patient_id", "provider", "appointment_type", "start", "end", "status", "source",
                  "confirmed_by_patient_at", "created_at", "updated_at"]


class AppointmentIn(serializers.Serializer):
    patient_id = serializers.IntegerField()
    appointment_type = serializers.SlugField()
    start = serializers.DateTimeField(help_text="With its UTC offset, e.g. 2026-12-07T09:00:00-05:00.")
    provider = serializers.SlugField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class RescheduleIn(serializers.Serializer):
    start = serializers.DateTimeField()
    provider = serializers.SlugField(required=False)


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class PatientIn(serializers.Serializer):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    date_of_birth = serializers.DateField(required=False, help_text="Only with the patients:dob scope.")


class PatientOut(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    date_of_birth = serializers.DateField(required=False, help_text="Only with the patients:dob scope.")


class PatientQuery(serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="Any common way of writing it.")


class CallOut(serializers.ModelSerializer):
    class Meta:
        model = Call
        fields = ["id", "channel", "status", "outcome", "started_at", "ended_at", "duration_seconds", "summary",
                  "patient_id"]


class TurnOut(serializers.Serializer):
    index = serializers.IntegerField()
    speaker = serializers.CharField()
    at = serializers.DateTimeField()
    latency = serializers.JSONField()
    text = serializers.CharField(required=False, help_text="Only with the transcripts:read scope.")


class CallDetailOut(CallOut):
    turns = serializers.SerializerMethodField()

    class Meta(CallOut.Meta):
        fields = [*CallOut.Meta.fields, "turns"]

    def get_turns(self, call) -> list[dict]:
        with_text = self.context["transcripts"]
        rows = []
        for turn in call.turns.order_by("index"):
            row = TurnOut(turn).data
            if not with_text:
                row.pop("text")
            rows.append(row)
        return rows


class MessageOut(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "call_id", "caller_name", "callback_number", "about", "for_whom", "status", "created_at",
                  "handled_at"]
