"""Admin for practices, plus the mixins that keep every practice's rows its own.

Staff see and change only rows of practices they are members of: querysets,
foreign-key choices, list filters and object URLs are all scoped, and opening
another practice's object answers 404 (and is audited). Superusers see all.
"""

import dataclasses
import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, SuspiciousOperation, ValidationError
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from tenants import hours
from tenants.models import (
    AuditEvent,
    PhoneNumber,
    StaffMembership,
    Tenant,
    TenantOwned,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenants.selectors import business_hours_week, closures_upcoming, staff_roles_by_tenant
from tenants.services import (
    OWNER_ONLY_FIELDS,
    WEBHOOK_ENDPOINT_EDITABLE,
    WRITE_ROLES,
    Actor,
    ClosureInvalid,
    HoursInvalid,
    audit_record,
    business_hours_replace,
    closure_add,
    closure_remove,
    practice_update,
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_revoke,
    webhook_endpoint_update,
)
from tenants.spoken import say_date, say_week
from tenants.webhooks import EVENT_TYPES, SIGNATURE_HEADER


def _memberships(request) -> dict[int, str]:
    """tenant id -> role for the requesting user, looked up once per request."""
    if not hasattr(request, "_tenant_roles"):
        request._tenant_roles = staff_roles_by_tenant(user=request.user)
    return request._tenant_roles


def writable_tenant_ids(request) -> set[int]:
    return {tenant_id for tenant_id, role in _memberships(request).items() if role in WRITE_ROLES}


def writable_rows(request, queryset):
    """An action's rows in the practices where the user may write: one may see rows one may not change."""
    return queryset if request.user.is_superuser else queryset.filter(tenant_id__in=writable_tenant_ids(request))


def _scope_related(db_field, request, kwargs) -> None:
    # Choices only ever serve a write, so they come from practices where the user may write.
    if request.user.is_superuser:
        return
    tenant_ids = writable_tenant_ids(request)
    related = db_field.related_model
    if related is Tenant:
        kwargs["queryset"] = Tenant.objects.filter(pk__in=tenant_ids)
    elif issubclass(related, TenantOwned):
        kwargs["queryset"] = related._default_manager.filter(tenant__in=tenant_ids)


def _tenant_id_of(obj) -> int | None:
    return obj.pk if isinstance(obj, Tenant) else getattr(obj, "tenant_id", None)


class TenantScopedMixin:
    """For ModelAdmin and inlines of tenant-owned models (and of Tenant itself)."""

    # Staff may change rows (subject to role); False keeps them read-only to staff.
    staff_can_edit = True

    def _tenant_lookup(self) -> str:
        return "pk" if self.model is Tenant else "tenant"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self._tenant_lookup()}__in": _memberships(request).keys()})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        _scope_related(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _role_allows_write(self, request, obj=None) -> bool:
        """A write needs a writing role in the practice of the row; with no row yet, in some practice."""
        if request.user.is_superuser:
            return True
        if not self.staff_can_edit:
            return False
        if obj is not None:
            return _tenant_id_of(obj) in writable_tenant_ids(request)
        return bool(writable_tenant_ids(request))

    def has_module_permission(self, request):
        if request.user.is_superuser:
            return True
        return request.user.is_active and request.user.is_staff and bool(_memberships(request))

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request, *args):
        # An inline is asked with its parent row: adding to it is a write in the parent's practice.
        parent = args[0] if args else None
        if request.user.is_superuser:
            return True
        return self.model is not Tenant and self.has_module_permission(request) and self._role_allows_write(request, parent)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request) and self._role_allows_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        return (
            self.model is not Tenant
            and self.has_module_permission(request)
            and self._role_allows_write(request, obj)
        )


class TenantScopedAdmin(TenantScopedMixin, admin.ModelAdmin):
    def get_list_filter(self, request):
        # A plain related filter would list every practice's rows as choices.
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry:
                field = self.model._meta.get_field(entry)
                if field.is_relation:
                    if entry == "tenant" and not request.user.is_superuser:
                        continue
                    entry = (entry, admin.RelatedOnlyFieldListFilter)
            filters.append(entry)
        return filters

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        # A row stays in the practice it was created in (its related rows are that practice's).
        if obj is not None and self.model is not Tenant and "tenant" not in readonly:
            readonly.append("tenant")
        return readonly

    def save_model(self, request, obj, form, change):
        # The form offers only writable practices; this holds even if a form forgets to.
        if not self._role_allows_write(request, obj):
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            return obj
        field = from_field or "pk"
        try:
            elsewhere = self.model._default_manager.filter(**{field: object_id}).first()
        except (ValidationError, ValueError):
            elsewhere = None
        if elsewhere is not None:
            # Filed with the actor's practices: the other practice learns nothing about who tried.
            for tenant_id in sorted(_memberships(request)) or [None]:
                audit_record(
                    actor=Actor.from_request(request),
                    action="access_denied",
                    object_type=self.model._meta.label,
                    object_id=elsewhere.pk,
                    tenant=tenant_id,
                    detail={"path": request.path},
                )
        raise Http404(f"No {self.model._meta.verbose_name} with that id in your practice.")


