from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q

from accounts.timezones import validate_zone, zone_or_utc
from coaching.availability import wall_interval
from coaching.search import document
from hse.money import discounted, price_for_minutes
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
    # Offers (coaching.services.coach_offers_update): one trial session per client, free
    # (price 0) or at trial_price; and a discount in per cent per package size, as
    # {"5": 5, "10": 10}. Prices are always computed from these rows, never from a form.
    trial_offered = models.BooleanField(default=False)
    trial_price = models.PositiveIntegerField(default=0, help_text="Minor units; 0 is free.")
    package_discounts = models.JSONField(default=dict, blank=True)

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
            models.CheckConstraint(
                condition=Q(trial_price__lte=100_000_00), name="coach_trial_price_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.display_name} (coach)"

    def discount_for(self, quantity: int) -> int:
        """The coach's discount in per cent for a package of ``quantity`` (0 for a single
        session, an unknown size or anything out of bounds)."""
        if quantity not in settings.HSE_PACKAGE_SIZES or not isinstance(
            self.package_discounts, dict
        ):
            return 0
        value = self.package_discounts.get(str(quantity), 0)
        if not isinstance(value, int) or isinstance(value, bool):
            return 0
        return value if 0 <= value <= settings.HSE_MAX_PACKAGE_DISCOUNT_PERCENT else 0

    @property
    def trial_minutes(self) -> int:
        return settings.HSE_TRIAL_MINUTES

    @property
    def best_discount(self) -> int:
        return max((self.discount_for(size) for size in settings.HSE_PACKAGE_SIZES), default=0)

    @property
    def package_offers(self) -> list[dict]:
        """The discounted package sizes, priced for the longest session, with the saving."""
        minutes = max(settings.HSE_SESSION_DURATIONS)
        full = price_for_minutes(hourly=self.hourly_price or 0, minutes=minutes)
        offers = []
        for size in settings.HSE_PACKAGE_SIZES:
            percent = self.discount_for(size)
            if percent:
                total = size * self.unit_price(minutes=minutes, quantity=size)
                offers.append({
                    "size": size, "percent": percent, "minutes": minutes, "total": total,
                    "saving": size * full - total,
                })  # fmt: skip
        return offers

    def unit_price(self, *, minutes: int, quantity: int) -> int:
        """One session's price in a purchase of ``quantity`` sessions of ``minutes``."""
        full = price_for_minutes(hourly=self.hourly_price or 0, minutes=minutes)
        return discounted(full, self.discount_for(quantity))

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
    """Time the coach is away, kept as the coach's wall clock shows it: from ``start_date``
    ``start_time`` up to (not including) ``end_date`` ``end_time``, in whatever zone the
    coach is in when it is read. A coach who moves keeps their time off at the same local
    hours, so the instants are worked out from the profile's current zone each time
    (``instants``; ``coaching.selectors`` reads them with the busy times)."""

    coach = models.ForeignKey(CoachProfile, on_delete=models.CASCADE, related_name="time_off")
    start_date = models.DateField()
    start_time = models.TimeField()
    end_date = models.DateField()
    end_time = models.TimeField(help_text="00:00 of the next day for the end of a day.")
    note = models.CharField(max_length=120, blank=True, validators=[validate_single_line])

    class Meta:
        ordering = ["start_date", "start_time"]
        verbose_name_plural = "time off"
        indexes = [models.Index(fields=["coach", "end_date"], name="coaching_ti_coach_i_end_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lt=models.F("end_date"))
                | Q(start_date=models.F("end_date"), start_time__lt=models.F("end_time")),
                name="time_off_local_start_before_end",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coach.user.display_name}: {self.label}"

    @property
    def starts(self) -> datetime:
        """The first wall time off (naive)."""
        return datetime.combine(self.start_date, self.start_time)

    @property
    def ends(self) -> datetime:
        """The wall time it is over (naive)."""
        return datetime.combine(self.end_date, self.end_time)

    def instants(self, zone=None) -> tuple[datetime, datetime]:
        """The UTC instants it starts and ends at in ``zone`` (the coach's zone)."""
        return wall_interval(self.starts, self.ends, zone or self.coach.zone)

    @property
    def first_day(self) -> date:
        return self.start_date

    @property
    def last_day(self) -> date:
        return (self.ends - timedelta(minutes=1)).date()

    @property
    def whole_days(self) -> bool:
        return self.start_time == time() and self.end_time == time()

    @property
    def label(self) -> str:
        """How the coach reads it: "Thu 24 Dec 2026 – Sat 26 Dec 2026" for whole days,
        "Fri 11 Dec 2026, 09:00–12:00" within a day, else both ends with their times."""
        day = "%a %-d %b %Y"
        if self.whole_days:
            if self.first_day == self.last_day:
                return self.first_day.strftime(day)
            return f"{self.first_day.strftime(day)} – {self.last_day.strftime(day)}"
        starts = self.starts.strftime(day + ", %H:%M")
        if self.start_date == self.last_day:  # within one day (perhaps to its end, 24:00)
            return f"{starts}–{'24:00' if self.end_time == time() else f'{self.end_time:%H:%M}'}"
        ends = self.ends.strftime(day + ", %H:%M")
        if self.end_time == time():  # the end of the day before reads better than 00:00
            ends = f"{self.last_day.strftime(day)}, 24:00"
        return f"{starts} – {ends}"


class BusyCalendar(models.Model):
    """A coach's own calendar elsewhere (the secret iCal address of their Google, Outlook or
    iCloud calendar): its events block those times here. Read by a sweep
    (``coaching.busy_calendars``); a failed read keeps the last good busy times and says why
    in ``error``."""

    coach = models.ForeignKey(CoachProfile, on_delete=models.CASCADE, related_name="busy_calendars")
    url = models.URLField(max_length=2000)
    created_at = models.DateTimeField()
    # The last attempt (the sweep's claim), the last good read, and what went wrong since.
    checked_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    # What the server said of its copy, sent back so an unchanged calendar is not sent again.
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    # When the busy times were last expanded from a full copy, and in which zone of the
    # coach's (all-day and floating events are read in it): a 304 keeps busy times that
    # stop at that read's horizon, so the copy is asked for in full again once a day, and
    # at once when the coach's zone changes.
    expanded_at = models.DateTimeField(null=True, blank=True)
    expanded_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["checked_at"])]

    def __str__(self) -> str:
        return f"{self.coach.user.display_name}: {self.short_url}"

    @property
    def short_url(self) -> str:
        """The address without its secret part, for pages: the host, and the file's name
        when it is an ordinary one ("basic.ics"), never the secret path between."""
        host, _, path = self.url.split("://", 1)[-1].partition("/")
        name = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if name.endswith(".ics") and len(name) <= 24 and name != path:
            return f"{host}/…/{name}"
        return f"{host}/…" if path else host


class BusyTime(models.Model):
    """One busy stretch read from a coach's external calendar (recurring events expanded)."""

    calendar = models.ForeignKey(BusyCalendar, on_delete=models.CASCADE, related_name="busy_times")
    coach = models.ForeignKey(CoachProfile, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["coach", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="busy_time_start_before_end"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%H:%M} UTC"
