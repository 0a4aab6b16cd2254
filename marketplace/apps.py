from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """The top floor: what brings the apps together into one site (the pages that combine
    them, the header's count, the demo data). Nothing below imports it."""

    name = "marketplace"
