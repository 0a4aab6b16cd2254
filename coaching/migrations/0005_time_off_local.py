"""Time off kept as the coach's wall clock shows it, so that it moves with a coach who
changes zone. Existing rows are read in the zone each coach has at migration time."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import migrations, models


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def instants_to_wall_times(apps, schema_editor):
    TimeOff = apps.get_model("coaching", "TimeOff")
    for off in TimeOff.objects.select_related("coach"):
        zone = _zone(off.coach.time_zone)
        starts = off.starts_at.astimezone(zone).replace(second=0, microsecond=0)
        ends = off.ends_at.astimezone(zone)
        if ends.second or ends.microsecond:  # a partial minute still counts as off
            ends = ends.replace(second=0, microsecond=0) + timedelta(minutes=1)
        if ends.replace(tzinfo=None) <= starts.replace(tzinfo=None):
            # A stretch that only existed in a repeated hour: keep its wall minutes.
            ends = starts + timedelta(minutes=1)
        off.start_date, off.start_time = starts.date(), starts.time().replace(tzinfo=None)
        off.end_date, off.end_time = ends.date(), ends.time().replace(tzinfo=None)
        off.save(update_fields=["start_date", "start_time", "end_date", "end_time"])


def wall_times_to_instants(apps, schema_editor):
    TimeOff = apps.get_model("coaching", "TimeOff")
    for off in TimeOff.objects.select_related("coach"):
        zone = _zone(off.coach.time_zone)
        off.starts_at = datetime.combine(off.start_date, off.start_time, zone).astimezone(UTC)
        off.ends_at = datetime.combine(off.end_date, off.end_time, zone).astimezone(UTC)
        off.save(update_fields=["starts_at", "ends_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("coaching", "0004_busy_calendars"),
    ]

    operations = [
        migrations.AddField("timeoff", "start_date", models.DateField(null=True)),
        migrations.AddField("timeoff", "start_time", models.TimeField(null=True)),
        migrations.AddField("timeoff", "end_date", models.DateField(null=True)),
        migrations.AddField(
            "timeoff",
            "end_time",
            models.TimeField(null=True, help_text="00:00 of the next day for the end of a day."),
        ),
        migrations.AlterField("timeoff", "starts_at", models.DateTimeField(null=True)),
        migrations.AlterField("timeoff", "ends_at", models.DateTimeField(null=True)),
        migrations.RunPython(instants_to_wall_times, wall_times_to_instants),
        migrations.RemoveConstraint("timeoff", "time_off_start_before_end"),
        migrations.RemoveIndex("timeoff", "coaching_ti_coach_i_c2b815_idx"),
        migrations.RemoveField("timeoff", "starts_at"),
        migrations.RemoveField("timeoff", "ends_at"),
        migrations.AlterField("timeoff", "start_date", models.DateField()),
        migrations.AlterField("timeoff", "start_time", models.TimeField()),
        migrations.AlterField("timeoff", "end_date", models.DateField()),
        migrations.AlterField(
            "timeoff",
            "end_time",
            models.TimeField(help_text="00:00 of the next day for the end of a day."),
        ),
        migrations.AlterModelOptions(
            "timeoff",
            {"ordering": ["start_date", "start_time"], "verbose_name_plural": "time off"},
        ),
        migrations.AddIndex(
            "timeoff",
            models.Index(fields=["coach", "end_date"], name="coaching_ti_coach_i_end_idx"),
        ),
        migrations.AddConstraint(
            "timeoff",
            models.CheckConstraint(
                condition=models.Q(start_date__lt=models.F("end_date"))
                | models.Q(start_date=models.F("end_date"), start_time__lt=models.F("end_time")),
                name="time_off_local_start_before_end",
            ),
        ),
    ]
