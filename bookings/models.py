from django.conf import settings
from django.db import models
from django.db.models import F, Q

from tenants.crypto import (
    EncryptedCharField,
    EncryptedDateField,
    EncryptedEmailField,
    EncryptedTextField,
    identity_blind_index,
    phone_blind_index,
)
from tenants.models import TenantOwned, Weekday
from tenants.phones import normalize_phone


class Role(models.TextChoices):
    DENTIST = "dentist", "Dentist"
    HYGIENIST = "hygienist", "Hygienist"


class Provider(TenantOwned):
    """A dentist or hygienist whose time can be booked."""

    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="provider_unique_key")]

    def __str__(self):
        return self.name


class ProviderHours(TenantOwned):
    """A provider's own working interval. A provider with none works the practice's hours."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["provider", "weekday", "opens"]
        verbose_name_plural = "provider hours"
        constraints = [
            models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="provider_hours_close_after_open"),
        ]

    def __str__(self):
        return f"{self.provider}: {self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class ProviderTimeOff(TenantOwned):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name_plural = "provider time off"
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="time_off_end_after_start")]

    def __str__(self):
        return f"{self.provider} off {self.start:%Y-%m-%d %H:%M}"


class CalendarLink(TenantOwned):
    """A provider's own CalDAV calendar: their appointments are written to it, its busy time blocks their slots."""

    provider = models.OneToOneField(Provider, on_delete=models.CASCADE, related_name="calendar_link")
    url = models.URLField(max_length=500, help_text="The calendar's CalDAV address (the collection, ending in /).")
    username = models.CharField(max_length=200)
    password = EncryptedCharField(max_length=500, help_text="Often an app-specific password.")
    is_enabled = models.BooleanField(default=True)
    last_synced_at = models.DateTimeField(null=True, blank=True, help_text="When its busy time was last read.")
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider"]

    def __str__(self):
        return f"{self.provider}'s calendar"

    @property
    def busy_source(self) -> str:
        return f"caldav:{self.pk}"


class BusyBlock(TenantOwned):
    """Time taken in an external calendar; with no provider it blocks the whole practice."""

    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.CASCADE, related_name="busy_blocks")
    calendar_link = models.ForeignKey(
        CalendarLink, null=True, blank=True, on_delete=models.CASCADE, related_name="busy_blocks", editable=False,
        help_text="The linked calendar it was read from; each sync replaces them all.",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    source = models.CharField(max_length=100, blank=True, help_text="Which calendar it came from.")
    external_uid = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["start"]
        indexes = [models.Index(fields=["tenant", "start"])]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="busy_block_end_after_start")]

    def __str__(self):
        return f"busy {self.start:%Y-%m-%d %H:%M} ({self.source or 'manual'})"


class AppointmentType(TenantOwned):
    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    minutes = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=20, choices=Role.choices, help_text="Who can perform it.")
    synonyms = models.JSONField(default=list, blank=True, help_text="Other words callers use for it.")
    buffer_before_minutes = models.PositiveSmallIntegerField(default=0, help_text="Set-up time kept free before.")
    buffer_after_minutes = models.PositiveSmallIntegerField(default=0, help_text="Clean-up time kept free after.")
    is_emergency = models.BooleanField(default=False, help_text="Bookable same day, without minimum notice.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="appointment_type_unique_key"),
            models.CheckConstraint(condition=Q(minutes__gt=0), name="appointment_type_positive_minutes"),
        ]

    def __str__(self):
        return self.name


class Patient(TenantOwned):
    """A practice's patient. Every identifying field is encrypted at rest.

    `phone_index` is a keyed HMAC of the normalised phone, so caller ID finds
    the patient with an indexed equality lookup instead of decrypting every row.
    """

    first_name = EncryptedCharField(max_length=100)
    last_name = EncryptedCharField(max_length=100)
    date_of_birth = EncryptedDateField(null=True, blank=True)
    phone = EncryptedCharField(max_length=20, blank=True)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    # Keyed HMAC of last name and date of birth: verifying a caller by name and birthday
    # is an indexed lookup, not a decryption of every patient.
    identity_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    email = EncryptedEmailField(max_length=254, blank=True)
    notes = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        # Safe wherever a string of the row ends up: log lines, the admin's history, error pages.
        # Staff screens show `full_name` on purpose.
        return f"Patient #{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def save(self, *args, **kwargs):
        # The index is derived from the phone; keeping it here means no write path can desync them.
        if self.phone:
            self.phone = normalize_phone(self.phone)
            self.phone_index = phone_blind_index(self.phone)
        else:
            self.phone_index = ""
        self.identity_index = identity_blind_index(self.last_name, self.date_of_birth)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "phone_index", "identity_index"}
        super().save(*args, **kwargs)


