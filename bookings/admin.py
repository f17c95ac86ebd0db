from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bookings.models import (
    Appointment,
    AppointmentType,
    BusyBlock,
    CalendarConflict,
    CalendarFeedToken,
    CalendarLink,
    Patient,
    Provider,
    ProviderHours,
    ProviderTimeOff,
)
from bookings.services import (
    BookingError,
    SlotUnavailable,
    appointment_book,
    appointment_book_check,
    appointment_update,
    appointment_update_check,
    calendar_conflicts_resolve,
    calendar_feed_token_issue,
    calendar_feed_token_revoke,
    calendar_link_delete,
    calendar_link_save,
)
from tenants.admin import AuditedAdminMixin, TenantScopedAdmin, TenantScopedMixin, writable_rows
from tenants.services import Actor, audit_record


class ProviderHoursInline(TenantScopedMixin, admin.TabularInline):
    model = ProviderHours
    extra = 0
    exclude = ["tenant"]


class ProviderTimeOffInline(TenantScopedMixin, admin.TabularInline):
    model = ProviderTimeOff
    extra = 0
    exclude = ["tenant"]


@admin.register(Provider)
class ProviderAdmin(TenantScopedAdmin):
    list_display = ["name", "key", "role", "is_active", "tenant"]
    list_filter = ["tenant", "role", "is_active"]
    inlines = [ProviderHoursInline, ProviderTimeOffInline]

    def save_formset(self, request, form, formset, change):
        # Inline rows belong to the provider's practice.
        for row in formset.save(commit=False):
            row.tenant_id = form.instance.tenant_id
            row.save()
        for row in formset.deleted_objects:
            row.delete()


@admin.register(AppointmentType)
class AppointmentTypeAdmin(TenantScopedAdmin):
    list_display = ["name", "key", "minutes", "role", "is_emergency", "is_active", "tenant"]
    list_filter = ["tenant", "role", "is_active"]


@admin.register(BusyBlock)
class BusyBlockAdmin(TenantScopedAdmin):
    list_display = ["start", "end", "provider", "source", "tenant"]
    list_filter = ["tenant", "provider", "source"]
    date_hierarchy = "start"


def texts_table(texts) -> str:
    """The texts to and from a patient, or about an appointment, newest first: a record, shown, never edited."""
    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((f"{timezone.localtime(t.created_at):%b %-d, %Y %-I:%M %p}", t.get_kind_display(), t.body,
          t.get_status_display() + (f" ({t.error_code})" if t.error_code else "")) for t in texts),
    )
    if not rows:
        return "None yet."
    return format_html('<table class="texts"><thead><tr><th>When</th><th>What</th><th>Words</th><th>Status</th></tr>'
                       "</thead><tbody>{}</tbody></table>", rows)


@admin.register(Patient)
class PatientAdmin(AuditedAdminMixin, TenantScopedAdmin):
    # Encrypted columns cannot be searched or sorted by the database.
    list_display = ["id", "name", "date_of_birth", "phone", "tenant"]
    list_filter = ["tenant"]
    fields = ["tenant", "first_name", "last_name", "date_of_birth", "phone", "email", "notes", "texts", "calls"]
    readonly_fields = ["texts", "calls"]

    @admin.display(description="Calls")
    def calls(self, patient: Patient) -> str:
        if not patient.pk:
            return "None yet."
        # By URL name: bookings does not import calls. The calls' list filters by patient.
        url = reverse("admin:calls_call_changelist") + f"?patient={patient.pk}"
        return format_html('<a class="patient-calls" href="{}">This patient\'s calls</a>', url)

    @admin.display(description="Texts")
    def texts(self, patient: Patient) -> str:
        return texts_table(patient.texts.order_by("-created_at")) if patient.pk else "None yet."

    @admin.display(description="Name")
    def name(self, patient: Patient) -> str:
        return patient.full_name


class PatientChoiceField(forms.ModelChoiceField):
    """Staff choose a patient by name: the row's own string names no one."""

    def label_from_instance(self, patient: Patient) -> str:
        born = f", born {patient.date_of_birth:%b %-d, %Y}" if patient.date_of_birth else ""
        return f"{patient.full_name}{born}"


