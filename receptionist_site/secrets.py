"""Loading and checking the three secrets the site cannot run without.

In development and test a missing secret is generated once and kept in a
git-ignored file, so a newcomer's first run works and later runs can still
decrypt what earlier runs wrote. In production a missing or weak secret stops
start-up with a message naming the variable: silently generating one there
would make yesterday's patient records unreadable.
"""

import base64
import binascii
import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

SECRET_NAMES = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "PHONE_INDEX_KEY")


def _new_fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


_GENERATORS = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEYS": _new_fernet_key,
    "PHONE_INDEX_KEY": lambda: secrets.token_urlsafe(32),
}


def _is_fernet_key(value: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def secret_problem(name: str, value: str | None) -> str | None:
    """Why `value` is unfit for secret `name`, or None when it is fit."""
    if not value:
        return f"{name} is not set"
    if name == "SECRET_KEY":
        if len(value) < 50 or len(set(value)) < 5 or value.startswith("django-insecure-"):
            return "SECRET_KEY is weak: use at least 50 random characters"
    elif name == "FIELD_ENCRYPTION_KEYS":
        keys = [k.strip() for k in value.split(",") if k.strip()]
        if not keys:
            return "FIELD_ENCRYPTION_KEYS is empty"
        for position, key in enumerate(keys, start=1):
            if not _is_fernet_key(key):
                return (
                    f"FIELD_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                )
    elif name == "PHONE_INDEX_KEY" and len(value) < 32:
        return "PHONE_INDEX_KEY is weak: use at least 32 random characters"
    return None


def load_secrets(*, environment: str, env: dict[str, str], local_file: Path) -> dict[str, str]:
    """Return every secret, validated; generate missing ones outside production."""
    values = {name: env.get(name, "") for name in SECRET_NAMES}
    if environment == "production":
        problems = [p for name in SECRET_NAMES if (p := secret_problem(name, values[name]))]
        if problems:
            raise ImproperlyConfigured(
                "Refusing to start in production: " + "; ".join(problems) + "."
            )
        return values

    stored = json.loads(local_file.read_text()) if local_file.exists() else {}
    changed = False
    for name in SECRET_NAMES:
        if values[name]:
            continue
        if not stored.get(name):
            stored[name] = _GENERATORS[name]()
            changed = True
        values[name] = stored[name]
    if changed:
        local_file.write_text(json.dumps(stored, indent=2) + "\n")
        local_file.chmod(0o600)
    for name in SECRET_NAMES:
        if problem := secret_problem(name, values[name]):
            raise ImproperlyConfigured(problem + ".")
    return values
