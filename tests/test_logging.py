"""PHI never reaches a log line in clear, whatever logger writes it."""

import io
import json
import logging

import pytest

from bookings.models import Patient
from tenants.masking import mask_email, mask_name, mask_phone, mask_text


@pytest.fixture
def console():
    """The configured console handler, writing into a buffer for the test."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_maskers():
    assert mask_phone("+15551110001") == "XXX-XXX-0001"
    assert mask_email("jane.doe@example.com") == "j****@example.com"
    assert mask_name("Maria", "Garcia") == "M.G."
    assert mask_name(mask_name("Maria Garcia")) == "M.G."


def test_free_text_phones_and_emails_are_masked():
    text = "call +15551110001 or (555) 222-0003 or 555.333.0004, mail jane@example.com; room 12, 2026-12-08"
    masked = mask_text(text)
    assert masked == (
        "call XXX-XXX-0001 or XXX-XXX-0003 or XXX-XXX-0004, mail j****@example.com; room 12, 2026-12-08"
    )


def test_a_record_with_phone_email_and_name_comes_out_masked(console):
    patient = Patient(pk=7, first_name="Maria", last_name="Garcia")
    logging.getLogger("calls.anything").warning(
        "caller %s (%s) wrote from %s",
        "+15551110001",
        patient,
        "maria.garcia@example.com",
        extra={"patient_name": "Maria Garcia", "phone": "+15551110001", "email": "maria@example.com"},
    )
    line = console.getvalue()
    assert "caller XXX-XXX-0001 (patient #7 (M.G.)) wrote from m****@example.com" in line
    for clear in ["Maria", "Garcia", "5551110001", "maria.garcia@", "maria@"]:
        assert clear not in line


def test_third_party_loggers_are_masked_too(console):
    logging.getLogger("celery.worker.strategy").error("Task for +1 555 444 0009 failed")
    assert "XXX-XXX-0009" in console.getvalue()
    assert "444" not in console.getvalue()


def test_json_formatter_masks_extra_fields(console):
    from pythonjsonlogger.json import JsonFormatter

    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    previous = handler.formatter
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s"))
    try:
        logging.getLogger("voice").warning("turn saved", extra={"caller": "+15551110001", "caller_name": "John Smith"})
    finally:
        handler.setFormatter(previous)
    record = json.loads(console.getvalue())
    assert record["caller"] == "XXX-XXX-0001"
    assert record["caller_name"] == "J.S."
    assert record["name"] == "voice"