def _describe(slots, tz) -> str:
    return ", ".join(f"{timezone.localtime(s.start, tz):%a %b %-d %-I:%M %p}" for s in slots)


class AppointmentAdminForm(forms.ModelForm):
    """Checks a booking or a change with the scheduling services; AppointmentAdmin.save_model makes it through them."""

    class Meta:
        model = Appointment
        fields = ["tenant", "patient", "appointment_type", "provider", "start", "status", "notes"]
        help_texts = {"provider": "Leave empty to take the first free provider who does this type."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "provider" in self.fields and self.instance.pk is None:
            self.fields["provider"].required = False

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            if self.instance.pk is None:
                appointment_book_check(
                    tenant=data["tenant"], patient=data["patient"], appointment_type=data["appointment_type"],
                    start=data["start"], provider=data.get("provider"),
                )
            else:
                appointment_update_check(
                    appointment=self.instance, status=data.get("status"), start=data.get("start"),
                    provider=data.get("provider"), notes=data.get("notes"),
                )
        except BookingError as error:
            raise forms.ValidationError(booking_error_message(error, data.get("tenant") or self.instance.tenant)) from None
        return data


def booking_error_message(error: BookingError, tenant) -> str:
    """The service's sentence, with the times open instead when it has them."""
    message = str(error)
    if isinstance(error, SlotUnavailable) and error.alternatives:
        message += " Open instead: " + _describe(error.alternatives, tenant.tzinfo) + "."
    return message


@admin.register(Appointment)
class AppointmentAdmin(AuditedAdminMixin, TenantScopedAdmin):
    form = AppointmentAdminForm
    list_display = ["start", "end", "appointment_type", "provider", "patient_name", "status", "source", "tenant"]
    list_filter = ["tenant", "provider", "status", "appointment_type", "start"]
    list_select_related = ["appointment_type", "provider", "patient"]
    date_hierarchy = "start"
    ordering = ["start"]

    @admin.display(description="Patient")
    def patient_name(self, appointment: Appointment) -> str:
        return appointment.patient.full_name

    @admin.display(description="Texts")
    def texts(self, appointment: Appointment) -> str:
        return texts_table(appointment.texts.order_by("-created_at"))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["end", "source"]
        return ["tenant", "patient_name", "appointment_type", "end", "source", "confirmed_by_patient_at", "texts"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None:  # the patient is fixed once booked: shown by name, not offered as a choice
            fields = [field for field in fields if field != "patient"]
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "patient":
            kwargs["form_class"] = PatientChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        patients = context["adminform"].form.fields.get("patient")
        if patients is not None and request.method == "GET":
            # The choices name every patient the user may book for: that is a list of PHI.
            tenant_ids = patients.queryset.order_by("tenant_id").values_list("tenant_id", flat=True).distinct()
            for tenant_id in tenant_ids:
                audit_record(actor=Actor.from_request(request), action="list", object_type="bookings.Patient",
                             tenant=tenant_id, detail={"via": "appointment form choices"})
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        if change:
            saved = appointment_update(appointment=obj, actor=actor, status=obj.status, start=obj.start,
                                       provider=obj.provider, notes=obj.notes)
        else:
            saved = appointment_book(
                tenant=obj.tenant, patient=obj.patient, appointment_type=obj.appointment_type, start=obj.start,
                provider=form.cleaned_data.get("provider"), actor=actor, source=Appointment.Source.ADMIN,
                notes=obj.notes,
            )
        # The admin carries on with `obj` (its message, its redirect): make it the row the service saved.
        obj.__dict__.update(saved.__dict__)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except BookingError as error:
            # The slot went between the form's check and the booking (another caller, another desk).
            tenant = Appointment.objects.get(pk=object_id).tenant if object_id else None
            message = booking_error_message(error, tenant) if tenant else str(error)
            self.message_user(request, f"Nothing was saved: {message}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class CalendarLinkForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", label="URL",
                         help_text=CalendarLink._meta.get_field("url").help_text)
    # Not the model field: the stored password is never put back into a page, and blank keeps it.
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False), required=False, strip=False,
        help_text="Stored encrypted and never shown again. Leave blank to keep the current one.",
    )

    class Meta:
        model = CalendarLink
        fields = ["tenant", "provider", "url", "username", "is_enabled"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not data.get("password"):
            self.add_error("password", "The calendar needs a password (often an app-specific one).")
        return data


@admin.register(CalendarLink)
class CalendarLinkAdmin(TenantScopedAdmin):
    form = CalendarLinkForm
    list_display = ["provider", "url", "is_enabled", "last_synced_at", "last_error", "tenant"]
    list_filter = ["tenant", "is_enabled"]
    list_select_related = ["provider"]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["last_synced_at", "last_error", "last_error_at"]
        return readonly + ["provider"] if obj is not None else readonly

    def save_model(self, request, obj, form, change):
        if not self._role_allows_write(request, obj):
            raise PermissionDenied
        saved = calendar_link_save(
            provider=obj.provider, url=obj.url, username=obj.username, is_enabled=obj.is_enabled,
            password=form.cleaned_data["password"], actor=Actor.from_request(request),
        )
        obj.__dict__.update(saved.__dict__)

    def delete_model(self, request, obj):
        calendar_link_delete(link=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request, queryset):
        for link in queryset:
            calendar_link_delete(link=link, actor=Actor.from_request(request))


class ConflictStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(CalendarConflict)
class CalendarConflictAdmin(TenantScopedAdmin):
    """Events in providers' calendars over booked appointments, until staff mark them resolved."""

    list_display = ["appointment_start", "provider", "external_start", "external_end", "detected_at", "resolved_at",
                    "resolved_by", "tenant"]
    list_filter = [ConflictStateFilter, "tenant"]
    list_select_related = ["appointment__provider", "appointment__tenant", "resolved_by"]
    readonly_fields = ["appointment", "external_uid", "external_start", "external_end", "detected_at", "resolved_at",
                       "resolved_by"]
    exclude = ["tenant"]
    actions = ["resolve"]

    @admin.display(description="Appointment", ordering="appointment__start")
    def appointment_start(self, conflict: CalendarConflict) -> str:
        start = timezone.localtime(conflict.appointment.start, conflict.appointment.tenant.tzinfo)
        return f"#{conflict.appointment_id} {start:%a %b %-d %-I:%M %p}"

    @admin.display(description="Provider")
    def provider(self, conflict: CalendarConflict) -> str:
        return conflict.appointment.provider.name

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a conflict is resolved, not made to disappear

    def has_change_permission(self, request, obj=None):
        return False

    def has_resolve_permission(self, request):
        return self._role_allows_write(request)

    @admin.action(description="Mark resolved", permissions=["resolve"])
    def resolve(self, request, queryset):
        count = calendar_conflicts_resolve(conflicts=writable_rows(request, queryset), actor=Actor.from_request(request))
        self.message_user(request, f"{count} conflict(s) marked resolved.")


class CalendarFeedTokenForm(forms.ModelForm):
    class Meta:
        model = CalendarFeedToken
        fields = ["tenant", "provider"]


@admin.register(CalendarFeedToken)
class CalendarFeedTokenAdmin(TenantScopedAdmin):
    """Issuing shows the feed's URL once; revoking ends it. Neither the token nor the URL is kept."""

    form = CalendarFeedTokenForm
    list_display = ["provider", "created_at", "revoked_at", "tenant"]
    list_filter = ["tenant", "provider"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, so the audit trail still shows which feed it was

    def has_revoke_permission(self, request):
        return self._role_allows_write(request)

    def save_model(self, request, obj, form, change):
        if not self._role_allows_write(request, obj):
            raise PermissionDenied
        feed, token = calendar_feed_token_issue(provider=obj.provider, actor=Actor.from_request(request))
        obj.__dict__.update(feed.__dict__)
        url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("calendar-feed", args=[token])
        self.message_user(request, f"Subscribe to {obj.provider.name}'s appointments at {url} . "
                                   "Copy it now: it is not shown again.", messages.WARNING)

    @admin.action(description="Revoke (the URL stops working)", permissions=["revoke"])
    def revoke(self, request, queryset):
        actor = Actor.from_request(request)
        feeds = list(writable_rows(request, queryset))
        for feed in feeds:
            calendar_feed_token_revoke(feed=feed, actor=actor)
        self.message_user(request, f"{len(feeds)} feed(s) revoked.")
