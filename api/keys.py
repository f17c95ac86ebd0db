"""Partner API keys, `rk_<prefix>_<secret>_<checksum>`: made, told apart from typos, and hashed. No database.

The checksum lets a mistyped, truncated or made-up key be refused before any query,
and lets secret scanners recognise a leaked key. Only a hash of the secret is stored;
the prefix finds the row.
"""

import hashlib
import hmac
import re
import secrets
import string
import zlib
from dataclasses import dataclass

ALPHABET = string.digits + string.ascii_letters  # base62: no characters that URL or shell quoting mangles
PREFIX_LENGTH = 8
SECRET_LENGTH = 32  # 62**32: about 190 bits
CHECKSUM_LENGTH = 6
KEY_PATTERN = re.compile(rf"^rk_([0-9A-Za-z]{{{PREFIX_LENGTH}}})_([0-9A-Za-z]{{{SECRET_LENGTH}}})_([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})$")


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    secret: str


def _base62(number: int, length: int) -> str:
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(prefix: str, secret: str) -> str:
    return _base62(zlib.crc32(f"rk_{prefix}_{secret}".encode()), CHECKSUM_LENGTH)


def key_new() -> tuple[str, ParsedKey]:
    """A fresh key and its parts."""
    prefix = "".join(secrets.choice(ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))
    return f"rk_{prefix}_{secret}_{_checksum(prefix, secret)}", ParsedKey(prefix=prefix, secret=secret)


def key_parse(raw: str) -> ParsedKey | None:
    """The key's parts, or None for anything that is not a well-formed key with a matching checksum."""
    match = KEY_PATTERN.match(raw.strip())
    if match is None:
        return None
    prefix, secret, checksum = match.groups()
    if not hmac.compare_digest(checksum, _checksum(prefix, secret)):
        return None
    return ParsedKey(prefix=prefix, secret=secret)


def secret_hash(secret: str) -> str:
    # A plain SHA-256 is enough for 190 random bits; a slow password hash would cost every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)
