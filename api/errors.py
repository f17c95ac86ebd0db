"""One error shape across the API: {"error": {"code", "message", "details"}}, with the right status."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from api.services import IdempotencyKeyReused, IdempotentRequestInProgress
from bookings.services import (
    AppointmentNotChangeable,
    BookingError,
    PatientDoubleBooked,
    SlotUnavailable,
)


def _slot(slot, tz) -> dict:
    return {"start": slot.start.astimezone(tz).isoformat(), "end": slot.end.astimezone(tz).isoformat(),
            "provider_id": slot.provider_id}


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def booking_error_response(error: BookingError, tenant) -> Response:
    """The scheduling services' named refusals as JSON: a taken slot is a conflict, with the nearest alternatives."""
    code = _snake(type(error).__name__)
    if isinstance(error, SlotUnavailable):
        # Taken by someone else is a conflict; closed, outside hours, too soon and the like are the request's own.
        taken = type(error) is SlotUnavailable
        alternatives = [_slot(s, tenant.tzinfo) for s in error.alternatives]
        return Response(error_body(code, str(error), {"alternatives": alternatives}),
                        status=status.HTTP_409_CONFLICT if taken else status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(error, (PatientDoubleBooked, AppointmentNotChangeable)):
        return Response(error_body(code, str(error)), status=status.HTTP_409_CONFLICT)
    return Response(error_body(code, str(error)), status=status.HTTP_422_UNPROCESSABLE_ENTITY)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def api_exception_handler(exc, context):
    if isinstance(exc, BookingError):
        return booking_error_response(exc, context["request"].auth.tenant)
    if isinstance(exc, IdempotencyKeyReused):
        return Response(error_body("idempotency_key_reused", str(exc)), status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    if isinstance(exc, IdempotentRequestInProgress):
        return Response(error_body("idempotent_request_in_progress", str(exc)), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", "The request is not valid.", exc.detail)
    else:
        detail = getattr(exc, "detail", str(exc))
        response.data = error_body(getattr(detail, "code", None) or "error", str(detail))
    return response
