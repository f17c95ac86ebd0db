"""PHI never reaches a log line in clear, whatever logger writes it."""

import datetime
import io
import json
import logging

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

import tenants.masking
from bookings.models import Patient
from tenants.logging import PHIFilter
from tenants.masking import mask_email, mask_name, mask_phone, mask_text

# The PHI of the tests, kept in variables: a traceback or a stack shows source
# lines, and a literal there would be found in the log line whatever the masking.
PHONE = "+15551110001"
DATE_OF_BIRTH = "April 12th 1980"
CLEAR = ["5551110001", "555 111 0001", "111-0001", "April", "12th", "Maria", "Garcia", "maria@", "maria.garcia@"]

# Free text as it reaches a log line, and what may be written of it.
MASKED_CORPUS = [
    # Dates: only the year survives, whatever the format. HIPAA Safe Harbor allows
    # the year alone of any date related to a person, and a log line cannot tell a
    # birthday from an appointment day.
    ("born 1980-04-12", "born 1980-**-**"),
    ("born 04/12/1980.", "born **/**/1980."),
    ("born 4-12-1980", "born **-**-1980"),
    ("born 12.04.1980", "born **.**.1980"),
    ("born April 12th 1980", "born ** 1980"),
    ("born 12 April 1980", "born ** 1980"),
    ("born Apr 12, 1980", "born ** 1980"),
    ("born Apr. 12 1980", "born ** 1980"),
    ("born on the 12th of April, 1980", "born on the ** 1980"),
    ("DOB 12-APR-1980", "DOB ** 1980"),
    ("born in April 1980", "born in ** 1980"),
    ("now Friday, November 27, 2026, 10:00", "now ** 2026, 10:00"),
    ("starts 2026-12-08T15:00:00-05:00", "starts 2026-**-**T15:00:00-05:00"),
    ("{'dob': datetime.date(1980, 4, 12)}", "{'dob': datetime.date(1980, **, **)}"),
    ("at datetime.datetime(2026, 12, 8, 15, 0)", "at datetime.datetime(2026, **, **, 15, 0)"),
    # Phones in every format phonenumbers recognises: only the last four digits survive.
    ("call +15551110001", "call XXX-XXX-0001"),
    ("call +1 555 444 0009", "call XXX-XXX-0009"),
    ("call +44 20 7946 0958", "call XXX-XXX-0958"),
    ("call 555-111-0001", "call XXX-XXX-0001"),
    ("call (555) 222-0003", "call XXX-XXX-0003"),
    ("call 555.333.0004", "call XXX-XXX-0004"),
    ("call 1-800-555-0199", "call XXX-XXX-0199"),
    ("call 5551110001 ext. 12", "call XXX-XXX-0001"),
    ("call back on 111-0001", "call back on XXX-XXX-0001"),
    ("calls 5551110001,5552220002", "calls XXX-XXX-0001,XXX-XXX-0002"),
    ("From=%2B15551110001&To=%2B15552220002", "From=%2BXXX-XXX-0001&To=%2BXXX-XXX-0002"),
    # Email addresses keep their first letter and domain.
    ("mail jane.doe@example.com", "mail j****@example.com"),
    # This line used to keep "2026-12-08" whole; a day of a visit is a date of a person too.
    (
        "call +15551110001 or (555) 222-0003 or 555.333.0004, mail jane@example.com; room 12, 2026-12-08",
        "call XXX-XXX-0001 or XXX-XXX-0003 or XXX-XXX-0004, mail j****@example.com; room 12, 2026-**-**",
    ),
    # All at once, where a date could be taken for a phone number and brackets must stay balanced.
    (
        "caller (+1 555 111 0001, born 04/12/1980) booked Tuesday, Dec 8, 2026 at 15:00; mail maria@example.com",
        "caller (XXX-XXX-0001, born **/**/1980) booked ** 2026 at 15:00; mail m****@example.com",
    ),
]

