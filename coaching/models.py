from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q

from accounts.timezones import validate_zone, zone_or_utc
from coaching.search import document
from hse.text import validate_single_line, validate_text


class Skill(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


LANGUAGES = [
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("uk", "Ukrainian"),
    ("tr", "Turkish"),
    ("ar", "Arabic"),
    ("hi", "Hindi"),
    ("zh", "Chinese"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
]
LANGUAGE_NAMES = dict(LANGUAGES)


def own_coach_ids(user) -> list[int]:
    """[the id of ``user``'s coach profile], or [] for anyone else. Lists of sessions and
    requests filter with ``Q(client=user) | Q(coach_id__in=own_coach_ids(user))``: both sides
    by their own index, where an OR across the join to the profile makes PostgreSQL read
    every row. The profile is cached on the user object for the rest of the request."""
    if not user.is_coach:
        return []
    try:
        return [user.coach_profile.pk]
    except ObjectDoesNotExist:
        return []


class CoachProfileQuerySet(models.QuerySet):
    def listed(self):
        return self.filter(is_listed=True, user__is_active=True)


class CoachProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coach_profile"
    )
    headline = models.CharField(max_length=120, blank=True, validators=[validate_single_line])
    bio = models.TextField(blank=True, validators=[validate_text])
    skills = models.ManyToManyField(Skill, blank=True, related_name="coaches")
    languages = models.JSONField(default=list, blank=True)
    hourly_price = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per hour, in minor units (cents)."
    )
    currency = models.CharField(max_length=3, default=settings.HSE_CURRENCY)
    minimum_notice_minutes = models.PositiveIntegerField(
        default=settings.HSE_DEFAULT_MINIMUM_NOTICE_MINUTES
    )
    time_zone = models.CharField(
        max_length=64,
        help_text="The zone the weekly availability windows are written in.",
        validators=[validate_zone],
    )
    # Set by coach_profile_update once the profile is complete: only then is the coach in
    # the catalog.
    is_listed = models.BooleanField(default=False, db_index=True)
    # What the catalog's search reads (coaching.search.document), renewed by coaching.signals
    # whenever the profile, its skills or the coach's name change.
    search_document = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CoachProfileQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(hourly_price__isnull=True) | Q(hourly_price__gt=0),
                name="coach_price_positive",
            ),
            models.CheckConstraint(
                condition=Q(is_listed=False) | Q(hourly_price__isnull=False),
                name="coach_listed_has_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.display_name} (coach)"

    @property
    def zone(self):
        return zone_or_utc(self.time_zone)

    @property
    def language_names(self) -> list[str]:
        return [LANGUAGE_NAMES.get(code, code) for code in self.languages]

    def search_text(self) -> str:
        """Everything the catalog's search finds a coach by (coaching.search)."""
        skills = [skill.name for skill in self.skills.all()]
        return document(self.user.display_name, self.headline, self.bio, *skills,
                        *self.language_names)  # fmt: skip

    def teaches(self, skill: Skill) -> bool:
        """Reads the skills a caller prefetched (the checkout does), else one query."""
        return any(own.pk == skill.pk for own in self.skills.all())


class AvailabilityWindow(models.Model):
    """Every week on ``weekday``, from ``start_minute`` to ``end_minute`` after local midnight
    in the coach's zone. Minutes rather than times so that a window may end at 24:00."""

    WEEKDAYS = [
        (0, "Monday"),
        (1, "Tuesday"),
        (2, "Wednesday"),
        (3, "Thursday"),
        (4, "Friday"),
        (5, "Saturday"),
        (6, "Sunday"),
    ]

    coach = models.ForeignKey(
        CoachProfile, on_delete=models.CASCADE, related_name="availability_windows"
    )
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    start_minute = models.PositiveSmallIntegerField()
    end_minute = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["weekday", "start_minute"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="window_weekday_valid"),
            models.CheckConstraint(
                condition=Q(start_minute__lt=models.F("end_minute")) & Q(end_minute__lte=1440),
                name="window_start_before_end",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_label}–{self.end_label}"

    @staticmethod
    def minute_label(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    @property
    def start_label(self) -> str:
        return self.minute_label(self.start_minute)

    @property
    def end_label(self) -> str:
        return self.minute_label(self.end_minute)


class TimeOff(models.Model):
    coach = models.ForeignKey(CoachProfile, on_delete=models.CASCADE, related_name="time_off")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=120, blank=True, validators=[validate_single_line])

    class Meta:
        ordering = ["starts_at"]
        verbose_name_plural = "time off"
        indexes = [models.Index(fields=["coach", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="time_off_start_before_end"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coach.user.display_name}: {self.first_day} – {self.last_day}"

    @property
    def first_day(self) -> date:
        return self.starts_at.astimezone(self.coach.zone).date()

    @property
    def last_day(self) -> date:
        last_moment = self.ends_at - timedelta(microseconds=1)
        return last_moment.astimezone(self.coach.zone).date()
