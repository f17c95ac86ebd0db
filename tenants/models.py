import ipaddress
import zoneinfo
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from tenants.crypto import EncryptedCharField
from tenants.spoken import WEEKDAY_NAMES
from tenants.voice import SPEED_MAX, SPEED_MIN, PracticeVoice
from tenants.webhooks import ERROR_LENGTH, EVENT_TYPES


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as America/New_York.")


def validate_e164(value: str) -> None:
    from tenants.phones import InvalidPhoneNumber, normalize_phone

    try:
        normalised = normalize_phone(value)
    except InvalidPhoneNumber as exc:
        raise ValidationError(str(exc)) from None
    if normalised != value:
        raise ValidationError(f"Write the number in E.164 form: {normalised}.")


def validate_voice_speed(value: Decimal) -> None:
    if not SPEED_MIN <= value <= SPEED_MAX:
        raise ValidationError(f"The speaking rate must be between {SPEED_MIN} (slower) and {SPEED_MAX} (faster); "
                              f"1.0 is the voice's normal pace, and blank keeps the server's setting.")


REMINDER_HOURS_MAX = 14 * 24


def default_reminder_hours() -> list[int]:
    return [48, 2]


def validate_reminder_hours(value) -> None:
    if not isinstance(value, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in value):
        raise ValidationError("List whole hours before the appointment, for example [48, 2].")
    if any(h < 1 or h > REMINDER_HOURS_MAX for h in value):
        raise ValidationError(f"Each reminder is between 1 and {REMINDER_HOURS_MAX} hours (two weeks) before.")
    if len(set(value)) != len(value):
        raise ValidationError("Each reminder time is listed once.")


class Tenant(models.Model):
    """A dental practice. Every other row belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    timezone = models.CharField(max_length=64, default="America/New_York", validators=[validate_timezone])
    address = models.CharField(max_length=300, blank=True)
    parking_note = models.CharField(max_length=300, blank=True)
    insurance_accepted = models.JSONField(default=list, blank=True)
    insurance_not_accepted = models.JSONField(default=list, blank=True)
    transfer_number = models.CharField(max_length=20, blank=True, validators=[validate_e164])
    new_patient_note = models.TextField(blank=True)
    greeting = models.CharField(
        max_length=300,
        blank=True,
        help_text="What the receptionist says first. Empty: a greeting with the practice name.",
    )
    record_calls = models.BooleanField(default=False, help_text="Record phone calls (callers hear the consent line).")
    recording_consent = models.CharField(
        max_length=300, blank=True, default="This call may be recorded for quality and training purposes."
    )
    slot_step_minutes = models.PositiveSmallIntegerField(default=30)
    min_notice_minutes = models.PositiveIntegerField(
        default=60, help_text="How soon before it starts a slot can still be booked (emergencies are exempt)."
    )
    booking_horizon_days = models.PositiveIntegerField(default=90, help_text="How far ahead callers can book.")
    # The cloud voice (ElevenLabs); blank keeps the server's ELEVENLABS_* setting. The offline voices have one voice.
    voice_id = models.CharField(
        "ElevenLabs voice ID", max_length=64, blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "An ElevenLabs voice ID is letters and digits only.")],
        help_text="The voice callers hear, from ElevenLabs' voice library. Blank: the server's default voice.",
    )
    voice_model = models.CharField(
        "ElevenLabs model", max_length=64, blank=True,
        validators=[RegexValidator(r"^[a-z0-9_]+$", "An ElevenLabs model ID is like eleven_flash_v2_5.")],
        help_text="Blank: the server's default (eleven_flash_v2_5, their fastest).",
    )
    voice_speed = models.DecimalField(
        "speaking rate", max_digits=3, decimal_places=2, null=True, blank=True, validators=[validate_voice_speed],
        help_text="From 0.7 (slower) to 1.2 (faster); 1.0 is the voice's normal pace. Blank: the server's default.",
    )
    texts_enabled = models.BooleanField(
        "text patients", default=True,
        help_text="Text patients a confirmation when an appointment is booked, moved or cancelled, and reminders.",
    )
    reminder_hours = models.JSONField(
        "reminders (hours before)", default=default_reminder_hours, blank=True, validators=[validate_reminder_hours],
        help_text="When reminder texts go out, in hours before the appointment, e.g. 48, 2. Empty: no reminders. "
                  "None is sent at night (9 PM to 8 AM here): those go out the evening before.",
    )
    retention_call_audio_days = models.PositiveIntegerField(default=30)
    retention_transcript_days = models.PositiveIntegerField(default=365)
    retention_inactive_patient_days = models.PositiveIntegerField(default=2555)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slot_step_minutes__gte=5) & Q(slot_step_minutes__lte=240),
                name="tenant_slot_step_between_5_and_240",
            ),
            models.CheckConstraint(
                condition=Q(voice_speed__isnull=True) | (Q(voice_speed__gte=SPEED_MIN) & Q(voice_speed__lte=SPEED_MAX)),
                name="tenant_voice_speed_between_0_7_and_1_2",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def voice(self) -> PracticeVoice:
        speed = float(self.voice_speed) if self.voice_speed is not None else None
        return PracticeVoice(voice_id=self.voice_id, model=self.voice_model, speed=speed)


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: "Tenant | int"):
        return self.filter(tenant=tenant)

    def for_tenants(self, tenants):
        return self.filter(tenant__in=tenants)


class TenantOwned(models.Model):
    """Base for every row a practice owns; `objects.for_tenant(t)` scopes it.

    A row stays in the practice it was created in, and every row it points at
    belongs to that same practice: `clean()` enforces both, so every form and
    every service that validates before saving gets the rule.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True

    def other_practice_fields(self) -> list[str]:
        """Names of this row's foreign keys that point at another practice's rows."""
        wrong = []
        for field in self._meta.concrete_fields:
            related = field.related_model
            if not field.is_relation or field.name == "tenant" or not issubclass(related, TenantOwned):
                continue
            related_id = getattr(self, field.attname)
            if related_id is None:
                continue
            cached = field.get_cached_value(self, default=None)
            if cached is not None and cached.pk == related_id:
                tenant_id = cached.tenant_id
            else:
                tenant_id = related._base_manager.filter(pk=related_id).values_list("tenant_id", flat=True).first()
            if tenant_id is not None and tenant_id != self.tenant_id:
                wrong.append(field.name)
        return wrong

    def clean(self):
        super().clean()
        if self.tenant_id is None:
            return  # the tenant field reports its own error
        if not self._state.adding and type(self)._base_manager.filter(pk=self.pk).exclude(tenant_id=self.tenant_id).exists():
            raise ValidationError("A record cannot move to another practice.")
        wrong = self.other_practice_fields()
        if wrong:
            names = ", ".join(str(self._meta.get_field(name).verbose_name) for name in wrong)
            raise ValidationError(f"Belongs to another practice: {names}. Choose one of this practice's own.")