class Appointment(TenantOwned):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "No-show"

    # Statuses that hold the provider's time; the no-overlap constraint covers exactly these.
    ACTIVE_STATUSES = (Status.BOOKED, Status.COMPLETED)

    class Source(models.TextChoices):
        PHONE = "phone", "Phone"
        API = "api", "API"
        ADMIN = "admin", "Admin"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="appointments")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ADMIN)
    notes = EncryptedTextField(blank=True)
    confirmed_by_patient_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient confirmed it by replying C to a reminder."
    )
    # iCalendar SEQUENCE of its event in calendars: a move or a cancellation raises it, so calendars take the
    # newer version over the one they hold.
    calendar_sequence = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="appointment_end_after_start"),
        ]

    def __str__(self):
        # A dated visit of a patient is PHI: the string of the row names none of it.
        return f"Appointment #{self.pk}"


class TextMessage(TenantOwned):
    """A text to or from a patient. The number and the words are PHI: encrypted, like the patient's own fields.

    `key` makes each text once: a retried task, a second beat sweep or a repeated webhook
    finds the row it would have made.
    """

    class Kind(models.TextChoices):
        BOOKED = "booked", "Booking confirmation"
        MOVED = "moved", "Move confirmation"
        CANCELLED = "cancelled", "Cancellation"
        REMINDER = "reminder", "Reminder"
        REPLY = "reply", "Reply to the patient"
        INBOUND = "inbound", "From the patient"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        QUEUED = "queued", "Queued at Twilio"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        UNDELIVERED = "undelivered", "Not delivered"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (Twilio did not answer)"
        RECORDED = "recorded", "Recorded, not sent (no SMS provider)"
        OPTED_OUT = "opted_out", "Not sent: the patient opted out"
        SKIPPED = "skipped", "Not sent: the appointment changed"
        RECEIVED = "received", "Received"

    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="texts")
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="texts"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=120, help_text="What makes this text one of a kind.")
    phone = EncryptedCharField(max_length=32)
    body = EncryptedTextField()
    message_sid = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error_code = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="text_message_unique_key")]

    def __str__(self):
        return f"Text #{self.pk} ({self.get_kind_display()}, {self.get_status_display()})"


class TextOptOut(TenantOwned):
    """A number that texted STOP to the practice: nothing more is sent to it until it texts START.

    Kept by the phone's blind index, so an opt-out covers every patient who shares the number.
    """

    phone_index = models.CharField(max_length=64)
    opted_out_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "phone_index"], name="text_opt_out_unique_phone")]

    def __str__(self):
        return f"Opt-out #{self.pk}"
class CalendarConflict(TenantOwned):
    """An event in a provider's calendar over one of their booked appointments: staff decide, nothing is dropped."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="calendar_conflicts")
    external_uid = models.CharField(max_length=255)
    external_start = models.DateTimeField()
    external_end = models.DateTimeField()
    detected_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-detected_at"]
        constraints = [
            # Every sync sees the event again; it is one conflict, reported once.
            models.UniqueConstraint(fields=["appointment", "external_uid"], name="calendar_conflict_once"),
        ]

    def __str__(self):
        return f"Calendar conflict with appointment #{self.appointment_id}"


class CalendarFeedToken(TenantOwned):
    """A secret URL serving a provider's appointments as an ICS feed, for calendars that only subscribe.

    Only the token's SHA-256 is stored: the URL is shown once, when issued, and found again by its hash.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="feed_tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Calendar feed of {self.provider}"
