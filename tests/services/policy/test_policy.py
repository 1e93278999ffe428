"""Pure policy: classification, command parsing, permissions, push limits and backoff."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest

from services.policy import permissions, visits
from services.policy.classify import classify
from services.policy.commands import CommandError, parse_number_and_rest, parse_rating, parse_visit
from services.policy.push import backoff_seconds, custom_window_open, fit_field, may_have_arrived, template_data

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, month, category, urgency, numbers",
    [
        ("我妈腿疼，药吃完了", 6, "医", "normal", ()),
        ("家里没米了", 6, "吃", "normal", ()),
        ("屋顶漏雨", 6, "住", "normal", ()),
        ("被子太薄，想要件棉衣", 6, "穿", "normal", ()),
        ("帮忙买点鸡蛋", 6, "帮购", "normal", ()),
        ("联系不上我儿子", 6, "联系亲人", "normal", ()),
        ("低保怎么申请", 6, "政策", "normal", ()),
        ("你好", 6, "其他", "normal", ()),
        ("老人摔倒了", 6, "医", "urgent", ("120",)),
        ("救命", 6, "其他", "urgent", ("120", "110")),
        ("厨房着火了", 6, "住", "urgent", ("119",)),
        ("家里没饭吃了", 6, "吃", "urgent", ()),
        ("停电了", 1, "住", "urgent", ()),
        ("停电了", 7, "住", "normal", ()),
        ("奶奶走失了", 6, "其他", "urgent", ("110",)),
    ],
)
def test_classification_table(text, month, category, urgency, numbers):
    """Category, urgency and emergency numbers from the words, winter words only in winter."""
    result = classify(text, month)
    assert (result.category.value, result.urgency.value, result.emergency_numbers) == (category, urgency, numbers)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("接单 12", (12, "")),
        ("接单12", (12, "")),
        ("接单 #12", (12, "")),
        ("接单 １２", (12, "")),
        ("回复 12 下午 三点来", (12, "下午 三点来")),
    ],
)
def test_number_commands(text, expected):
    """Request numbers are read however phones type them."""
    verb = text[:2]
    assert parse_number_and_rest(text, verb, "usage") == expected


@pytest.mark.parametrize("text", ["接单", "接单 abc", "接单 -3"])
def test_number_commands_without_a_number_explain_the_usage(text):
    """A command without a number gets the usage back."""
    with pytest.raises(CommandError, match="usage"):
        parse_number_and_rest(text, "接单", "usage")


def test_rating_parsing():
    """`评价 N 1-5 [意见]`; out-of-range scores are refused."""
    assert parse_rating("评价 12 5 很及时") == (12, 5, "很及时")
    assert parse_rating("评价 12 4分") == (12, 4, "")
    with pytest.raises(CommandError):
        parse_rating("评价 12 6")


def test_visit_parsing():
    """Problems per check, helps, notes; unmentioned checks are fine."""
    report = parse_visit("走访 15 住:屋顶漏雨 医:缺降压药 帮:购物,政策 备注:精神不错")
    assert report.beneficiary_id == 15
    assert report.problems == {"housing": "屋顶漏雨", "medical": "缺降压药"}
    assert report.helps == {"helped_shopping", "helped_policy"}
    assert report.notes == "精神不错"
    assert report.check("food") == ("ok", None)
    assert report.check("housing") == ("problem", "屋顶漏雨")
    assert parse_visit("走访 3").problems == {}


@pytest.mark.parametrize("text", ["走访", "走访 张三", "走访 3 很好", "走访 3 帮:跳舞", "走访 3 住:"])
def test_visit_parsing_refuses_what_it_cannot_read(text):
    """Unreadable visits are refused with a hint, never half-recorded."""
    with pytest.raises(CommandError):
        parse_visit(text)


@pytest.mark.parametrize(
    "role, staff_id, region, assignee, town, handle, reassign, supervise",
    [
        ("assistant", 1, 30, 1, 20, True, False, False),
        ("assistant", 2, 30, 1, 20, False, False, False),
        ("town_officer", 5, 20, 1, 20, True, True, False),
        ("town_officer", 5, 21, 1, 20, False, False, False),
        ("city_supervisor", 9, 10, 1, 20, True, True, True),
        ("admin", 9, 10, None, 20, True, True, True),
        # Another city's staff: the request's town 20 is under city 10, not 11.
        ("city_supervisor", 9, 11, 1, 20, False, False, False),
        ("admin", 9, 11, None, 20, False, False, False),
        ("province_admin", 9, 1, None, 20, True, True, True),
    ],
)
def test_permissions(role, staff_id, region, assignee, town, handle, reassign, supervise):
    """Assistants act on their own cases, town officers in their town, city staff in their city,
    the province administrator everywhere."""
    city = 10
    assert permissions.may_handle(role, staff_id, region, assignee, town, city) is handle
    assert permissions.may_reassign(role, region, town, city) is reassign
    assert permissions.may_supervise(role, region, city) is supervise
    assert permissions.may_log_for(role, staff_id, region, assignee, town, city) is handle


@pytest.mark.parametrize(
    "value, expected",
    [
        ("短", "短"),
        ("第一行\n第二行", "第一行 第二行"),
        ("一二三四五六七八九十一二三四五六七八九十", "一二三四五六七八九十一二三四五六七八九十"),
        ("一二三四五六七八九十一二三四五六七八九十多", "一二三四五六七八九十一二三四五六七八九…"),
        ("", "-"),
        (None, "-"),
        (12, "12"),
    ],
)
def test_template_fields_fit_wechat_limits(value, expected):
    """At most 20 characters, no line breaks, never empty."""
    assert fit_field(value) == expected
    assert len(fit_field(value)) <= 20


def test_template_data_shape():
    """Template data is {key: {value}} with every value fitted."""
    assert template_data({"thing2": "a\nb"}) == {"thing2": {"value": "a b"}}


@pytest.mark.parametrize(
    "last, sent, expected",
    [
        (None, 0, False),
        (NOW - timedelta(hours=1), 0, True),
        (NOW - timedelta(hours=47, minutes=59), 4, True),
        (NOW - timedelta(hours=1), 5, False),
        (NOW - timedelta(hours=48), 0, False),
    ],
)
def test_customer_service_window(last, sent, expected):
    """48 hours after the user's last message, at most 5 messages."""
    assert custom_window_open(last, sent, NOW) is expected