class PhoneNumber(TenantOwned):
    """A number callers dial; routes the call to its practice."""

    number = models.CharField(max_length=20, unique=True, validators=[validate_e164])
    label = models.CharField(max_length=100, blank=True)

    def __str__(self):
        return self.number


Weekday = models.IntegerChoices("Weekday", [(name.upper(), (number, name)) for number, name in enumerate(WEEKDAY_NAMES)])


class BusinessHours(TenantOwned):
    """One opening interval; a day may have several (a lunch break is the gap between two)."""

    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "business hours"
        constraints = [
            models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="hours_close_after_open"),
            models.UniqueConstraint(fields=["tenant", "weekday", "opens"], name="hours_unique_start"),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self):
        if self.opens and self.closes and self.closes <= self.opens:
            raise ValidationError("Closing time must be after opening time.")


class Closure(TenantOwned):
    """A whole day the practice is closed, with the reason callers are told."""

    date = models.DateField()
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["tenant", "date"], name="closure_unique_date")]

    def __str__(self):
        return f"{self.date}: {self.reason}"


class StaffMembership(TenantOwned):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        FRONT_DESK = "front_desk", "Front desk"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.FRONT_DESK)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user")]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit trail is append-only.")

    def delete(self):
        raise PermissionError("The audit trail is append-only.")

    _raw_delete = delete


class AuditEvent(models.Model):
    """Who read or changed what. Append-only: rows are never updated or deleted."""

    class ActorType(models.TextChoices):
        USER = "user", "Staff user"
        API_KEY = "api_key", "API key"
        SYSTEM = "system", "System"
        AGENT = "agent", "Phone agent"

    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    # No database constraint: the trail outlives the users and practices it names,
    # and deleting them must not rewrite it.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200, blank=True)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "object_type", "object_id"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label or self.actor_type} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only.")


def validate_webhook_url(value: str) -> None:
    """https in production, to a public host: the body is signed, not encrypted, and the POST leaves from our network.

    Plain http is allowed in development and tests, for a receiver on the same machine. A host name is not
    resolved here: one that resolves to a private address is still posted to.
    """
    parts = urlsplit(value)
    if not settings.PRODUCTION:
        if parts.scheme not in {"http", "https"}:
            raise ValidationError("A webhook URL starts with https:// (or http:// outside production).")
        return
    if parts.scheme != "https":
        raise ValidationError("A webhook URL starts with https://.")
    host = (parts.hostname or "").rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            raise ValidationError("A webhook URL points at a public host, not this server.") from None
        return
    if not address.is_global:
        raise ValidationError("A webhook URL points at a public host, not a private or local address.")


def validate_event_types(value) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ValidationError("Choose at least one event.")
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(f"Unknown event(s): {', '.join(unknown)}. The events are {', '.join(EVENT_TYPES)}.")
    if len(set(value)) != len(value):
        raise ValidationError("Each event is listed once.")


class WebhookEndpoint(TenantOwned):
    """Where a partner wants to hear about the practice's events, and the secret their POSTs are signed with."""

    description = models.CharField(max_length=200, blank=True, help_text="Whose endpoint this is, for staff.")
    url = models.URLField("URL", max_length=500, validators=[validate_webhook_url])
    event_types = models.JSONField(default=list, validators=[validate_event_types],
                                   help_text="The events POSTed to the URL.")
    # Shown once when the endpoint is made; the signing needs it in clear, so it is encrypted, not hashed.
    secret = EncryptedCharField(max_length=100, editable=False)
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant", "url"]
        indexes = [models.Index(fields=["tenant", "is_active"])]

    def __str__(self):
        return self.description or self.url


class WebhookDelivery(TenantOwned):
    """One event for one endpoint, tried until it is delivered or given up on; its attempts are WebhookAttempt rows."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=50, choices=[(name, name) for name in EVENT_TYPES])
    event_id = models.UUIDField()
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=ERROR_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When it was queued: made, or sent again from the admin; each gets a fresh round of attempts.
    queued_at = models.DateTimeField()
    # While pending: when the next attempt is due (or, during one, when it will have finished).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_unique_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.event_type} {self.event_id} ({self.get_status_display()})"


class WebhookAttempt(TenantOwned):
    """One POST of a delivery and what came of it."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=ERROR_LENGTH, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_unique_number")]

    def __str__(self):
        return f"Attempt {self.number} at {self.at:%Y-%m-%d %H:%M:%S}"
