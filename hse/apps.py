from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_schedules(sender, **kwargs) -> None:
    from hse.schedules import sync_periodic_tasks

    sync_periodic_tasks()


class HseConfig(AppConfig):
    name = "hse"
    verbose_name = "HSE"

    def ready(self) -> None:
        post_migrate.connect(_sync_schedules, sender=self, dispatch_uid="hse.sync_schedules")
