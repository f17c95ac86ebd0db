"""/api/v1/: a thin layer over the services and selectors. The API decides nothing the services do not.

Every view answers for the caller's own practice only (request.auth.tenant): another practice's
object is not found, never shown. Reads and changes of PHI are written to the audit trail.
"""

import datetime as dt
import json

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from api import serializers as s
from api.auth import ApiClient
from api.errors import error_body
from api.models import Scope
from api.services import idempotent_request_begin, idempotent_request_finish
from bookings.models import Appointment, AppointmentType, Patient, Provider
from bookings.selectors import appointment_types_bookable, patient_find_by_phone, providers_bookable, slots_open
from bookings.services import (
    PatientInvalid,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    patient_create,
)
from calls.models import Call, Message
from calls.services import message_mark_handled
from tenants.phones import InvalidPhoneNumber, normalize_phone
from tenants.selectors import practice_facts, practice_number
from tenants.services import audit_record

ERROR = inline_serializer("Error", {"error": inline_serializer("ErrorBody", {
    "code": serializers.CharField(), "message": serializers.CharField(), "details": serializers.JSONField()})})
COMMON_ERRORS = {
    401: OpenApiResponse(ERROR, description="No valid key or token."),
    403: OpenApiResponse(ERROR, description="The key lacks the scope (named in the message)."),
    429: OpenApiResponse(ERROR, description="Too many requests: wait the Retry-After seconds."),
}
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                               description="Retries with the same key get the first answer; nothing is done twice.")


