"""The policy tables name only categories the domain knows (they are written as plain values)."""

from __future__ import annotations

import pytest

from config import policy
from models.enums import BeneficiaryCategory, RequestCategory
from services.policy.classify import classify
from services.policy.visits import frequency_days


def test_every_keyword_row_names_a_request_category():
    """A typo in a category key would silently file requests under 其他."""
    known = {c.value for c in RequestCategory}
    assert {category for category, _ in policy.CATEGORY_KEYWORDS} <= known


def test_every_beneficiary_category_has_a_visit_frequency():
    """Each category has its own row, so no beneficiary falls back to a default by accident."""
    assert set(policy.VISIT_FREQUENCY_DAYS) == {c.value for c in BeneficiaryCategory}


@pytest.mark.parametrize(("text", "category"), [("药吃完了，腿疼", RequestCategory.MEDICAL), ("家里没米了", RequestCategory.FOOD)])
def test_classification_returns_the_enum(text, category):
    """The classifier hands out enum members, not the table's plain strings."""
    result = classify(text, 6)
    assert result.category is category


def test_visit_frequency_reads_plain_keys_with_enum_members():
    """Enum members and their values look up the same row."""
    assert frequency_days([BeneficiaryCategory.TEKUN, "低保"]) == 7
