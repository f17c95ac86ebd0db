"""Admin for practices, plus the mixins that keep every practice's rows its own.

Staff see and change only rows of practices they are members of: querysets,
foreign-key choices, list filters and object URLs are all scoped, and opening
another practice's object answers 404 (and is audited). Superusers see all.
"""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import Http404

from tenants.models import (
    AuditEvent,
    BusinessHours,
    Closure,
    PhoneNumber,
    StaffMembership,
    Tenant,
    TenantOwned,
)
from tenants.services import Actor, audit_record

WRITE_ROLES = {StaffMembership.Role.OWNER, StaffMembership.Role.FRONT_DESK}


def _memberships(request) -> dict[int, str]:
    """tenant id -> role for the requesting user, looked up once per request."""
    if not hasattr(request, "_tenant_roles"):
        request._tenant_roles = dict(
            StaffMembership.objects.filter(user=request.user).values_list("tenant_id", "role")
        )
    return request._tenant_roles


def _scope_related(db_field, request, kwargs) -> None:
    if request.user.is_superuser:
        return
    tenant_ids = _memberships(request).keys()
    related = db_field.related_model
    if related is Tenant:
        kwargs["queryset"] = Tenant.objects.filter(pk__in=tenant_ids)
    elif issubclass(related, TenantOwned):
        kwargs["queryset"] = related._default_manager.filter(tenant__in=tenant_ids)


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
        if not self.staff_can_edit:
            return False
        roles = _memberships(request)
        if obj is not None:
            tenant_id = obj.pk if isinstance(obj, Tenant) else getattr(obj, "tenant_id", None)
            return roles.get(tenant_id) in WRITE_ROLES
        return any(role in WRITE_ROLES for role in roles.values())

    def has_module_permission(self, request):
        if request.user.is_superuser:
            return True
        return request.user.is_active and request.user.is_staff and bool(_memberships(request))

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request, *args):
        if request.user.is_superuser:
            return True
        return self.model is not Tenant and self.has_module_permission(request) and self._role_allows_write(request)

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
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
            tenant = elsewhere if isinstance(elsewhere, Tenant) else getattr(elsewhere, "tenant", None)
            audit_record(
                actor=Actor.from_request(request),
                action="access_denied",
                object_type=self.model._meta.label,
                object_id=elsewhere.pk,
                tenant=tenant,
                detail={"path": request.path},
            )
        raise Http404(f"No {self.model._meta.verbose_name} with that id in your practice.")


class AuditedAdminMixin:
    """Records who listed, opened, created, changed or deleted rows that hold PHI."""

    def _audit(self, request, action, obj=None, **detail):
        audit_record(
            actor=Actor.from_request(request),
            action=action,
            object_type=self.model._meta.label,
            object_id=obj.pk if obj is not None else None,
            tenant=getattr(obj, "tenant", None) if obj is not None else None,
            detail=detail,
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and getattr(response, "status_code", None) == 200:
            self._audit(request, "list", query=request.GET.urlencode())
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None and request.method == "GET":
            self._audit(request, "view", obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

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


class BusinessHoursInline(TenantScopedMixin, admin.TabularInline):
    model = BusinessHours
    extra = 0


class ClosureInline(TenantScopedMixin, admin.TabularInline):
    model = Closure
    extra = 0


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    list_display = ["name", "slug", "timezone", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [BusinessHoursInline, ClosureInline]


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
