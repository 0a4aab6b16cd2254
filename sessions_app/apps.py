from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        from coaching.selectors import busy_source_register
        from sessions_app import receivers  # noqa: F401  (connects the cache's receivers)
        from sessions_app.selectors import sessions_busy

        busy_source_register("sessions", sessions_busy)
