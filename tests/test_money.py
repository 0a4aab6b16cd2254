import pytest

from hse.money import MoneyError, format_money, parse_major, price_for_minutes


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (12345, "USD", "$123.45"),
        (5, "EUR", "€0.05"),
        (-250, "USD", "-$2.50"),
        (1000, "JPY", "1,000 JPY"),
        (123456789, "GBP", "£1,234,567.89"),
    ],
)
def test_format_money(amount, currency, text):
    assert format_money(amount, currency) == text


@pytest.mark.parametrize(
    ("hourly", "minutes", "price"),
    [
        (12000, 30, 6000),
        (9500, 45, 7125),
        (9999, 45, 7499),
        (9998, 45, 7499),
        (10001, 30, 5001),
        (101, 45, 76),
    ],
)
def test_session_price_is_rounded_half_up_to_the_minor_unit(hourly, minutes, price):
    assert price_for_minutes(hourly=hourly, minutes=minutes) == price


def test_parse_major_takes_whole_and_cent_amounts_only():
    assert parse_major("85", "USD") == 8500
    assert parse_major(" 85.5 ", "USD") == 8550
    for bad in ["85.505", "abc", "NaN", "Infinity", ""]:
        with pytest.raises(MoneyError):
            parse_major(bad, "USD")
