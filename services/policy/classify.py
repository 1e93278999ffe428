"""Classify a help request's category and urgency from its words, table-driven and pure."""

from __future__ import annotations

from dataclasses import dataclass

from config import policy
from models.enums import RequestCategory, Urgency


@dataclass(frozen=True)
class Classification:
    """What a request is about, how urgent it is, and which emergency numbers to suggest."""

    category: RequestCategory
    urgency: Urgency
    emergency_numbers: tuple[str, ...] = ()


def classify(text: str, local_month: int) -> Classification:
    """Classify `text`; `local_month` (1-12) switches on the winter-only urgent words."""
    text = text or ""
    best, best_hits = RequestCategory.OTHER, 0
    for category, words in policy.CATEGORY_KEYWORDS:
        hits = sum(1 for word in words if word in text)
        if hits > best_hits:
            best, best_hits = RequestCategory(category), hits
    urgent_words = policy.URGENT_WORDS
    if local_month in policy.WINTER_MONTHS:
        urgent_words = urgent_words + policy.WINTER_URGENT_WORDS
    urgent = any(word in text for word in urgent_words)
    numbers = tuple(number for number, words in policy.EMERGENCY_NUMBERS if any(w in text for w in words))
    return Classification(best, Urgency.URGENT if urgent or numbers else Urgency.NORMAL, numbers)
