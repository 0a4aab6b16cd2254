from django.conf import settings


def site(request) -> dict:
    return {
        "DEBUG": settings.DEBUG,
        "HSE_CURRENCY": settings.HSE_CURRENCY,
    }
