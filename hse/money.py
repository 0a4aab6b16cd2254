"""Money is an integer number of minor units (cents) with its currency beside it."""

from decimal import ROUND_HALF_UP, Decimal

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


# More than any price or top-up could be (a billion in major units): a longer number is
# refused before any arithmetic, so "1e999999" or five thousand digits end as a message.
MAX_MINOR = 10**11


def parse_major(text: str, currency: str) -> int:
    """ "85" or "85.50" in major units -> minor units; refuses fractions of a minor unit."""
    shown = str(text).strip()[:20]
    if not str(text).isascii():  # other scripts' digits and look-alike signs are refused
        raise MoneyError(f"“{shown}” is not an amount: write it with the digits 0-9.")
    try:
        value = Decimal(str(text).strip()[:40])
        minor = value.scaleb(exponent(currency))
        whole = minor == minor.to_integral_value()
    except ArithmeticError:  # not a number, or one too large for any context
        raise MoneyError(f"“{shown}” is not an amount.") from None
    if not value.is_finite() or len(str(text).strip()) > 40:
        raise MoneyError(f"“{shown}” is not an amount.")
    if abs(minor) > MAX_MINOR:
        raise MoneyError(f"“{shown}” is far more than any amount here.")
    if not whole:
        raise MoneyError(f"“{shown}” has more decimals than {currency.upper()} allows.")
    return int(minor)


def price_for_minutes(*, hourly: int, minutes: int) -> int:
    """hourly × minutes / 60, rounded half up to the minor unit, in integers only."""
    return int((Decimal(hourly) * minutes / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def discounted(price: int, percent: int) -> int:
    """``price`` less ``percent`` per cent, rounded half up to the minor unit."""
    return int(
        (Decimal(price) * (100 - percent) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )
