"""Keeps PHI out of every log line, whichever logger writes it.

The message, the traceback and the stack are masked by the log record factory
(installed in TenantsConfig.ready), so it applies to Django's, Celery's and
third-party loggers alike and to any handler and formatter. `extra=`
attributes are attached after the factory runs, so PHIFilter, on every
configured handler, masks those.
"""

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from tenants.masking import mask_email, mask_name, mask_phone, mask_text

_PATIENT_ID_RE = re.compile(r"patient #\d+", re.IGNORECASE)


def _mask_patient(value: Any) -> Any:
    # A Patient instance is logged as its id, and an id stays one; a string is a name,
    # unless it is already PHI-free (str(patient), "Patient #12").
    if isinstance(value, str):
        return value if _PATIENT_ID_RE.fullmatch(value) else mask_name(value)
    return getattr(value, "pk", value)


def _mask_date_of_birth(value: Any) -> str:
    return "****-**-**"


# `extra=` keys whose value is known to be PHI, and how each is masked; every
# other string attribute goes through mask_text.
PHI_ATTRIBUTES: dict[str, Callable[[Any], Any]] = {
    "phone": mask_phone,
    "caller": mask_phone,
    "from_number": mask_phone,
    "to_number": mask_phone,
    "email": mask_email,
    "caller_name": mask_name,
    "patient_name": mask_name,
    "first_name": mask_name,
    "last_name": mask_name,
    "patient": _mask_patient,
    "date_of_birth": _mask_date_of_birth,
    "dob": _mask_date_of_birth,
}

# What LogRecord sets itself (and its formatters add); anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

_TRACEBACK_FORMATTER = logging.Formatter()


def _withheld_args(args: tuple | Mapping) -> tuple | dict:
    # Same shape, so the format error logging reports stays the same error.
    if isinstance(args, Mapping):
        return dict.fromkeys(args, "***")
    return ("***",) * len(args)


def _mask_traceback(record: logging.LogRecord) -> None:
    # Formatters write exc_text when exc_info is None (logging.Formatter and
    # python-json-logger's JsonFormatter alike), whereas with exc_info set
    # JsonFormatter formats the live exception again. So the traceback is
    # formatted once here, masked, and the exception itself dropped.
    if record.exc_info:
        record.exc_text = mask_text(_TRACEBACK_FORMATTER.formatException(record.exc_info))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:
        # A broken format string fails again at emit time, and logging then
        # prints the message and its arguments to stderr (Handler.handleError).
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        if record.args:
            record.args = _withheld_args(record.args)
    else:
        record.msg = mask_text(message)
        record.args = None
    _mask_traceback(record)
    return record


class PHIFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Every masker is idempotent, so a record passing two handlers is fine.
        attributes = record.__dict__
        for key in attributes.keys() - _RECORD_ATTRIBUTES:
            value = attributes[key]
            masker = PHI_ATTRIBUTES.get(key)
            if masker is not None:
                if value is not None and value != "":
                    attributes[key] = masker(value)
            elif isinstance(value, str):
                attributes[key] = mask_text(value)
        return True


def install_phi_record_factory() -> None:
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_phi", False):
        return

    def factory(*args, **kwargs):
        return mask_record(current(*args, **kwargs))

    factory.masks_phi = True
    logging.setLogRecordFactory(factory)
