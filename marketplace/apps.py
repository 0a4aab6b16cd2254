from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """The top floor: what brings the apps together into one site (the pages that combine
    them, the header's count, the demo data). Nothing below imports it."""

    name = "marketplace"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from coaching.selectors import booked_source_register
        from marketplace import live
        from marketplace.selectors import sessions_booked

        # What the coach's pages list before time off or a new zone lands on booked sessions.
        booked_source_register("sessions", sessions_booked)
        user_logged_out.connect(live.signed_out, dispatch_uid="marketplace.live.signed_out")
