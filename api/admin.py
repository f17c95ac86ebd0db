from django import forms
from django.contrib import admin, messages

from api.models import ApiKey, Scope
from api.services import InvalidScopes, api_key_issue, api_key_revoke
from tenants.admin import TenantScopedAdmin, writable_tenant_ids
from tenants.services import Actor


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scopes"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    """Keys are made here and shown once; afterwards only their prefix, scopes and use are."""

    form = ApiKeyForm
    list_display = ["name", "key_prefix", "tenant", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant"]
    actions = ["revoke"]

    @admin.display(description="Key")
    def key_prefix(self, key: ApiKey) -> str:
        return f"rk_{key.prefix}_…"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["tenant", "name", "scopes", "key_prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        return ["tenant", "name", "scopes"] if obj is None else self.get_readonly_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the audit trail names keys

    def save_model(self, request, obj, form, change):
        try:
            key, raw = api_key_issue(tenant=form.cleaned_data["tenant"], name=form.cleaned_data["name"],
                                     scopes=form.cleaned_data["scopes"], actor=Actor.from_request(request))
        except InvalidScopes as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        obj.pk = key.pk
        self.message_user(request, f"The key for {key.name}: {raw} — copy it now; it is not shown again.",
                          messages.WARNING)

    def has_revoke_permission(self, request):
        return request.user.is_superuser or bool(writable_tenant_ids(request))

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke(self, request, queryset):
        allowed = writable_tenant_ids(request)
        for key in queryset:
            if request.user.is_superuser or key.tenant_id in allowed:
                api_key_revoke(key=key, actor=Actor.from_request(request))
        self.message_user(request, "Revoked. Requests with those keys are refused from now on.")
