"""报平安, pure: the default plan, the check-in words, the `平安计划` command, and 联系 never classified."""

from __future__ import annotations

import pytest

from config import policy
from models.enums import RequestCategory
from services.policy.checkin import default_plan, is_checkin_words
from services.policy.classify import CLASSIFIED_CATEGORIES, classify
from services.policy.commands import CommandError, parse_checkin_plan


@pytest.mark.parametrize(
    "categories, lives_alone, plan",
    [
        (["特困"], True, "daily"),
        (["留守老人"], True, "daily"),
        (["低保", "留守老人"], True, "daily"),
        (["特困"], False, "off"),
        (["留守老人"], False, "off"),
        (["低保"], True, "off"),
        (["残疾人", "留守儿童"], True, "off"),
        ([], True, "off"),
    ],
)
def test_default_plan(categories, lives_alone, plan):
    """Daily for 特困 and 留守老人 who live alone; everyone else has no plan until staff set one."""
    assert default_plan(categories, lives_alone) == plan


@pytest.mark.parametrize(
    "text, is_checkin",
    [
        ("平安", True),
        ("报平安", True),
        ("我很好", True),
        ("我很好！", True),
        (" 我 很 好 。", True),
        ("平安😊", True),
        ("平安[强]", True),
        ("我很好呀", True),
        ("很好哈哈", True),
        ("一切都好~~", True),
        ("平安，平安！", True),
        ("平安平安平", False),
        ("ＯＫ平安", False),
        ("我很好，就是药吃完了", False),
        ("平安计划 15 每天", False),
        ("不平安", False),
        ("好", False),
        ("", False),
        ("[强]", False),
        ("你好", False),
    ],
)
def test_checkin_words_are_the_whole_message(text, is_checkin):
    """Only the words on their own count, whatever punctuation, smileys and particles surround them."""
    assert is_checkin_words(text) is is_checkin


def test_every_checkin_word_counts():
    """Each of the policy's words is a check-in as it stands."""
    assert all(is_checkin_words(word) for word in policy.CHECKIN_WORDS)


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("平安计划 15 每天", (15, "daily")),
        ("平安计划 15 每周", (15, "weekly")),
        ("平安计划 15 关闭", (15, "off")),
        ("平安计划１５每日", (15, "daily")),
        ("平安计划 #15 每星期", (15, "weekly")),
        ("  平安计划 7   关 ", (7, "off")),
    ],
)
def test_parse_checkin_plan(text, parsed):
    """Number and plan word, full-width digits and the other spellings staff use."""
    assert parse_checkin_plan(text) == parsed


@pytest.mark.parametrize(
    "text, hint",
    [
        ("平安计划", "请这样发：平安计划 对象编号"),
        ("平安计划 15", "请这样发：平安计划 对象编号"),
        ("平安计划 每天", "请这样发：平安计划 对象编号"),
        ("平安计划 15 每月", "计划只能是每天、每周或关闭"),
        ("平安计划 15 每天 早上", "请这样发：平安计划 对象编号"),
    ],
)
def test_parse_checkin_plan_refusals(text, hint):
    """A missing number or plan, or a plan that is not one, is answered with how to write it."""
    with pytest.raises(CommandError) as refused:
        parse_checkin_plan(text)
    assert str(refused.value).startswith(hint)


def test_the_classifier_never_says_check_on():
    """联系 is raised only by the check-in scan: no table of the classifier names it, so no words reach it."""
    tables = [
        *[category for category, _ in policy.CATEGORY_DECISIVE_WORDS],
        *[category for category, _ in policy.CATEGORY_KEYWORDS],
        *[row[0] for row in (*policy.URGENT_SIGNS, *policy.WINTER_URGENT_SIGNS, *policy.GENERIC_URGENT_SIGNS,
                             *policy.WHOLE_CLAUSE_SIGNS)],
    ]
    assert tables and RequestCategory.CHECK_ON.value not in tables
    assert set(tables) <= set(CLASSIFIED_CATEGORIES) and RequestCategory.CHECK_ON not in CLASSIFIED_CATEGORIES
    assert all(RequestCategory(category) for category in tables)
    for text in ("联系", "请联系我", "联系一下协理员", "没人联系", "我很好", "好久没联系了，打个电话", "平安"):
        for month in (1, 7):
            assert classify(text, month).category is not RequestCategory.CHECK_ON, text
