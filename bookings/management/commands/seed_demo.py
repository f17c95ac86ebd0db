"""Create the demo practice (bookings/demo_data/demo_practice.json). Idempotent."""

import datetime
import json
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from bookings.models import Appointment, AppointmentType, Patient, Provider
from tenants.crypto import phone_blind_index
from tenants.models import BusinessHours, Closure, PhoneNumber, StaffMembership, Tenant

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo_data" / "demo_practice.json"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _time(value: str) -> datetime.time:
    return datetime.time.fromisoformat(value)


class Command(BaseCommand):
    help = "Create the demo practice with its providers, appointment types, patients, appointments and a staff login."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Delete the demo practice first and recreate it.")
        parser.add_argument("--username", default="demo", help="The demo staff login (default: demo).")
        parser.add_argument("--password", help="Its password (default: a new random one, printed).")

    @transaction.atomic
    def handle(self, *args, reset: bool, username: str, password: str | None, **options):
        data = json.loads(DEMO_FILE.read_text())
        facts = data["tenant"]
        if reset:
            existing = Tenant.objects.filter(slug=facts["slug"]).first()
            if existing:
                Appointment.objects.filter(tenant=existing).delete()
                existing.delete()
                self.stdout.write(f"Deleted practice {facts['slug']!r}.")

        tenant, _ = Tenant.objects.update_or_create(
            slug=facts["slug"],
            defaults={
                "name": facts["name"],
                "timezone": facts["timezone"],
                "address": facts["address"],
                "parking_note": facts["parking"],
                "transfer_number": facts["transfer_number"],
                "insurance_accepted": facts["insurance_accepted"],
                "insurance_not_accepted": facts["insurance_not_accepted"],
                "new_patient_note": facts["new_patient_note"],
                "slot_step_minutes": data["slot_step_minutes"],
                "retention_call_audio_days": facts["retention_days"]["call_audio"],
                "retention_transcript_days": facts["retention_days"]["transcripts"],
                "retention_inactive_patient_days": facts["retention_days"]["inactive_patients"],
                "is_active": True,
            },
        )
        PhoneNumber.objects.update_or_create(
            number=facts["phone_number"], defaults={"tenant": tenant, "label": "Main line"}
        )

        BusinessHours.objects.for_tenant(tenant).delete()
        BusinessHours.objects.bulk_create(
            BusinessHours(tenant=tenant, weekday=weekday, opens=_time(opens), closes=_time(closes))
            for weekday, name in enumerate(WEEKDAYS)
            for opens, closes in data["hours"][name]
        )
        for closure in data["closures"]:
            Closure.objects.update_or_create(
                tenant=tenant,
                date=datetime.date.fromisoformat(closure["date"]),
                defaults={"reason": closure["reason"]},
            )

        providers = {
            p["key"]: Provider.objects.update_or_create(
                tenant=tenant, key=p["key"], defaults={"name": p["name"], "role": p["role"], "is_active": True}
            )[0]
            for p in data["providers"]
        }
        types = {
            t["key"]: AppointmentType.objects.update_or_create(
                tenant=tenant,
                key=t["key"],
                defaults={
                    "name": t["name"],
                    "minutes": t["minutes"],
                    "role": t["role"],
                    "synonyms": t["synonyms"],
                    "is_emergency": t["key"] == "emergency",
                    "is_active": True,
                },
            )[0]
            for t in data["appointment_types"]
        }

        patients = {}
        for p in data["patients"]:
            patient = Patient.objects.for_tenant(tenant).filter(phone_index=phone_blind_index(p["phone"])).first()
            patient = patient or Patient(tenant=tenant)
            patient.first_name = p["first_name"]
            patient.last_name = p["last_name"]
            patient.phone = p["phone"]
            patient.date_of_birth = datetime.date.fromisoformat(p["date_of_birth"])
            patient.save()
            patients[p["phone"]] = patient

        for a in data["appointments"]:
            kind = types[a["type"]]
            start = datetime.datetime.fromisoformat(a["start"]).replace(tzinfo=tenant.tzinfo)
            Appointment.objects.update_or_create(
                tenant=tenant,
                provider=providers[a["provider"]],
                start=start,
                status=Appointment.Status.BOOKED,
                defaults={
                    "patient": patients[a["patient_phone"]],
                    "appointment_type": kind,
                    "end": start + datetime.timedelta(minutes=kind.minutes),
                    "source": Appointment.Source.ADMIN,
                },
            )

        user, _ = get_user_model().objects.get_or_create(username=username)
        password = password or secrets.token_urlsafe(12)
        user.set_password(password)
        user.is_staff = True
        user.is_active = True
        user.save()
        StaffMembership.objects.update_or_create(
            tenant=tenant, user=user, defaults={"role": StaffMembership.Role.OWNER}
        )

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo practice {tenant.name!r} (slug {tenant.slug!r}) is ready: "
                f"{len(providers)} providers, {len(types)} appointment types, "
                f"{len(patients)} patients, {len(data['appointments'])} appointments."
            )
        )
        self.stdout.write(f"Staff login: username {username!r}, password {password!r}")
        # Owners must sign in with a code (tenants.two_factor); the demo shows that too, as a new owner meets it.
        self.stdout.write(
            "It is the practice's owner: its first sign-in sets up two-factor sign-in (scan the code shown with an "
            "authenticator app, or type its key into one); later sign-ins ask for the app's 6-digit code."
        )
