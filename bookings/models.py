from django.db import models
from django.db.models import F, Q

from tenants.crypto import (
    EncryptedCharField,
    EncryptedDateField,
    EncryptedEmailField,
    EncryptedTextField,
    normalize_phone,
    phone_blind_index,
)
from tenants.masking import mask_name
from tenants.models import TenantOwned


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


class AppointmentType(TenantOwned):
    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    minutes = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=20, choices=Role.choices, help_text="Who can perform it.")
    synonyms = models.JSONField(default=list, blank=True, help_text="Other words callers use for it.")
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
    email = EncryptedEmailField(max_length=254, blank=True)
    notes = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    def __log_mask__(self) -> str:
        return f"patient #{self.pk} ({mask_name(self.first_name, self.last_name)})"

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
        if kwargs.get("update_fields") is not None and "phone" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "phone_index"}
        super().save(*args, **kwargs)


class Appointment(TenantOwned):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "No-show"

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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="appointment_end_after_start"),
        ]

    def __str__(self):
        return f"{self.appointment_type} with {self.provider} at {self.start:%Y-%m-%d %H:%M} UTC"
