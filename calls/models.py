from django.db import models
from django.utils import timezone

from tenants.crypto import EncryptedCharField, EncryptedTextField
from tenants.models import TenantOwned


class Call(TenantOwned):
    """One conversation with a caller, by phone or over the text channel (`manage.py talk`)."""

    class Channel(models.TextChoices):
        PHONE = "phone", "Phone"
        TEXT = "text", "Text"

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Outcome(models.TextChoices):
        BOOKED = "booked", "Booked"
        RESCHEDULED = "rescheduled", "Rescheduled"
        CANCELLED = "cancelled", "Cancelled"
        TRANSFERRED = "transferred", "Transferred"
        MESSAGE_TAKEN = "message_taken", "Message taken"
        ANSWERED = "answered", "Answered"
        ABANDONED = "abandoned", "Abandoned"

    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PHONE)
    call_sid = models.CharField(max_length=64, blank=True, db_index=True)
    caller_number = EncryptedCharField(max_length=32, blank=True)
    dialled_number = models.CharField(max_length=32, blank=True)
    # String reference, not an import: calls depends only on tenants.
    patient = models.ForeignKey("bookings.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    engine = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    transferred_to = models.CharField(max_length=32, blank=True)
    summary = EncryptedTextField(blank=True)
    # The conversation engine's saved state (JSON), so a call can be resumed after a
    # restart. Encrypted: it holds what the caller said about themselves.
    state = EncryptedTextField(blank=True)
    fell_back_to_rules = models.BooleanField(default=False)
    # Speech providers that failed during the call and were replaced by their fallback for the rest of it ("tts").
    fallbacks = models.JSONField(default=list, blank=True)
    # The conversation recorded its own outcome and summary. Twilio's status callback may end
    # the call first (as abandoned); the conversation's ending, arriving later, still counts.
    conversation_finished = models.BooleanField(default=False)
    # The one media stream this call accepted; a second stream for the call is refused.
    stream_sid = models.CharField(max_length=64, blank=True)
    twilio_status = models.CharField(max_length=20, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    recording_sid = models.CharField(max_length=64, blank=True)
    recording_url = EncryptedCharField(max_length=500, blank=True)
    recording_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Placed by a staff member from the browser ("Talk to your receptionist"), not by a caller:
    # kept and reviewed like any call, left out of the practice's figures.
    is_test = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["call_sid"], condition=~models.Q(call_sid=""), name="call_unique_sid"
            ),
        ]

    def __str__(self):
        # In the practice's zone: the time its staff remember the call by.
        if self.started_at is None:
            return f"Call ({self.get_channel_display()}, not saved)"
        started = timezone.localtime(self.started_at, self.tenant.tzinfo)
        return f"Call #{self.pk} ({self.get_channel_display()}, {started:%Y-%m-%d %H:%M %Z})"


class Turn(models.Model):
    """One utterance, saved as soon as it is complete."""

    class Speaker(models.TextChoices):
        CALLER = "caller", "Caller"
        AGENT = "agent", "Agent"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveIntegerField()
    speaker = models.CharField(max_length=10, choices=Speaker.choices)
    text = EncryptedTextField()
    # The rest of an agent's reply that the caller never heard: they spoke over it.
    unheard = EncryptedTextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)
    # Where the time went in a phone turn (ms): end-of-turn wait, transcript, engine, audio.
    latency = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["call", "index"]
        constraints = [models.UniqueConstraint(fields=["call", "index"], name="turn_unique_index")]

    def __str__(self):
        return f"{self.get_speaker_display()} turn {self.index}"


class ToolCall(models.Model):
    """A tool the conversation engine used, with what it asked and what it got back."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="tool_calls")
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    # Arguments and results can name patients: encrypted JSON text.
    arguments = EncryptedTextField(blank=True)
    result = EncryptedTextField(blank=True)
    ok = models.BooleanField(default=True)
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["call", "index"]
        constraints = [models.UniqueConstraint(fields=["call", "index"], name="toolcall_unique_index")]

    def __str__(self):
        return f"{self.name} (call #{self.call_id})"


class Message(TenantOwned):
    """A message a caller left for the practice."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        HANDLED = "handled", "Handled"

    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    caller_name = EncryptedCharField(max_length=200, blank=True)
    callback_number = EncryptedCharField(max_length=32, blank=True)
    about = EncryptedTextField()
    for_whom = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "-created_at"]

    def __str__(self):
        return f"Message #{self.pk} ({self.get_status_display()})"

