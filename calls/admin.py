import datetime as dt
import json

from django.contrib import admin, messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from calls.models import Call, Message
from calls.review import follow_up_reasons, json_object, latency_strips, providers_line, tool_call_describe
from calls.selectors import calls_needing_follow_up, calls_started_today
from calls.services import message_mark_handled
from calls.telephony import RecordingUnavailable, recording_media_open
from tenants.admin import AuditedAdminMixin, TenantScopedAdmin, writable_tenant_ids
from tenants.masking import mask_phone
from tenants.models import Tenant
from tenants.selectors import staff_roles_by_tenant
from tenants.services import Actor, audit_record


class TodayFilter(admin.SimpleListFilter):
    title = "day"
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("today", "Today")]

    def queryset(self, request, queryset):
        if self.value() != "today":
            return queryset
        tenants = Tenant.objects.filter(pk__in=queryset.values("tenant"))
        return queryset.filter(calls_started_today(tenants=tenants, now=timezone.now()))


class FollowUpFilter(admin.SimpleListFilter):
    title = "follow-up"
    parameter_name = "follow_up"

    def lookups(self, request, model_admin):
        return [("yes", "Needs follow-up")]

    def queryset(self, request, queryset):
        return queryset.filter(calls_needing_follow_up()) if self.value() == "yes" else queryset


class PatientFilter(admin.SimpleListFilter):
    """Patients' names are encrypted, so there is no search by name: the patients who called, by name."""

    title = "patient"
    parameter_name = "patient"

    def lookups(self, request, model_admin):
        called = model_admin.get_queryset(request).exclude(patient=None).values("patient")
        patient_model = Call._meta.get_field("patient").related_model
        patients = list(patient_model.objects.filter(pk__in=called))
        # The names on the page are patient data: each practice whose patients are listed has the view in its trail.
        for tenant_id in sorted({patient.tenant_id for patient in patients}):
            audit_record(actor=Actor.from_request(request), action="list", object_type=patient_model._meta.label,
                         tenant=tenant_id, detail={"shown_in": "call list patient filter",
                                                   "count": sum(p.tenant_id == tenant_id for p in patients)})
        return sorted(((str(p.pk), p.full_name) for p in patients), key=lambda choice: choice[1].casefold())

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if not self.value().isdigit():
            return queryset.none()
        return queryset.filter(patient_id=int(self.value()))


class TestCallFilter(admin.SimpleListFilter):
    title = "test calls"
    parameter_name = "test"
    is_test = "is_test"  # the lookup that says a row is of a staff member's test call

    def lookups(self, request, model_admin):
        return [("hide", "Hide test calls"), ("only", "Only test calls")]

    def queryset(self, request, queryset):
        if self.value() == "only":
            return queryset.filter(**{self.is_test: True})
        if self.value() == "hide":
            # Not filter(...=False): a message without a call is no test call's.
            return queryset.exclude(**{self.is_test: True})
        return queryset


class MessageTestCallFilter(TestCallFilter):
    title = "left on test calls"
    is_test = "call__is_test"


def _local(call: Call, moment: dt.datetime | None) -> dt.datetime | None:
    return timezone.localtime(moment, call.tenant.tzinfo) if moment else None


def _duration(call: Call) -> str:
    seconds = call.duration_seconds
    if seconds is None and call.ended_at:
        seconds = round((call.ended_at - call.started_at).total_seconds())
    if seconds is None:
        return "-"
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _follow_up(call: Call) -> list[str]:
    return follow_up_reasons(outcome=call.outcome, fell_back_to_rules=call.fell_back_to_rules,
                             fallbacks=call.fallbacks, is_test=call.is_test)


def _caller(call: Call) -> str:
    if call.patient_id:
        return call.patient.full_name
    return mask_phone(call.caller_number) or "Unknown caller"


def _pretty(value: dict) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) if value else ""


def _appointment_url(appointment_id: int | None) -> str:
    # By URL name: calls does not import bookings.
    return reverse("admin:bookings_appointment_change", args=[appointment_id]) if appointment_id is not None else ""