@pytest.mark.parametrize(
    "last_error, attempts, expected",
    [
        (None, 1, False),  # the first attempt: nothing came before it
        ("None: request failed: ReadTimeoutError", 1, False),
        ("None: request failed: ReadTimeoutError", 2, True),  # sent, answer lost
        ("None: request failed: ProtocolError", 3, True),  # connection dropped mid-answer
        ("None: request failed: ReadTimeout", 2, True),
        (None, 2, True),  # a claim that lapsed: its sender died, perhaps after WeChat took it
        ("None: request failed: NewConnectionError", 2, False),  # never left
        ("None: request failed: ConnectTimeoutError", 2, False),
        ("None: HTTP 502", 2, False),
        ("-1: system error", 2, False),
    ],
)
def test_earlier_attempt_may_have_arrived_only_if_its_answer_was_lost(last_error, attempts, expected):
    """Only a sent request without an answer, or a lapsed claim, leaves delivery unknown."""
    assert may_have_arrived(last_error, attempts) is expected


def test_backoff_grows_with_full_jitter_and_a_cap():
    """Delays stay within [0, base·2^(n-1)] and never exceed the cap."""
    rng = random.Random(1)
    for attempts, ceiling in [(1, 5), (2, 10), (5, 80), (30, 1800)]:
        delays = [backoff_seconds(attempts, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2


@pytest.mark.parametrize(
    "categories, expected",
    [(["低保"], 30), (["特困"], 7), (["低保", "残疾人"], 14), (["留守老人", "留守儿童"], 7), ([], 30)],
)
def test_visit_frequency_strictest_category_wins(categories, expected):
    """The shortest period among the beneficiary's categories."""
    assert visits.frequency_days(categories) == expected
    assert visits.next_due(categories, date(2026, 12, 1), date(2026, 1, 1)) == date(2026, 12, 1) + timedelta(days=expected)


@pytest.mark.parametrize(
    "categories, last_visit, registered, expected",
    [
        (["特困"], None, date(2026, 11, 1), date(2026, 11, 8)),  # never visited: one period after registration
        (["低保"], None, date(2026, 11, 1), date(2026, 12, 1)),
        (["低保", "留守老人"], date(2026, 11, 20), date(2025, 1, 1), date(2026, 11, 27)),
        (["残疾人"], date(2026, 11, 20), date(2025, 1, 1), date(2026, 12, 4)),
    ],
)
def test_next_visit_due_table(categories, last_visit, registered, expected):
    """Next due date from the last visit, or from registration for a first visit."""
    assert visits.next_due(categories, last_visit, registered) == expected
