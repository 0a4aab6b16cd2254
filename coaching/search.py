"""Catalog search: each coach keeps a search document (name, headline, bio, skills,
languages) lowercased and without accents, so "krueger", "kruger" and "Krüger" meet, and
"english" finds the coaches who speak it. PostgreSQL searches it with its full-text search
(a GIN index on the document); SQLite, the local default, with plain substring matches."""

import re
import unicodedata

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

# German spellings without umlauts: a visitor types "ue" for "ü".
SPELLED_OUT = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}
# Latin letters Unicode does not decompose into a base letter and an accent.
UNDECOMPOSED = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th", "ß": "ss"}
)
MAX_TERMS = 8


def plain(text: str) -> str:
    """Lowercase, accents removed: "Krüger" -> "kruger", "Łukasz" -> "lukasz"."""
    decomposed = unicodedata.normalize("NFKD", str(text).lower().translate(UNDECOMPOSED))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def document(*parts: str) -> str:
    """The searchable text: each part plain, and spelled out where it had umlauts (so a
    search for "krueger" finds "Krüger" too)."""
    text = " ".join(str(part) for part in parts if part)
    spelled = "".join(SPELLED_OUT.get(char, char) for char in text.lower())
    words = plain(text)
    return words if spelled == text.lower() else f"{words} {plain(spelled)}"


def terms(query: str) -> list[str]:
    """The words of a visitor's search, plain, at most MAX_TERMS."""
    return re.findall(r"\w+", plain(query))[:MAX_TERMS]


def matching(coaches: QuerySet, query: str) -> QuerySet:
    """The coaches whose document has every word of ``query`` (each word as a prefix on
    PostgreSQL, anywhere on SQLite)."""
    words = terms(query)
    if not words:
        return coaches
    if connection.vendor == "postgresql":
        # A prefix query of plain \w words, so nothing a visitor types is tsquery syntax;
        # the expression is the GIN index's (migration 0003).
        found = RawSQL(
            "to_tsvector('simple', coaching_coachprofile.search_document) "
            "@@ to_tsquery('simple', %s)",
            [" & ".join(f"{word}:*" for word in words)],
            output_field=BooleanField(),
        )
        return coaches.annotate(found=found).filter(found=True)
    condition = Q()
    for word in words:
        condition &= Q(search_document__contains=word)
    return coaches.filter(condition)