@admin.register(Call)
class CallAdmin(AuditedAdminMixin, TenantScopedAdmin):
    list_display = ["started", "caller", "outcome_shown", "duration", "follow_up"]
    list_display_links = ["started"]
    list_filter = [TodayFilter, FollowUpFilter, "outcome", PatientFilter, TestCallFilter, "channel", "tenant"]
    list_select_related = ["tenant", "patient"]
    date_hierarchy = "started_at"
    fieldsets = [
        (None, {"fields": ["tenant", "channel", "status", "started_local", "ended_local", "call_duration",
                           "caller_shown", "dialled_number", "transferred_to", "summary"]}),
        ("Technical", {"fields": ["call_sid", "engine", "fell_back_to_rules", "fallbacks_shown"],
                       "classes": ["collapse"]}),
    ]
    readonly_fields = ["tenant", "channel", "status", "started_local", "ended_local", "call_duration", "caller_shown",
                       "dialled_number", "transferred_to", "summary", "call_sid", "engine", "fell_back_to_rules",
                       "fallbacks_shown"]
    change_form_template = "admin/calls/call/change_form.html"
    change_list_template = "admin/calls/call/change_list.html"

    def get_list_display(self, request):
        several = request.user.is_superuser or len(staff_roles_by_tenant(user=request.user)) > 1
        return [*self.list_display, "tenant"] if several else self.list_display

    @admin.display(description="Started", ordering="started_at")
    def started(self, call: Call) -> str:
        when = f"{_local(call, call.started_at):%a %b %-d, %-I:%M %p}"
        if call.is_test:
            return format_html('{} <span class="call-badge call-test-badge">Test call</span>', when)
        return when

    @admin.display(description="Caller")
    def caller(self, call: Call) -> str:
        return _caller(call)

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_shown(self, call: Call) -> str:
        return call.get_outcome_display() or call.get_status_display()

    @admin.display(description="Duration")
    def duration(self, call: Call) -> str:
        return _duration(call)

    @admin.display(description="Follow-up")
    def follow_up(self, call: Call) -> str:
        reasons = _follow_up(call)
        if not reasons:
            return ""
        return format_html('<span class="call-badge call-follow-up">Follow up: {}</span>', ", ".join(reasons))

    @admin.display(description="Started")
    def started_local(self, call: Call) -> str:
        return f"{_local(call, call.started_at):%A, %B %-d, %Y, %-I:%M:%S %p %Z}"

    @admin.display(description="Ended")
    def ended_local(self, call: Call) -> str:
        ended = _local(call, call.ended_at)
        return f"{ended:%A, %B %-d, %Y, %-I:%M:%S %p %Z}" if ended else "-"

    @admin.display(description="Duration")
    def call_duration(self, call: Call) -> str:
        return _duration(call)

    @admin.display(description="Caller")
    def caller_shown(self, call: Call) -> str:
        if call.patient_id:
            return f"{call.patient.full_name} ({call.caller_number or 'no caller ID'})"
        return call.caller_number or "-"

    @admin.display(description="Providers that fell back")
    def fallbacks_shown(self, call: Call) -> str:
        return ", ".join(call.fallbacks) or "None"

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        recording = path("<path:object_id>/recording/", self.admin_site.admin_view(self.recording_view),
                         name="calls_call_recording")
        return [recording, *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._review(obj))
        response = super().render_change_form(request, context, add, change, form_url, obj)
        if obj is not None:
            # Every time on the page in the practice's zone, whoever looks (a superuser, staff of several practices).
            with timezone.override(obj.tenant.tzinfo):
                response.render()
        return response

    def _review(self, call: Call) -> dict:
        turns = list(call.turns.order_by("index"))
        strips = latency_strips([turn.latency if turn.speaker == "agent" else {} for turn in turns])
        exchange = [
            {"turn": turn, "agent": turn.speaker == "agent", "strip": strip, "raw": _pretty(turn.latency),
             "interrupted": bool(turn.latency.get("interrupted")), "providers": providers_line(turn.latency)}
            for turn, strip in zip(turns, strips, strict=True)
        ]
        actions = []
        for tool_call in call.tool_calls.order_by("index"):
            arguments, result = json_object(tool_call.arguments), json_object(tool_call.result)
            action = tool_call_describe(name=tool_call.name, arguments=arguments, result=result, ok=tool_call.ok)
            actions.append({
                "tool_call": tool_call, "action": action, "appointment_url": _appointment_url(action.appointment_id),
                "arguments": _pretty(arguments) or tool_call.arguments, "result": _pretty(result) or tool_call.result,
            })
        return {
            "call": call,
            "exchange": exchange,
            "actions": actions,
            "caller": _caller(call),
            "duration": _duration(call),
            "follow_up": _follow_up(call),
            "recorded": bool(call.recording_url),
        }

    def recording_view(self, request, object_id):
        """The call's recording, fetched from Twilio for the staff member's player: Twilio's URL stays here."""
        call = self.get_object(request, object_id)
        if call is None or not self.has_view_permission(request, call):
            raise Http404("No call with that id in your practice.")
        if not call.recording_url:
            raise Http404("This call has no recording.")
        byte_range = request.headers.get("Range", "")
        self._audit(request, "recording_play", call, range=byte_range)
        try:
            media = recording_media_open(recording_url=call.recording_url, byte_range=byte_range)
        except RecordingUnavailable as error:
            if error.gone:
                raise Http404("Twilio no longer holds this recording.") from None
            return HttpResponse("The recording could not be fetched from Twilio just now.", status=502,
                                content_type="text/plain")
        response = StreamingHttpResponse(media, status=media.status, content_type=media.content_type)
        for name, value in media.headers.items():
            response[name] = value
        response["Cache-Control"] = "private, no-store"
        return response


@admin.register(Message)
class MessageAdmin(AuditedAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "status", "caller_name", "callback_number", "for_whom", "about", "tenant"]
    list_filter = ["tenant", "status", MessageTestCallFilter]
    fields = ["tenant", "call", "caller_name", "callback_number", "for_whom", "about", "status", "created_at", "handled_at"]
    readonly_fields = ["tenant", "call", "caller_name", "callback_number", "for_whom", "about", "created_at", "handled_at"]
    actions = ["mark_handled"]

    def has_add_permission(self, request, *args):
        return False

    @admin.action(description="Mark selected messages as handled", permissions=["change"])
    def mark_handled(self, request, queryset):
        actor = Actor.from_request(request)
        allowed = writable_tenant_ids(request)
        new = list(queryset.filter(status=Message.Status.NEW).select_related("tenant"))
        writable = [m for m in new if request.user.is_superuser or m.tenant_id in allowed]
        for message in writable:
            message_mark_handled(message=message, actor=actor)
        self.message_user(request, f"Marked {len(writable)} as handled.", messages.SUCCESS)
        if len(writable) < len(new):
            self.message_user(request, "Messages of practices where you can only view were left as they were.", messages.WARNING)
