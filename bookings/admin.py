from django.contrib import admin

from bookings.models import Appointment, AppointmentType, Patient, Provider
from tenants.admin import AuditedAdminMixin, TenantScopedAdmin


@admin.register(Provider)
class ProviderAdmin(TenantScopedAdmin):
    list_display = ["name", "key", "role", "is_active", "tenant"]
    list_filter = ["tenant", "role", "is_active"]


@admin.register(AppointmentType)
class AppointmentTypeAdmin(TenantScopedAdmin):
    list_display = ["name", "key", "minutes", "role", "is_active", "tenant"]
    list_filter = ["tenant", "role", "is_active"]


@admin.register(Patient)
class PatientAdmin(AuditedAdminMixin, TenantScopedAdmin):
    # Encrypted columns cannot be searched or sorted by the database.
    list_display = ["id", "__str__", "date_of_birth", "phone", "tenant"]
    list_filter = ["tenant"]
    fields = ["tenant", "first_name", "last_name", "date_of_birth", "phone", "email", "notes"]


@admin.register(Appointment)
class AppointmentAdmin(AuditedAdminMixin, TenantScopedAdmin):
    list_display = ["start", "end", "appointment_type", "provider", "patient", "status", "source", "tenant"]
    list_filter = ["tenant", "provider", "status", "appointment_type", "start"]
    list_select_related = ["appointment_type", "provider", "patient"]
    date_hierarchy = "start"
