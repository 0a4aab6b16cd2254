from django.apps import AppConfig


class CoachingConfig(AppConfig):
    name = "coaching"

    def ready(self):
        from coaching import signals  # noqa: F401  (connects the cache's receivers)
