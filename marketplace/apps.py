from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """The top floor: what brings the apps together into one site (the pages that combine
    them, the header's count, the demo data). Nothing below imports it."""

    name = "marketplace"

    def ready(self) -> None:
        from coaching.selectors import booked_source_register
        from marketplace.selectors import sessions_booked

        # What the coach's pages list before time off or a new zone lands on booked sessions.
        booked_source_register("sessions", sessions_booked)
