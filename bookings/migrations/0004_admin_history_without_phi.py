"""The admin's history (django_admin_log.object_repr) kept each patient's full name in clear.

Patients and appointments now describe themselves without PHI ("Patient #12");
this rewrites the entries already written the same way.
"""

from django.db import migrations
from django.db.models import CharField, Value
from django.db.models.functions import Concat

PHI_MODELS = {"patient": "Patient", "appointment": "Appointment"}


def history_without_phi(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    LogEntry = apps.get_model("admin", "LogEntry")
    for model, label in PHI_MODELS.items():
        content_type = ContentType.objects.filter(app_label="bookings", model=model).first()
        if content_type is None:
            continue
        LogEntry.objects.filter(content_type=content_type).update(
            object_repr=Concat(Value(f"{label} #"), "object_id", output_field=CharField())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0003_appointment_no_overlap"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(history_without_phi, migrations.RunPython.noop)]
