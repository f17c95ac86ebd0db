"""On PostgreSQL, make overlapping active appointments of one provider impossible.

The booking service checks availability first; this is the guarantee when two
bookings race. SQLite, the single-machine default, relies on the service's
IMMEDIATE transactions instead (see settings).
"""

from django.db import migrations

from tenants.migration_ops import postgresql_only_sql

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE bookings_appointment ADD CONSTRAINT appointment_no_overlap
    EXCLUDE USING gist (provider_id WITH =, tstzrange(start, "end", '[)') WITH &&)
    WHERE (status IN ('booked', 'completed'));
"""

DROP = "ALTER TABLE bookings_appointment DROP CONSTRAINT IF EXISTS appointment_no_overlap;"


class Migration(migrations.Migration):
    dependencies = [("bookings", "0002_appointmenttype_buffer_after_minutes_and_more")]

    operations = [postgresql_only_sql(CREATE, DROP)]
