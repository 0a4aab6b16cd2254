from django.conf import settings

from hse.rules import product_rules


def site(request) -> dict:
    return {
        "DEBUG": settings.DEBUG,
        "HSE_CURRENCY": settings.HSE_CURRENCY,
        "STRIPE_TEST_MODE": settings.STRIPE_TEST_MODE,
        "rules": product_rules(),
    }
