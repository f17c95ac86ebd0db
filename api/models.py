from django.conf import settings
from django.db import models

from tenants.crypto import EncryptedTextField
from tenants.models import TenantOwned


class Scope(models.TextChoices):
    """What a key may do. Reads of patients' dates of birth and of call transcripts need scopes of their own."""

    PRACTICE_READ = "practice:read", "Read the practice's hours, closures, providers and appointment types"
    AVAILABILITY_READ = "availability:read", "Search open times"
    APPOINTMENTS_READ = "appointments:read", "List appointments"
    APPOINTMENTS_WRITE = "appointments:write", "Book, move and cancel appointments"
    PATIENTS_READ = "patients:read", "Look up patients by phone"
    PATIENTS_WRITE = "patients:write", "Create patients"
    PATIENTS_DOB = "patients:dob", "See and give patients' dates of birth"
    CALLS_READ = "calls:read", "List calls with their outcome and summary"
    TRANSCRIPTS_READ = "transcripts:read", "Read what was said on calls"
    MESSAGES_READ = "messages:read", "List messages callers left"
    MESSAGES_WRITE = "messages:write", "Mark messages handled"


class ApiKey(TenantOwned):
    """A partner's key to one practice's data. Only a hash of its secret is kept; the key is shown once."""

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. the booking site.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} (rk_{self.prefix}_…)"


class IdempotentRequest(models.Model):
    """The first answer to a POST with an Idempotency-Key, replayed to its retries (kept a day)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    client = models.CharField(max_length=64, help_text="key:<id> or user:<id>: keys are per client.")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    # JSON of the answer; encrypted, since an answer can name a patient.
    response = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "client", "key"], name="idempotent_request_unique")]
