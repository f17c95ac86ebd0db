from django.contrib.auth.models import AbstractBaseUser

from tenants.models import PhoneNumber, StaffMembership, Tenant


def tenant_for_number(*, number: str) -> Tenant | None:
    """The active practice a dialled number belongs to."""
    phone = PhoneNumber.objects.select_related("tenant").filter(number=number, tenant__is_active=True).first()
    return phone.tenant if phone else None


def staff_roles_by_tenant(*, user: AbstractBaseUser) -> dict[int, str]:
    """tenant id -> the user's role there."""
    return dict(StaffMembership.objects.filter(user=user).values_list("tenant_id", "role"))


def staff_role(*, user: AbstractBaseUser, tenant: Tenant) -> str | None:
    return StaffMembership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
