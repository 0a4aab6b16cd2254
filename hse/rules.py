"""The product's numbers that pages and emails state, read from settings (never written in a
template or a message), so that changing a setting changes what people are told too."""

from django.conf import settings


def listed(numbers) -> str:
    """(30, 45, 60) -> "30, 45 or 60"."""
    *rest, last = [str(number) for number in numbers]
    return f"{', '.join(rest)} or {last}" if rest else last


def product_rules() -> dict:
    return {
        "durations": settings.HSE_SESSION_DURATIONS,
        "durations_text": listed(settings.HSE_SESSION_DURATIONS),
        "package_sizes_text": listed(settings.HSE_PACKAGE_SIZES),
        "grid_seconds": settings.HSE_SLOT_GRID_MINUTES * 60,
        "hold_minutes": settings.HSE_HOLD_MINUTES,
        "room_opens_minutes": settings.HSE_ROOM_OPENS_MINUTES_BEFORE,
        "coach_late_minutes": settings.HSE_COACH_LATE_MINUTES,
        "late_notice_minutes": settings.HSE_LATE_NOTICE_MINUTES,
        "auto_end_minutes": settings.HSE_AUTO_END_MINUTES_AFTER,
        "auto_confirm_hours": settings.HSE_AUTO_CONFIRM_HOURS,
        "client_cancel_hours": settings.HSE_CLIENT_CANCEL_HOURS,
        "coach_late_cancel_hours": settings.HSE_COACH_LATE_CANCEL_HOURS,
        "rating_days": settings.HSE_RATING_DAYS,
        "request_notice_hours": settings.HSE_REQUEST_MIN_NOTICE_HOURS,
        "fee_percent": settings.HSE_PLATFORM_FEE_PERCENT,
        "validity_months": settings.HSE_PACKAGE_VALIDITY_MONTHS,
        "extension_months": settings.HSE_PACKAGE_EXTENSION_MONTHS,
        "trial_minutes": settings.HSE_TRIAL_MINUTES,
        "max_discount_percent": settings.HSE_MAX_PACKAGE_DISCOUNT_PERCENT,
        "message_max_length": settings.HSE_MESSAGE_MAX_LENGTH,
        "new_conversations_per_day": settings.HSE_NEW_CONVERSATIONS_PER_DAY,
        "unread_email_minutes": settings.HSE_UNREAD_EMAIL_MINUTES,
        "busy_calendar_minutes": settings.HSE_BUSY_CALENDAR_REFRESH_MINUTES,
        "busy_calendars_per_coach": settings.HSE_BUSY_CALENDARS_PER_COACH,
    }
