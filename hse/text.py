"""What text people may write: a name, a headline or a note is one line, and no field holds
a control character (PostgreSQL stores no NUL, and an email subject no line break) or half
of a character (a lone surrogate, which JSON can carry and UTF-8 cannot store)."""

import unicodedata

from django.core.exceptions import ValidationError

LINE_BREAKS = {"\n", "\r", "\u2028", "\u2029", "\x85"}
BROKEN = "Part of a character is missing: type it again."


def _controls(value: str, allowed: set[str]) -> bool:
    return any(
        (unicodedata.category(char) == "Cc" or char in LINE_BREAKS) and char not in allowed
        for char in str(value)
    )


def _broken(value: str) -> bool:
    value = str(value)
    return not value.isascii() and any(unicodedata.category(char) == "Cs" for char in value)


def validate_single_line(value: str) -> None:
    if _controls(value, allowed=set()):
        raise ValidationError("Write it on one line, without control characters.")
    if _broken(value):
        raise ValidationError(BROKEN)


def validate_text(value: str) -> None:
    """Several lines are fine; other control characters are not."""
    if _controls(value, allowed={"\n", "\r", "\t"}):
        raise ValidationError("Remove the control characters from the text.")
    if _broken(value):
        raise ValidationError(BROKEN)


def one_line(value: str) -> str:
    """``value`` with every line break and control character turned into a space (for an
    email's subject, built from what people wrote)."""
    return " ".join(
        "".join(
            " " if unicodedata.category(c) == "Cc" or c in LINE_BREAKS else c for c in value
        ).split()
    )
