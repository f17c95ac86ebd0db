"""Keeps PHI out of every log line, whichever logger writes it.

The message is masked by the log record factory (installed in
TenantsConfig.ready), so it applies to Django's, Celery's and third-party
loggers alike and to any handler. `extra=` attributes are attached after the
factory runs, so PHIFilter, on every configured handler, masks those.
"""

import logging

from tenants.masking import mask_email, mask_name, mask_phone, mask_text

# `extra=` keys that carry PHI, and how each is masked.
PHI_ATTRIBUTES = {
    "phone": mask_phone,
    "caller": mask_phone,
    "from_number": mask_phone,
    "email": mask_email,
    "caller_name": mask_name,
    "patient_name": mask_name,
    "first_name": mask_name,
    "last_name": mask_name,
    "date_of_birth": lambda value: "****-**-**",
    "dob": lambda value: "****-**-**",
}


def _masked_arg(arg):
    masker = getattr(arg, "__log_mask__", None)
    if callable(masker):
        return masker()
    return arg


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    if record.args:
        args = record.args
        if isinstance(args, dict):
            record.args = {k: _masked_arg(v) for k, v in args.items()}
        else:
            record.args = tuple(_masked_arg(a) for a in args)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is logged as-is, like logging itself does
        return record
    record.msg = mask_text(message)
    record.args = None
    return record


class PHIFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Every masker is idempotent, so a record passing two handlers is fine.
        for attribute, masker in PHI_ATTRIBUTES.items():
            value = record.__dict__.get(attribute)
            if value not in (None, ""):
                record.__dict__[attribute] = masker(value)
        return True


def install_phi_record_factory() -> None:
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_phi", False):
        return

    def factory(*args, **kwargs):
        return mask_record(current(*args, **kwargs))

    factory.masks_phi = True
    logging.setLogRecordFactory(factory)
