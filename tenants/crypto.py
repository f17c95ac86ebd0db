"""Encryption at rest for PHI columns, and the blind index for caller-ID lookup.

Values are Fernet tokens under a MultiFernet built from FIELD_ENCRYPTION_KEYS:
the first key encrypts, every key decrypts, so keys rotate by prepending a new
one, running `rotate_encryption_keys`, then dropping the old one.
"""

import datetime
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

from tenants.phones import normalize_phone


class DecryptionError(Exception):
    """A stored value that no configured key can decrypt.

    Raised rather than returning the ciphertext, so a lost key shows up as an
    error instead of gibberish quietly shown to staff or read aloud to callers.
    """


@functools.lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def current_multifernet() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_text(plaintext: str) -> str:
    return current_multifernet().encrypt(plaintext.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return current_multifernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("no configured FIELD_ENCRYPTION_KEYS entry decrypts this value") from None


def is_current_token(token: str) -> bool:
    """Whether `token` is already encrypted under the current (first) key."""
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate_token(token: str) -> str:
    try:
        return current_multifernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("no configured FIELD_ENCRYPTION_KEYS entry decrypts this value") from None


def _blind_index(value: str) -> str:
    return hmac.new(settings.PHONE_INDEX_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def phone_blind_index(phone: str) -> str:
    """Keyed HMAC of the normalised number: equal numbers match, the number stays secret."""
    return _blind_index(normalize_phone(phone))


def identity_blind_index(last_name: str, date_of_birth: datetime.date | None) -> str:
    """Keyed HMAC of last name (case and spacing folded) and date of birth; "" when either is missing."""
    folded = " ".join(str(last_name or "").casefold().split())
    if not folded or date_of_birth is None:
        return ""
    return _blind_index(f"identity:{folded}:{date_of_birth.isoformat()}")


class EncryptedFieldMixin:
    """Stores `to_python(value)` as text, encrypted; the column never holds clear text."""

    def get_internal_type(self):
        return "TextField"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(self.serialize_plain(value))

    def get_db_prep_value(self, value, connection, prepared=False):
        # The stored value is a token string whatever the plain type is: no vendor adaptation.
        return value if prepared else self.get_prep_value(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return self.to_python(decrypt_text(value))

    def serialize_plain(self, value) -> str:
        return str(value)

    def get_lookup(self, lookup_name):
        # Ciphertext is randomised: any lookup but null checks would silently match nothing.
        if lookup_name not in {"isnull"}:
            return None
        return super().get_lookup(lookup_name)


class EncryptedCharField(EncryptedFieldMixin, models.CharField):
    def db_type(self, connection):
        return models.TextField().db_type(connection)


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    pass


class EncryptedEmailField(EncryptedFieldMixin, models.EmailField):
    def db_type(self, connection):
        return models.TextField().db_type(connection)


class EncryptedDateField(EncryptedFieldMixin, models.DateField):
    def db_type(self, connection):
        return models.TextField().db_type(connection)

    def get_prep_value(self, value):
        value = self.to_python(value)
        if value is None:
            return None
        return encrypt_text(value.isoformat())

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None
        return datetime.date.fromisoformat(decrypt_text(value))