# Free text with nothing to mask: numbers that are not phones, dates without a
# year and things that are not dates.
UNMASKED_CORPUS = [
    "took 1234 ms, call 42, id 123456",
    "id 1234567 took 1234567 ns, processed 1,234,567 rows",
    "turn 7 of call 12 saved; latency 0.1234567 s; at 1764470864.25",
    "Django 5.2.19, certifi 2024.8.30 and build 1.2.2019.5",
    "served on 127.0.0.1:8000, proxied by 192.168.1.100",
    "open 10:00 to 17:30, slots of 30 min",
    "hang-up failed for call CA1234567890abcdef1234567890abcd",
    "task 123e4567-e89b-12d3-a456-426614174000 succeeded",
    "the caller may call back in 2026",
    "Mar 1234 and 0001-01-01 are not anybody's dates",
]


@pytest.mark.parametrize("text,masked", MASKED_CORPUS)
def test_free_text_phi_is_masked(text, masked):
    assert mask_text(text) == masked
    # A record can pass two handlers: masking masked text changes nothing.
    assert mask_text(masked) == masked


@pytest.mark.parametrize("text", UNMASKED_CORPUS)
def test_free_text_without_phi_is_left_alone(text):
    assert mask_text(text) == text


def test_text_with_too_few_digits_for_a_phone_skips_the_phone_matcher(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("PhoneNumberMatcher ran")

    monkeypatch.setattr(tenants.masking, "PhoneNumberMatcher", refuse)
    assert mask_text("took 1234 ms, call 42, id 123456") == "took 1234 ms, call 42, id 123456"


def test_maskers():
    assert mask_phone("+15551110001") == "XXX-XXX-0001"
    assert mask_email("jane.doe@example.com") == "j****@example.com"
    assert mask_name("Maria", "Garcia") == "M.G."
    assert mask_name(mask_name("Maria Garcia")) == "M.G."


def _formatter(name: str) -> logging.Formatter:
    """A formatter exactly as settings.LOGGING configures it."""
    config = dict(settings.LOGGING["formatters"][name])
    if "()" in config:
        return import_string(config.pop("()"))(**config)
    return logging.Formatter(config["format"])


@pytest.fixture
def console_handler():
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    previous_formatter = handler.formatter
    yield handler
    handler.setFormatter(previous_formatter)


@pytest.fixture(params=["plain", "json"])
def console(request, console_handler):
    """The configured console handler, in the development or the production format, writing into a buffer."""
    buffer = io.StringIO()
    console_handler.setFormatter(_formatter(request.param))
    previous_stream = console_handler.setStream(buffer)
    yield buffer
    console_handler.setStream(previous_stream)


@pytest.fixture
def json_console(console_handler):
    buffer = io.StringIO()
    console_handler.setFormatter(_formatter("json"))
    previous_stream = console_handler.setStream(buffer)
    yield buffer
    console_handler.setStream(previous_stream)


def _assert_no_phi(line: str) -> None:
    for clear in CLEAR:
        assert clear not in line


def test_a_formatted_message_with_phone_email_and_patient_comes_out_masked(console):
    # Patient's string is "Patient #7", so a patient formatted into a message names nobody.
    patient = Patient(pk=7, first_name="Maria", last_name="Garcia")
    logging.getLogger("calls.anything").warning(
        "caller %s (%s, born %s) wrote from %s", PHONE, patient, DATE_OF_BIRTH, "maria.garcia@example.com"
    )
    line = console.getvalue()
    assert "caller XXX-XXX-0001 (Patient #7, born ** 1980) wrote from m****@example.com" in line
    _assert_no_phi(line)


def test_third_party_loggers_are_masked_too(console):
    logging.getLogger("celery.worker.strategy").error("Task for +1 555 444 0009 failed")
    assert "XXX-XXX-0009" in console.getvalue()
    assert "444" not in console.getvalue()


def _find_patient(phone: str, date_of_birth: str) -> None:
    try:
        raise LookupError(f"no patient with phone {phone} born {date_of_birth}")
    except LookupError as error:
        raise ValueError(f"caller {phone} could not be verified") from error


def test_a_logged_exception_carries_only_the_masked_traceback(console):
    try:
        _find_patient(PHONE, DATE_OF_BIRTH)
    except ValueError:
        logging.getLogger("voice.phone.pipeline").exception("reply failed on call %s", 12)
    output = console.getvalue()
    if output.startswith("{"):  # the production format
        record = json.loads(output)
        assert record["message"] == "reply failed on call 12"
        traceback = record["exc_info"]
    else:
        traceback = output
    assert "Traceback (most recent call last)" in traceback
    assert "LookupError: no patient with phone XXX-XXX-0001 born ** 1980" in traceback
    assert "ValueError: caller XXX-XXX-0001 could not be verified" in traceback
    _assert_no_phi(output)


def test_a_logged_stack_is_masked(console):
    # The stack shows this source line, and with it the number.
    logging.getLogger("voice").warning("stack", stack_info=True)  # caller +1 555 111 0001
    output = console.getvalue()
    assert "Stack (most recent call last)" in output
    assert "# caller XXX-XXX-0001" in output
    _assert_no_phi(output)


def test_extra_fields_are_masked(json_console):
    extra = {
        "caller": PHONE,
        "to_number": "+1 (555) 222-0002",
        "caller_name": "John Smith",
        "patient": "Maria Garcia",
        "email": "maria@example.com",
        "dob": datetime.date(1980, 4, 12),
        "note": f"call back on {PHONE}, born {DATE_OF_BIRTH}",
        "call_sid": "CA1234567890abcdef1234567890abcd",
        "turns": 7,
    }
    logging.getLogger("voice").warning("turn saved", extra=extra)
    record = json.loads(json_console.getvalue())
    assert record["caller"] == "XXX-XXX-0001"
    assert record["to_number"] == "XXX-XXX-0002"
    assert record["caller_name"] == "J.S."
    assert record["patient"] == "M.G."
    assert record["email"] == "m****@example.com"
    assert record["dob"] == "****-**-**"
    assert record["note"] == "call back on XXX-XXX-0001, born ** 1980"
    assert record["call_sid"] == "CA1234567890abcdef1234567890abcd"
    assert record["turns"] == 7
    assert record["logger"] == "voice"


@pytest.mark.parametrize(
    "patient,logged",
    [(Patient(pk=7, first_name="Maria", last_name="Garcia"), 7), (7, 7), ("Patient #7", "Patient #7")],
    ids=["instance", "id", "str"],
)
def test_a_patient_extra_is_logged_as_its_id(json_console, patient, logged):
    logging.getLogger("bookings").info("booked", extra={"patient": patient})
    assert json.loads(json_console.getvalue())["patient"] == logged


def test_a_record_passing_two_handlers_is_masked_once():
    logger = logging.getLogger("tests.two_handlers")
    buffers = [io.StringIO(), io.StringIO()]
    handlers = [logging.StreamHandler(buffer) for buffer in buffers]
    for handler in handlers:
        handler.addFilter(PHIFilter())
        handler.setFormatter(_formatter("json"))
        logger.addHandler(handler)
    try:
        try:
            _find_patient(PHONE, DATE_OF_BIRTH)
        except ValueError:
            logger.exception("for %s", PHONE, extra={"patient_name": "Maria Garcia", "note": f"from {PHONE}"})
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
    first, second = (json.loads(buffer.getvalue()) for buffer in buffers)
    assert first == second
    assert (first["message"], first["patient_name"], first["note"]) == ("for XXX-XXX-0001", "M.G.", "from XXX-XXX-0001")


def test_a_broken_format_string_is_reported_without_its_arguments(capsys):
    # Not propagated: pytest's own capture handler raises on logging errors rather than reporting them.
    logger = logging.getLogger("tests.broken_format")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("caller %s on %s", PHONE)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    report = capsys.readouterr().err
    assert "--- Logging error ---" in report
    assert "Arguments: ('***',)" in report
    _assert_no_phi(report)