class AuditedAdminMixin:
    """Records who listed, opened, created, changed or deleted rows that hold PHI.

    Every event is filed under a practice, so each practice's audit trail shows
    its own staff's activity: a row's events under the row's practice, a list
    under each practice whose rows it showed.
    """

    def _audit(self, request, action, obj=None, *, tenant_id=None, **detail):
        audit_record(
            actor=Actor.from_request(request),
            action=action,
            object_type=self.model._meta.label,
            object_id=obj.pk if obj is not None else None,
            tenant=obj.tenant_id if obj is not None else tenant_id,
            detail=detail,
        )

    def _audit_list(self, request, tenant_ids, **detail) -> None:
        for tenant_id in sorted(tenant_ids) or sorted(_memberships(request)) or [None]:
            self._audit(request, "list", tenant_id=tenant_id, **detail)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and getattr(response, "status_code", None) == 200:
            changelist = getattr(response, "context_data", {}).get("cl")
            shown = {row.tenant_id for row in changelist.result_list} if changelist is not None else set()
            self._audit_list(request, shown, query=request.GET.urlencode())
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None and request.method == "GET":
            self._audit(request, "view", obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        if getattr(response, "status_code", None) == 200:
            self._audit(request, "view", response.context_data["object"], page="history")
        return response

    def delete_view(self, request, object_id, extra_context=None):
        response = super().delete_view(request, object_id, extra_context)
        if request.method == "GET" and getattr(response, "status_code", None) == 200:
            self._audit(request, "view", response.context_data["object"], page="delete confirmation")
        return response

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit(request, "change" if change else "create", obj, fields=sorted(form.changed_data))

    def delete_model(self, request, obj):
        self._audit(request, "delete", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit(request, "delete", obj)
        super().delete_queryset(request, queryset)


def _closure_date(text: str) -> dt.date:
    if not text:
        raise ClosureInvalid("Pick the day the practice is closed.", field="date")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ClosureInvalid(f"“{text}” is not a date; pick one from the calendar.", field="date") from None


def _closure_id(text: str | None) -> int:
    try:
        return int(text or "")
    except ValueError:
        raise SuspiciousOperation("A closure id is a number.") from None


HOURS_SUMMARY_CLOSURES = 3


@dataclasses.dataclass(frozen=True)
class HoursPage:
    """What the hours page shows in its forms: the saved values, or what was typed and why it was refused."""

    typed: dict[int, hours.Typed]
    problems: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    closure_typed: dict[str, str] = dataclasses.field(default_factory=dict)
    closure_problem: ClosureInvalid | None = None


VOICE_FIELDS = ["voice_id", "voice_model", "voice_speed"]
VOICE_HELP = ("The cloud voice (ElevenLabs) callers hear when the server uses it; blank fields keep the server's "
              "defaults. The offline voices have a voice of their own and ignore these.")


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    list_display = ["name", "slug", "timezone", "is_active"]
    search_fields = ["name", "slug"]

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else {"slug": ["name"]}

    def get_fieldsets(self, request, obj=None):
        # The voice fields together, below the rest, with what blank means; every other field as Django lists it.
        others = [name for name in self.get_fields(request, obj) if name not in [*VOICE_FIELDS, "hours_and_closures"]]
        fieldsets = [(None, {"fields": others}), ("Voice", {"fields": VOICE_FIELDS, "description": VOICE_HELP})]
        if obj is not None:
            fieldsets.append(("Hours and closures", {"fields": ["hours_and_closures"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("hours_and_closures")
        if obj is not None and not request.user.is_superuser and _memberships(request).get(obj.pk) != StaffMembership.Role.OWNER:
            readonly += sorted(OWNER_ONLY_FIELDS)
        return readonly

    # The hours are edited on their own page (hours_view), one way only; the practice's page says what they are.
    @admin.display(description="Hours and closures")
    def hours_and_closures(self, obj):
        upcoming = closures_upcoming(tenant=obj, today=timezone.localdate(timezone=obj.tzinfo))
        return render_to_string("admin/tenants/tenant/hours_summary.html", {
            "week": say_week(business_hours_week(tenant=obj)),
            "closures": upcoming[:HOURS_SUMMARY_CLOSURES],
            "more_closures": max(len(upcoming) - HOURS_SUMMARY_CLOSURES, 0),
            "url": reverse(f"{self.admin_site.name}:tenants_tenant_hours", args=[obj.pk]),
        })

    def get_urls(self):
        hours_page = path("<path:object_id>/hours/", self.admin_site.admin_view(self.hours_view), name="tenants_tenant_hours")
        return [hours_page, *super().get_urls()]

    def hours_view(self, request, object_id):
        """The week grid and the closures: staff who may write edit them, viewers read them, others get a 404."""
        tenant = self.get_object(request, unquote(object_id))
        if not self.has_view_permission(request, tenant):
            raise PermissionDenied
        can_edit = self.has_change_permission(request, tenant)
        page = HoursPage(typed=hours.typed_from_week(business_hours_week(tenant=tenant)))
        if request.method == "POST":
            if not can_edit:
                raise PermissionDenied
            save = {"hours": self._hours_save, "closure_add": self._closure_add,
                    "closure_remove": self._closure_remove}.get(request.POST.get("action", ""))
            if save is None:
                return HttpResponseBadRequest("Unknown action.")
            if save == self._hours_save and request.POST.get("hours-whole-week") != "yes":
                # A day with no fields means "closed": a post cut short must not close the days it lost.
                return HttpResponseBadRequest("The hours arrived incomplete, so nothing was changed. "
                                              "Reload the page and save again.")
            refused = save(request, tenant, page)
            if refused is None:
                return HttpResponseRedirect(request.path)
            page = refused
        today = timezone.localdate(timezone=tenant.tzinfo)
        context = {
            **self.admin_site.each_context(request),
            "title": "Hours and closures",
            "subtitle": tenant.name,
            "opts": self.model._meta,
            "original": tenant,
            "can_edit": can_edit,
            "days": hours.grid(page.typed, page.problems),
            "problems": page.problems,
            "closures": closures_upcoming(tenant=tenant, today=today),
            "today": today,
            "closure_typed": page.closure_typed,
            "closure_problem": page.closure_problem,
        }
        # The form again with what was typed: a 400 says so to anything but the person reading it.
        status = 400 if page.problems or page.closure_problem else 200
        return TemplateResponse(request, "admin/tenants/tenant/hours.html", context, status=status)

    # Each saves one form of the hours page: None once saved (the page redirects), else the page with what was wrong.

    def _hours_save(self, request, tenant, page: HoursPage) -> HoursPage | None:
        posted = hours.week_from_fields(request.POST)
        # Values that are no time are left out of `week`; its other days are still checked, to name every problem at once.
        problems = hours.problems_merge(posted.problems, hours.week_problems(posted.week))
        if not problems:
            try:
                changed = business_hours_replace(tenant=tenant, week=posted.week, actor=Actor.from_request(request))
            except HoursInvalid as invalid:
                problems = invalid.problems
            else:
                self.message_user(request, "Hours saved; callers hear them from the next call." if changed
                                  else "The hours were already these; nothing changed.")
                return None
        return dataclasses.replace(page, typed=posted.typed, problems=problems)

    def _closure_add(self, request, tenant, page: HoursPage) -> HoursPage | None:
        typed = {"date": request.POST.get("closure-date", "").strip(), "reason": request.POST.get("closure-reason", "")}
        try:
            closure = closure_add(tenant=tenant, date=_closure_date(typed["date"]), reason=typed["reason"],
                                  actor=Actor.from_request(request))
        except ClosureInvalid as invalid:
            return dataclasses.replace(page, closure_typed=typed, closure_problem=invalid)
        self.message_user(request, f"Closed on {say_date(closure.date)}: {closure.reason}. "
                                   f"Callers hear it from the next call.")
        return None

    def _closure_remove(self, request, tenant, page: HoursPage) -> None:
        removed = closure_remove(tenant=tenant, closure_id=_closure_id(request.POST.get("closure")),
                                 actor=Actor.from_request(request))
        self.message_user(request, f"Open again on {say_date(removed.date)} ({removed.reason} removed)."
                          if removed else "That closure was already removed.")
        return None

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        practice_update(
            tenant=obj, changes={name: form.cleaned_data[name] for name in form.changed_data}, actor=Actor.from_request(request)
        )


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TenantScopedAdmin):
    list_display = ["number", "label", "tenant"]
    list_filter = ["tenant"]
    staff_can_edit = False


@admin.register(StaffMembership)
class StaffMembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "tenant", "role"]
    list_filter = ["tenant", "role"]
    staff_can_edit = False


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin):
    list_display = ["at", "actor_type", "actor_label", "action", "object_type", "object_id", "tenant_id", "ip"]
    list_filter = ["tenant", "actor_type", "action", "object_type"]
    search_fields = ["actor_label", "object_id", "action"]
    date_hierarchy = "at"
    staff_can_edit = False

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", label="URL")
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES], widget=forms.CheckboxSelectMultiple,
        help_text=WebhookEndpoint._meta.get_field("event_types").help_text,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "description", "url", "event_types"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    """Partners' webhook URLs. Only a practice's owner adds, changes or revokes them; the secret is shown once."""

    form = WebhookEndpointForm
    list_display = ["__str__", "url", "event_types", "is_active", "created_at", "tenant"]
    list_filter = ["tenant", "is_active"]
    readonly_fields = ["is_active", "created_at"]
    actions = ["revoke"]

    def _owner_tenant_ids(self, request) -> set[int]:
        return {tenant_id for tenant_id, role in _memberships(request).items() if role == StaffMembership.Role.OWNER}

    def _role_allows_write(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        owned = self._owner_tenant_ids(request)
        return _tenant_id_of(obj) in owned if obj is not None else bool(owned)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and not request.user.is_superuser:
            kwargs["queryset"] = Tenant.objects.filter(pk__in=self._owner_tenant_ids(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # revoked instead, so its deliveries stay visible

    def has_revoke_permission(self, request):
        return self._role_allows_write(request)

    def save_model(self, request, obj, form, change):
        if not self._role_allows_write(request, obj):
            raise PermissionDenied
        actor = Actor.from_request(request)
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name in WEBHOOK_ENDPOINT_EDITABLE}
            webhook_endpoint_update(endpoint=obj, changes=changes, actor=actor)
            return
        endpoint, secret = webhook_endpoint_create(tenant=obj.tenant, url=obj.url, event_types=obj.event_types,
                                                   description=obj.description, actor=actor)
        obj.__dict__.update(endpoint.__dict__)
        self.message_user(request, f"The signing secret for {obj.url} is {secret} . Give it to the partner now: it "
                                   f"is not shown again. Each POST carries a {SIGNATURE_HEADER} header made with it.",
                          messages.WARNING)

    @admin.action(description="Revoke (nothing more is sent to it)", permissions=["revoke"])
    def revoke(self, request, queryset):
        actor = Actor.from_request(request)
        if not request.user.is_superuser:
            queryset = queryset.filter(tenant_id__in=self._owner_tenant_ids(request))
        endpoints = list(queryset)
        for endpoint in endpoints:
            webhook_endpoint_revoke(endpoint=endpoint, actor=actor)
        self.message_user(request, f"{len(endpoints)} endpoint(s) revoked.")


class WebhookAttemptInline(TenantScopedMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    staff_can_edit = False

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    """Every event sent to a partner, with each attempt; failed ones can be sent again."""

    list_display = ["created_at", "event_type", "endpoint", "status", "attempt_count", "last_status_code",
                    "next_attempt_at", "delivered_at", "tenant"]
    list_filter = ["status", "event_type", "tenant"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    fields = ["endpoint", "event_type", "event_id", "status", "attempt_count", "last_status_code", "last_error",
              "created_at", "queued_at", "next_attempt_at", "delivered_at", "payload", "tenant"]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["retry_now"]
    staff_can_edit = False

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.is_superuser or bool(writable_tenant_ids(request))

    @admin.action(description="Send again now (failed ones)", permissions=["retry"])
    def retry_now(self, request, queryset):
        actor = Actor.from_request(request)
        queued = sum(webhook_delivery_retry(delivery=delivery, actor=actor)
                     for delivery in writable_rows(request, queryset.filter(status=WebhookDelivery.Status.FAILED)))
        self.message_user(request, f"{queued} failed delivery(ies) queued again.")