class ApiView(GenericAPIView):
    required_scopes: dict[str, str] = {}

    @property
    def client(self) -> ApiClient:
        return self.request.auth

    @property
    def tenant(self):
        return self.request.auth.tenant

    def scoped(self, queryset):
        """The practice's rows of `queryset`; none while the schema is being drawn (no request then)."""
        return queryset.none() if getattr(self, "swagger_fake_view", False) else queryset.for_tenant(self.tenant)

    def audit(self, action: str, object_type: str, object_id=None, **detail) -> None:
        audit_record(actor=self.client.actor, action=action, object_type=object_type, object_id=object_id,
                     tenant=self.tenant, detail={"via": "api", **detail})

    def idempotent(self, answer) -> Response:
        """Run `answer()` once per Idempotency-Key; a retry gets the first response."""
        key = self.request.headers.get("Idempotency-Key")
        if not key:
            return answer()
        if len(key) > 255:
            return Response(error_body("invalid", "The Idempotency-Key is at most 255 characters."), status=400)
        earlier = idempotent_request_begin(tenant=self.tenant, client=self.client.client_id, key=key,
                                           method=self.request.method, path=self.request.path,
                                           body=self.request.body)
        if earlier is not None:
            response = Response(json.loads(earlier.response) if earlier.response else None,
                                status=earlier.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        status_code, data = 500, None
        try:
            try:
                response = answer()
            except Exception as error:  # a refusal (409, 422...) is the answer retries get too
                response = self.handle_exception(error)
            status_code, data = response.status_code, response.data
            return response
        finally:
            idempotent_request_finish(tenant=self.tenant, client=self.client.client_id, key=key,
                                      status_code=status_code, response=data)


def _input(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PracticeView(ApiView):
    required_scopes = {"GET": Scope.PRACTICE_READ}

    @extend_schema(summary="The practice's facts", responses={200: OpenApiTypes.OBJECT, **COMMON_ERRORS},
                   description="Hours (practice-local, Monday = 0), closures from today, providers and "
                               "appointment types.")
    def get(self, request):
        tenant = self.tenant
        facts = practice_facts(tenant=tenant, today=timezone.now().astimezone(tenant.tzinfo).date())
        return Response({
            "name": tenant.name, "timezone": tenant.timezone, "phone": practice_number(tenant=tenant),
            "address": facts.address, "parking": facts.parking,
            "insurance_accepted": facts.insurance_accepted, "insurance_not_accepted": facts.insurance_not_accepted,
            "hours": {str(day): [[o.strftime("%H:%M"), c.strftime("%H:%M")] for o, c in intervals]
                      for day, intervals in sorted(facts.week.items())},
            "closures": [{"date": day.isoformat(), "reason": reason} for day, reason in sorted(facts.closures.items())],
            "providers": [{"id": p.pk, "key": p.key, "name": p.name, "role": p.role}
                          for p in providers_bookable(tenant=tenant).values()],
            "appointment_types": [{"key": t.key, "name": t.name, "minutes": t.minutes, "role": t.role}
                                  for t in appointment_types_bookable(tenant=tenant).values()],
        })


class AvailabilityView(ApiView):
    required_scopes = {"GET": Scope.AVAILABILITY_READ}

    @extend_schema(summary="Open times", parameters=[s.AvailabilityQuery],
                   responses={200: s.SlotOut(many=True), 400: ERROR, **COMMON_ERRORS},
                   description="The times the receptionist would offer, practice-local.")
    def get(self, request):
        query = _input(s.AvailabilityQuery, request.query_params)
        kind = get_object_or_404(AppointmentType, tenant=self.tenant, key=query["appointment_type"], is_active=True)
        provider = None
        if query.get("provider"):
            provider = get_object_or_404(Provider, tenant=self.tenant, key=query["provider"], is_active=True)
        after, before = s.PartOfDay.WINDOWS.get(query.get("part_of_day"), (None, None))
        slots = slots_open(
            tenant=self.tenant, appointment_type=kind, now=timezone.now(), start_date=query["start_date"],
            end_date=query["end_date"], provider=provider,
            after=after, before=before,
        )
        tz = self.tenant.tzinfo
        return Response([{"start": slot.start.astimezone(tz), "end": slot.end.astimezone(tz),
                          "provider_id": slot.provider_id} for slot in slots])


class _MomentField(IsoDateTimeField):
    """An ISO 8601 moment the database can compare with: real time zones, years 1900 to 2199."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        offset = moment.utcoffset()
        if (offset is not None and abs(offset) > dt.timedelta(hours=14)) or not 1900 <= moment.year < 2200:
            raise ValidationError("Give a date from 1900 to 2199 with a real UTC offset, e.g. 2026-12-07T09:00-05:00.")
        return moment


class MomentFilter(filters.IsoDateTimeFilter):
    field_class = _MomentField


class AppointmentFilter(filters.FilterSet):
    start_after = MomentFilter(field_name="start", lookup_expr="gte")
    start_before = MomentFilter(field_name="start", lookup_expr="lt")
    provider = filters.CharFilter(field_name="provider__key")
    appointment_type = filters.CharFilter(field_name="appointment_type__key")
    patient_id = filters.NumberFilter(field_name="patient_id")

    class Meta:
        model = Appointment
        fields = ["status", "source"]


class ByStart(CursorPagination):
    ordering = ("start", "id")
    page_size = 50


class Newest(CursorPagination):
    ordering = ("-started_at", "-id")
    page_size = 50


class NewestMessages(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


class AppointmentsView(ApiView):
    required_scopes = {"GET": Scope.APPOINTMENTS_READ, "POST": Scope.APPOINTMENTS_WRITE}
    serializer_class = s.AppointmentOut
    filterset_class = AppointmentFilter
    filter_backends = [filters.DjangoFilterBackend]
    pagination_class = ByStart

    def get_queryset(self):
        return self.scoped(Appointment.objects.select_related("provider", "appointment_type"))

    @extend_schema(summary="List appointments", responses={200: s.AppointmentOut(many=True), **COMMON_ERRORS},
                   description="Filter by status, source, provider, appointment type, patient and start.")
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self.audit("list", "bookings.Appointment", count=len(page))
        return self.get_paginated_response(s.AppointmentOut(page, many=True).data)

    @extend_schema(summary="Book an appointment", request=s.AppointmentIn, parameters=[IDEMPOTENCY],
                   responses={201: s.AppointmentOut, 400: ERROR, 404: ERROR,
                              409: OpenApiResponse(ERROR, description="Taken: details.alternatives has the nearest."),
                              422: OpenApiResponse(ERROR, description="Outside hours, in the past, too soon..."),
                              **COMMON_ERRORS},
                   description="Through the same rules as a phone booking.")
    def post(self, request):
        def book():
            data = _input(s.AppointmentIn, request.data)
            patient = get_object_or_404(Patient.objects.for_tenant(self.tenant), pk=data["patient_id"])
            kind = get_object_or_404(AppointmentType, tenant=self.tenant, key=data["appointment_type"],
                                     is_active=True)
            provider = (get_object_or_404(Provider, tenant=self.tenant, key=data["provider"], is_active=True)
                        if data.get("provider") else None)
            appointment = appointment_book(tenant=self.tenant, patient=patient, appointment_type=kind,
                                           start=data["start"], provider=provider, actor=self.client.actor,
                                           source=Appointment.Source.API, notes=data["notes"])
            return Response(s.AppointmentOut(appointment).data, status=status.HTTP_201_CREATED)

        return self.idempotent(book)


class AppointmentView(ApiView):
    required_scopes = {"GET": Scope.APPOINTMENTS_READ}

    @extend_schema(summary="One appointment", responses={200: s.AppointmentOut, 404: ERROR, **COMMON_ERRORS},
                   description="Its patient by id only: look the patient up under /patients.")
    def get(self, request, pk: int):
        appointment = get_object_or_404(Appointment.objects.for_tenant(self.tenant), pk=pk)
        self.audit("read", "bookings.Appointment", appointment.pk)
        return Response(s.AppointmentOut(appointment).data)


class AppointmentRescheduleView(ApiView):
    required_scopes = {"POST": Scope.APPOINTMENTS_WRITE}

    @extend_schema(summary="Move an appointment", request=s.RescheduleIn, parameters=[IDEMPOTENCY],
                   responses={200: s.AppointmentOut, 400: ERROR, 404: ERROR, 409: ERROR, 422: ERROR,
                              **COMMON_ERRORS},
                   description="The old time is freed and the new one taken together, or nothing changes.")
    def post(self, request, pk: int):
        def move():
            appointment = get_object_or_404(Appointment.objects.for_tenant(self.tenant), pk=pk)
            data = _input(s.RescheduleIn, request.data)
            provider = (get_object_or_404(Provider, tenant=self.tenant, key=data["provider"], is_active=True)
                        if data.get("provider") else None)
            moved = appointment_reschedule(appointment=appointment, new_start=data["start"], provider=provider,
                                           actor=self.client.actor)
            return Response(s.AppointmentOut(moved).data)

        return self.idempotent(move)


class AppointmentCancelView(ApiView):
    required_scopes = {"POST": Scope.APPOINTMENTS_WRITE}

    @extend_schema(summary="Cancel an appointment", request=s.CancelIn, parameters=[IDEMPOTENCY],
                   responses={200: s.AppointmentOut, 404: ERROR, 409: ERROR, **COMMON_ERRORS},
                   description="A cancelled appointment stays cancelled; book a new one instead.")
    def post(self, request, pk: int):
        def cancel():
            appointment = get_object_or_404(Appointment.objects.for_tenant(self.tenant), pk=pk)
            data = _input(s.CancelIn, request.data)
            cancelled = appointment_cancel(appointment=appointment, actor=self.client.actor, reason=data["reason"])
            return Response(s.AppointmentOut(cancelled).data)

        return self.idempotent(cancel)


def _patient_out(patient, *, with_dob: bool) -> dict:
    row = {"id": patient.pk, "first_name": patient.first_name, "last_name": patient.last_name,
           "phone": patient.phone}
    if with_dob:
        row["date_of_birth"] = patient.date_of_birth
    return row


class PatientsView(ApiView):
    required_scopes = {"GET": Scope.PATIENTS_READ, "POST": Scope.PATIENTS_WRITE}

    @extend_schema(summary="Find patients by phone", parameters=[s.PatientQuery],
                   responses={200: s.PatientOut(many=True), 400: ERROR, **COMMON_ERRORS},
                   description="An indexed lookup by the number (a family may share one). Dates of birth only "
                               "with patients:dob.")
    def get(self, request):
        query = _input(s.PatientQuery, request.query_params)
        try:
            phone = normalize_phone(query["phone"])
        except InvalidPhoneNumber:
            return Response(error_body("invalid", "That is not a phone number.", {"phone": ["Not a phone number."]}),
                            status=400)
        patients = patient_find_by_phone(tenant=self.tenant, phone=phone)
        for patient in patients:
            self.audit("read", "bookings.Patient", patient.pk)
        with_dob = Scope.PATIENTS_DOB in self.client.scopes
        return Response([_patient_out(p, with_dob=with_dob) for p in patients])

    @extend_schema(summary="Create a patient", request=s.PatientIn, parameters=[IDEMPOTENCY],
                   responses={201: s.PatientOut, 400: ERROR, 422: ERROR, **COMMON_ERRORS},
                   description="Giving a date of birth needs patients:dob.")
    def post(self, request):
        def create():
            data = _input(s.PatientIn, request.data)
            with_dob = Scope.PATIENTS_DOB in self.client.scopes
            if "date_of_birth" in data and not with_dob:
                return Response(error_body("permission_denied", "Giving a date of birth needs the patients:dob scope."),
                                status=403)
            try:
                patient = patient_create(tenant=self.tenant, first_name=data["first_name"],
                                         last_name=data["last_name"], phone=data["phone"],
                                         date_of_birth=data.get("date_of_birth"), actor=self.client.actor)
            except PatientInvalid as error:
                return Response(error_body("patient_invalid", str(error)), status=422)
            return Response(_patient_out(patient, with_dob=with_dob), status=status.HTTP_201_CREATED)

        return self.idempotent(create)


class CallFilter(filters.FilterSet):
    started_after = MomentFilter(field_name="started_at", lookup_expr="gte")
    started_before = MomentFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Call
        fields = ["outcome", "status", "channel"]


class CallsView(ApiView):
    required_scopes = {"GET": Scope.CALLS_READ}
    serializer_class = s.CallOut
    filterset_class = CallFilter
    filter_backends = [filters.DjangoFilterBackend]
    pagination_class = Newest

    def get_queryset(self):
        return self.scoped(Call.objects.all())

    @extend_schema(summary="List calls", responses={200: s.CallOut(many=True), **COMMON_ERRORS},
                   description="Newest first, with outcome and summary.")
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self.audit("list", "calls.Call", count=len(page))
        return self.get_paginated_response(s.CallOut(page, many=True).data)


class CallView(ApiView):
    required_scopes = {"GET": Scope.CALLS_READ}

    @extend_schema(summary="One call", responses={200: s.CallDetailOut, 404: ERROR, **COMMON_ERRORS},
                   description="Outcome, summary and each turn's latency; the words of each turn only with "
                               "transcripts:read.")
    def get(self, request, pk: int):
        call = get_object_or_404(Call.objects.for_tenant(self.tenant), pk=pk)
        transcripts = Scope.TRANSCRIPTS_READ in self.client.scopes
        self.audit("read", "calls.Call", call.pk, transcript=transcripts)
        return Response(s.CallDetailOut(call, context={"transcripts": transcripts}).data)


class MessagesView(ApiView):
    required_scopes = {"GET": Scope.MESSAGES_READ}
    serializer_class = s.MessageOut
    pagination_class = NewestMessages
    filter_backends = [filters.DjangoFilterBackend]
    filterset_fields = ["status"]

    def get_queryset(self):
        return self.scoped(Message.objects.all())

    @extend_schema(summary="List messages callers left", responses={200: s.MessageOut(many=True), **COMMON_ERRORS},
                   description="Newest first; filter by status (new, handled).")
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self.audit("list", "calls.Message", count=len(page))
        return self.get_paginated_response(s.MessageOut(page, many=True).data)


class MessageHandledView(ApiView):
    required_scopes = {"POST": Scope.MESSAGES_WRITE}

    @extend_schema(summary="Mark a message handled", request=None, parameters=[IDEMPOTENCY],
                   responses={200: s.MessageOut, 404: ERROR, **COMMON_ERRORS})
    def post(self, request, pk: int):
        def handle():
            message = get_object_or_404(Message.objects.for_tenant(self.tenant), pk=pk)
            return Response(s.MessageOut(message_mark_handled(message=message, actor=self.client.actor)).data)

        return self.idempotent(handle)
