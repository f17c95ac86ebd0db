from django.contrib.auth.models import AbstractBaseUser

from tenants.models import PhoneNumber, StaffMembership, Tenant


def tenant_for_number(*, number: str) -> Tenant | None:
    """The active practice a dialled number belongs to."""
    phone = PhoneNumber.objects.select_related("tenant").filter(number=number, tenant__is_active=True).first()
    return phone.tenant if phone else None


def staff_tenant_ids(*, user: AbstractBaseUser) -> set[int]:
    return set(StaffMembership.objects.filter(user=user).values_list("tenant_id", flat=True))


def staff_roles(*, user: AbstractBaseUser) -> set[str]:
    return set(StaffMembership.objects.filter(user=user).values_list("role", flat=True))
