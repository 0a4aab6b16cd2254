from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    verbose_name = "Session requests"

    def ready(self) -> None:
        from coaching.selectors import busy_source_register
        from requests_app import receivers  # noqa: F401  (connects the receivers)
        from requests_app.selectors import requests_busy, series_busy

        busy_source_register("requests", requests_busy)
        busy_source_register("series", series_busy)
