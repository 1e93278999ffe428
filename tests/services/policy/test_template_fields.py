"""Template fields as WeChat's 类目模板 rules define them: each keyword type's values, and each
template's fields from the table in config/policy.py."""

from __future__ import annotations

import pytest

from config import policy
from services.policy.push import field_type, fit_value, template_data, template_field_errors, value_errors

GOOD_TASK = {"character_string1": "12", "thing2": "张秀英 东湾村", "thing3": "未接单 已等2小时",
             "phrase4": "紧急", "time5": "2026-12-01 08:00"}
GOOD_PROGRESS = {"character_string1": 12, "thing2": "已提请乡镇民政办督办", "thing3": "乡镇民政办",
                 "time4": "2026-12-01 08:00"}


@pytest.mark.parametrize(
    "value_type, value",
    [
        ("thing", "张秀英 东湾村"),
        ("thing", "一二三四五六七八九十一二三四五六七八九十"),
        ("thing", "12件求助：超时待督办…"),
        ("character_string", "12"),
        ("character_string", "12,15+3"),
        ("character_string", "ZF20261207"),
        ("character_string", "A" * 32),
        ("phrase", "紧急"),
        ("phrase", "今天到期了"),
        ("time", "2026-12-01 08:00"),
        ("time", "2026年12月1日 08:00"),
        ("time", "15:01"),
        ("time", "08:00:30"),
        ("time", "2026-12-01 08:00~2026-12-01 09:00"),
        ("date", "2026年12月1日"),
        ("date", "2026-12-01 08:00"),
        ("number", "42"),
        ("number", "3.5"),
        ("letter", "abc"),
        ("amount", "¥12.50"),
        ("phone_number", "+86-0716-1234101"),
        ("name", "张秀英"),
        ("car_number", "鄂D12345"),
        ("symbol", "#"),
    ],
)
def test_values_wechat_accepts(value_type, value):
    """Values of the right kind and length pass."""
    assert value_errors(value_type, value) == []


@pytest.mark.parametrize(
    "value_type, value, error",
    [
        ("thing", "一二三四五六七八九十一二三四五六七八九十多", "21 characters, at most 20"),
        ("thing", "第一行\n第二行", "line break"),
        ("thing", "好的\r", "line break"),
        ("thing", "收到👍", "emoji"),
        ("thing", "", "empty"),
        ("thing", None, "empty"),
        ("character_string", "第12号", "not character_string"),
        ("character_string", "3户", "not character_string"),
        ("character_string", "A" * 33, "33 characters, at most 32"),
        ("phrase", "非常非常紧急", "6 characters, at most 5"),
        ("phrase", "urgent", "not phrase"),
        ("phrase", "紧急!", "not phrase"),
        ("phrase", "第1", "not phrase"),
        ("time", "2026-12-01", "not time"),
        ("time", "明天上午", "not time"),
        ("time", "25:00", "not time"),
        ("time", "1764550800", "not time"),
        ("number", "12个", "not number"),
        ("letter", "ab1", "not letter"),
        ("nonsense", "x", "unknown value type"),
    ],
)
def test_values_wechat_refuses(value_type, value, error):
    """Too long, the wrong kind of characters, line breaks, emoji or nothing at all: refused."""
    errors = value_errors(value_type, value)
    assert errors and error in " ".join(errors)


@pytest.mark.parametrize("kind, fields", [("task", GOOD_TASK), ("progress", GOOD_PROGRESS)])
def test_a_complete_template_has_no_errors(kind, fields):
    """Every field present and valid, given as push fields or as template data."""
    assert template_field_errors(kind, fields) == []
    assert template_field_errors(kind, template_data(fields)) == []


def test_template_errors_name_the_field_and_its_meaning():
    """Missing, unknown and invalid fields are each reported with the key and its label."""
    fields = {**GOOD_TASK, "character_string1": "3户", "phrase4": "请尽快处理此事"}
    del fields["time5"]
    fields["remark"] = "备注"
    assert template_field_errors("task", fields) == [
        "character_string1 (编号): not character_string: digits, letters and symbols only",
        "phrase4 (紧急程度): 7 characters, at most 5 allowed",
        "time5 (时间): missing",
        "remark: not a field of 待办任务提醒",
    ]
    assert template_field_errors("nope", GOOD_TASK) == ["unknown template kind 'nope'"]


@pytest.mark.parametrize("kind", sorted(policy.TEMPLATES))
def test_each_keyword_name_declares_its_type(kind):
    """In the table, a keyword's name starts with its value type, as the WeChat console names them."""
    for field in policy.TEMPLATES[kind].fields:
        assert field_type(field.key) == field.type, field.key
        assert field.label


def test_the_templates_we_send_are_in_the_table():
    """编号, 对象, 事项, 紧急程度, 时间 for tasks; 编号, 进展, 负责人, 时间 for progress."""
    labels = {kind: [f.label for f in spec.fields] for kind, spec in policy.TEMPLATES.items()}
    assert labels == {"task": ["编号", "对象", "事项", "紧急程度", "时间"], "progress": ["编号", "进展", "负责人", "时间"]}


@pytest.mark.parametrize(
    "key, value, fitted",
    [
        ("thing2", "一二三四五六七八九十一二三四五六七八九十多", "一二三四五六七八九十一二三四五六七八九…"),
        ("character_string1", "1" * 40, "1" * 32),
        ("phrase4", "非常非常紧急", "非常非常紧"),
        ("time5", "2026-12-01\n08:00", "2026-12-01 08:00"),
        ("keyword1", "旧模板" * 10, ("旧模板" * 10)[:19] + "…"),
    ],
)
def test_values_are_fitted_to_their_type(key, value, fitted):
    """Text is cut with an ellipsis; codes and phrases are cut plain, as an ellipsis is not allowed in them."""
    assert fit_value(key, value) == fitted
