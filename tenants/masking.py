"""Masking PHI so it can appear in logs and admin lists without being disclosed."""

import re

_PHONE_RE = re.compile(
    r"(?<![\w])(?:\+?1[\s.-]?)?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})(?!\d)"
    r"|(?<![\w])\+\d{7,15}(?!\d)"
)
_INITIALS_RE = re.compile(r"(?:[A-Z]\.)+")
_EMAIL_RE = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")


def mask_phone(phone: str | None) -> str:
    """'+15551110001' -> 'XXX-XXX-0001'."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", str(phone))
    return "XXX-XXX-" + digits[-4:] if len(digits) >= 4 else "XXX"


def mask_email(email: str | None) -> str:
    """'jane@example.com' -> 'j****@example.com'."""
    if not email:
        return ""
    local, _, domain = str(email).partition("@")
    return f"{local[:1]}****@{domain}" if domain else "****"


def mask_name(*parts: str | None) -> str:
    """'Maria', 'Garcia' or 'Maria Garcia' -> 'M.G.'."""
    words = [w for part in parts if part for w in str(part).split()]
    if all(_INITIALS_RE.fullmatch(w) for w in words):
        return "".join(words)
    return "".join(w[0].upper() + "." for w in words)


def mask_text(text: str) -> str:
    """Mask every phone number and email address found in free text."""
    text = _EMAIL_RE.sub(lambda m: f"{m.group(1)}****@{m.group(2)}", text)
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)
