"""No two live sessions (held, scheduled, ...) of one coach or one client may overlap.

On PostgreSQL this is an exclusion constraint, so it holds whatever writes the rows: the
site, the admin or a shell. SQLite has no such constraint; there the booking service checks
inside an IMMEDIATE transaction, which serialises every writer.
"""

from django.db import migrations

from hse.migration_ops import VendorSQL

FREE = "('expired', 'cancelled')"

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""ALTER TABLE sessions_app_session ADD CONSTRAINT session_coach_no_overlap
        EXCLUDE USING gist (coach_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
        WHERE (status NOT IN {FREE})""",
    f"""ALTER TABLE sessions_app_session ADD CONSTRAINT session_client_no_overlap
        EXCLUDE USING gist (client_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
        WHERE (status NOT IN {FREE})""",
]
BACKWARD = [
    "ALTER TABLE sessions_app_session DROP CONSTRAINT session_client_no_overlap",
    "ALTER TABLE sessions_app_session DROP CONSTRAINT session_coach_no_overlap",
]


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0001_initial")]

    operations = [VendorSQL("postgresql", FORWARD, BACKWARD)]
