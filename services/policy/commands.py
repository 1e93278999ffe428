"""Parse chat commands into plain values; every failure carries a short hint in Chinese."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from models.enums import CHECKIN_PLAN_NAMES, CheckinPlan, CheckResult

# Full-width digits and spaces are common on Chinese phone keyboards.
_FULLWIDTH = str.maketrans("０１２３４５６７８９：，　", "0123456789:, ")


class CommandError(ValueError):
    """A command that could not be understood; the message says how to write it."""


def normalize(text: str) -> str:
    """Half-width digits and punctuation, single spaces, no surrounding space."""
    return re.sub(r"\s+", " ", (text or "").translate(_FULLWIDTH)).strip()


def split_command(text: str, verb: str) -> str:
    """What follows `verb` in `text` (which starts with it)."""
    return normalize(text)[len(verb) :].strip()


def parse_number_and_rest(text: str, verb: str, usage: str) -> tuple[int, str]:
    """`verb N rest…` -> (N, rest); the request number may be written #N or No.N."""
    rest = split_command(text, verb)
    match = re.match(r"^(?:#|No\.?|号)?\s*(\d{1,9})\s*(.*)$", rest, flags=re.IGNORECASE)
    if not match:
        raise CommandError(f"请这样发：{usage}")
    return int(match.group(1)), match.group(2).strip()


def parse_rating(text: str) -> tuple[int, int, str]:
    """`评价 N 1-5 [意见]` -> (request number, stars, comment)."""
    number, rest = parse_number_and_rest(text, "评价", "评价 请求编号 1到5分，例如：评价 12 5")
    match = re.match(r"^([1-5])\s*分?\s*(.*)$", rest)
    if not match:
        raise CommandError("请给1到5分，例如：评价 12 5")
    return number, int(match.group(1)), match.group(2).strip()


CHECK_NAMES = {"吃": "food", "穿": "clothing", "住": "housing", "医": "medical"}
HELP_NAMES = {
    "照顾": "helped_daily_care",
    "生活": "helped_daily_care",
    "购物": "helped_shopping",
    "代购": "helped_shopping",
    "联系亲人": "helped_contact_family",
    "亲人": "helped_contact_family",
    "政策": "helped_policy",
}
VISIT_USAGE = "走访 对象编号 [住:问题说明] [帮:购物,政策] [备注:…]，例如：走访 15 医:缺降压药 帮:购物"


@dataclass
class VisitReport:
    """A visit as written in chat: which beneficiary, problems per check, help given, notes."""

    beneficiary_id: int
    problems: dict[str, str] = field(default_factory=dict)
    helps: set[str] = field(default_factory=set)
    notes: str = ""

    def check(self, name: str) -> tuple[str, str | None]:
        """(ok|problem, note) for one of food/clothing/housing/medical."""
        note = self.problems.get(name)
        return (CheckResult.PROBLEM.value, note) if note else (CheckResult.OK.value, None)


def parse_visit(text: str) -> VisitReport:
    """`走访 15 住:屋顶漏雨 帮:购物,政策 备注:身体还好` -> VisitReport; unmentioned checks are fine."""
    rest = split_command(text, "走访")
    match = re.match(r"^(\d{1,9})\s*(.*)$", rest)
    if not match:
        raise CommandError(f"请这样发：{VISIT_USAGE}")
    report = VisitReport(beneficiary_id=int(match.group(1)))
    body = match.group(2)
    # Split on "name:" markers; notes run to the end.
    parts = re.split(r"(吃|穿|住|医|帮|备注)\s*:", body)
    if parts[0].strip():
        raise CommandError(f"没看懂“{parts[0].strip()[:10]}”。{VISIT_USAGE}")
    for name, value in zip(parts[1::2], parts[2::2]):
        value = value.strip()
        if name in CHECK_NAMES:
            if not value:
                raise CommandError(f"“{name}:”后面请写明问题")
            report.problems[CHECK_NAMES[name]] = value[:255]
        elif name == "帮":
            for item in re.split(r"[,、 ]+", value):
                if not item:
                    continue
                if item not in HELP_NAMES:
                    raise CommandError("帮扶项可写：照顾、购物、联系亲人、政策")
                report.helps.add(HELP_NAMES[item])
        else:
            report.notes = value
    return report


LOG_USAGE = "代办 对象编号 [电话|上门|来访|其他] 内容，例如：代办 15 电话 家里停水三天了"
# The channel words of 代办; a word counts only when a space, a colon or the end follows it.
_LOG_CHANNEL = re.compile(r"^(电话|上门|来访|其他)(?:[\s:,，]+|$)")


def parse_on_behalf(text: str) -> tuple[int, str | None, str]:
    """`代办 15 电话 家里停水` -> (15, "电话", "家里停水"); the channel word may be left out (None)."""
    rest = split_command(text, "代办")
    match = re.match(r"^(\d{1,9})\s*(.*)$", rest)
    if not match:
        raise CommandError(f"请这样发：{LOG_USAGE}")
    body = match.group(2).strip()
    word = _LOG_CHANNEL.match(body)
    if word is None:
        return int(match.group(1)), None, body
    return int(match.group(1)), word.group(1), body[word.end():].strip()


CHECKIN_PLAN_USAGE = "平安计划 对象编号 每天|每周|关闭，例如：平安计划 15 每天"
# The words staff write for each plan (CHECKIN_PLAN_NAMES), with the spellings they use as well.
CHECKIN_PLAN_WORDS = {
    **{name: value for value, name in CHECKIN_PLAN_NAMES.items()},
    "每日": CheckinPlan.DAILY.value,
    "天天": CheckinPlan.DAILY.value,
    "每星期": CheckinPlan.WEEKLY.value,
    "每礼拜": CheckinPlan.WEEKLY.value,
    "关": CheckinPlan.OFF.value,
    "不用": CheckinPlan.OFF.value,
}


def parse_checkin_plan(text: str) -> tuple[int, str]:
    """`平安计划 15 每天` -> (15, "daily"); the plan word may follow the number without a space."""
    rest = split_command(text, "平安计划")
    match = re.match(r"^(?:#|No\.?|号)?\s*(\d{1,9})\s*(\S*)$", rest, flags=re.IGNORECASE)
    if not match or not match.group(2):
        raise CommandError(f"请这样发：{CHECKIN_PLAN_USAGE}")
    plan = CHECKIN_PLAN_WORDS.get(match.group(2))
    if plan is None:
        raise CommandError(f"计划只能是每天、每周或关闭。{CHECKIN_PLAN_USAGE}")
    return int(match.group(1)), plan
