from django.contrib import admin, messages

from calls.models import Call, Message, ToolCall, Turn
from calls.services import message_mark_handled
from tenants.admin import AuditedAdminMixin, TenantScopedAdmin, writable_tenant_ids
from tenants.services import Actor


class ReadOnlyInline(admin.TabularInline):
    """Rows shown inside a call; who may see the call (scoped by practice) may see them."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TurnInline(ReadOnlyInline):
    model = Turn
    fields = ["index", "speaker", "text", "at", "latency"]
    readonly_fields = fields


class ToolCallInline(ReadOnlyInline):
    model = ToolCall
    fields = ["index", "name", "arguments", "result", "ok", "duration_ms"]
    readonly_fields = fields


@admin.register(Call)
class CallAdmin(AuditedAdminMixin, TenantScopedAdmin):
    list_display = ["started_at", "channel", "status", "outcome", "ended_at", "tenant"]
    list_filter = ["tenant", "channel", "status", "outcome"]
    date_hierarchy = "started_at"
    fields = [
        "tenant", "channel", "call_sid", "caller_number", "dialled_number", "patient_name", "engine",
        "started_at", "ended_at", "status", "outcome", "transferred_to", "fell_back_to_rules", "fallbacks", "summary",
    ]
    readonly_fields = fields
    inlines = [TurnInline, ToolCallInline]

    @admin.display(description="Patient")
    def patient_name(self, call: Call) -> str:
        return call.patient.full_name if call.patient_id else "-"

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(AuditedAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "status", "caller_name", "callback_number", "for_whom", "about", "tenant"]
    list_filter = ["tenant", "status"]
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
