from django.apps import AppConfig


class CoachingConfig(AppConfig):
    name = "coaching"

    def ready(self):
        from accounts.services import ZoneFollower, zone_follower_register
        from coaching import signals  # noqa: F401  (connects the cache's receivers)
        from coaching.selectors import coach_zone_clashes
        from coaching.services import coach_zone_follow

        # A coach's weekly hours and time off move with the account's zone.
        zone_follower_register(
            "coach-hours", ZoneFollower(clashes=coach_zone_clashes, follow=coach_zone_follow)
        )
