"""Money is an integer number of minor units (cents) with its currency beside it."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
# Currencies whose minor unit is not a hundredth; none are offered yet, but formatting
# must never guess.
_EXPONENT = {"JPY": 0, "KRW": 0}


class MoneyError(ValueError):
    pass


def exponent(currency: str) -> int:
    return _EXPONENT.get(currency.upper(), 2)


def format_money(amount: int, currency: str) -> str:
    """12345, "USD" -> "$123.45"; a currency without a symbol shows its code."""
    digits = exponent(currency)
    sign = "-" if amount < 0 else ""
    major = Decimal(abs(amount)).scaleb(-digits)
    text = f"{major:,.{digits}f}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def parse_major(text: str, currency: str) -> int:
    """ "85" or "85.50" in major units -> minor units; refuses fractions of a minor unit."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise MoneyError(f"“{text}” is not an amount.") from None
    if not value.is_finite():
        raise MoneyError(f"“{text}” is not an amount.")
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise MoneyError(f"“{text}” has more decimals than {currency.upper()} allows.")
    return int(minor)


def price_for_minutes(*, hourly: int, minutes: int) -> int:
    """hourly × minutes / 60, rounded half up to the minor unit, in integers only."""
    return int((Decimal(hourly) * minutes / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
