"""Policy tables operators may tune: classification words, visit frequencies, push limits.

Pure functions in services/policy/ evaluate these; nothing here reads the clock or a database.
Categories are written as their values in `models.enums` (吃, 医, 特困 …): settings sit below
the tables in the layers and import nothing of ours; tests/config check every key is a known value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

# Keywords per request category; the category with most hits wins, ties go to the earlier row.
# Keys are RequestCategory values.
CATEGORY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("医", ("医", "病", "药", "疼", "痛", "住院", "发烧", "血压", "摔", "晕", "咳", "不舒服")),
    ("吃", ("吃", "饭", "米", "油", "粮", "饿", "菜", "食堂", "喝")),
    ("穿", ("衣", "穿", "被子", "棉", "鞋", "冷", "冻")),
    ("住", ("房", "屋", "漏", "墙", "门", "窗", "危房", "停电", "停水", "电灯", "水管", "着火")),
    ("帮购", ("买", "帮购", "代购", "捎", "带点")),
    ("联系亲人", ("儿子", "女儿", "孩子", "亲人", "想家", "联系不上", "打电话")),
    ("政策", ("低保", "补贴", "政策", "证明", "申请", "救助", "保险", "残疾证", "养老金", "手续")),
)

# Words that make a request urgent all year round.
URGENT_WORDS = (
    "摔倒", "摔了", "救命", "晕倒", "昏迷", "着火", "失火", "火灾", "没饭吃", "断粮",
    "出血", "流血", "喘不上气", "胸口疼", "中风", "走失", "找不到人",
)
# Words that are urgent only in the cold months, when a cut supply endangers the elderly.
WINTER_URGENT_WORDS = ("停电", "停水", "没暖气", "冻得", "太冷")
WINTER_MONTHS = frozenset({11, 12, 1, 2, 3})

# When a life may be at risk, tell the sender which number to call as well.
EMERGENCY_NUMBERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("120", ("摔倒", "摔了", "晕倒", "昏迷", "救命", "出血", "流血", "喘不上气", "胸口疼", "中风")),
    ("119", ("着火", "失火", "火灾")),
    ("110", ("走失", "找不到人", "被打", "抢劫", "救命")),
)

# 四查四帮 visit frequency in days per beneficiary category; the strictest category wins.
# Keys are BeneficiaryCategory values.
VISIT_FREQUENCY_DAYS: dict[str, int] = {
    "特困": 7,
    "留守老人": 7,
    "留守儿童": 14,
    "残疾人": 14,
    "孤儿/困境儿童": 14,
    "低保": 30,
    "其他": 30,
}

# WeChat's customer-service window: messages allowed after a user's last message.
CUSTOM_WINDOW_HOURS = 48
CUSTOM_WINDOW_MAX_MESSAGES = 5
# Template message fields: at most 20 characters since 2023-05-04.
TEMPLATE_FIELD_MAX = 20

# Outbox retries: exponential backoff with full jitter, then a dead letter.
OUTBOX_BACKOFF_BASE_SECONDS = 5
OUTBOX_BACKOFF_CAP_SECONDS = 30 * 60
OUTBOX_MAX_ATTEMPTS = 8
# How long a dispatcher holds a claimed row before another may take it over.
OUTBOX_CLAIM_SECONDS = 60


# --- escalation ladder ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LadderStep:
    """One rung: if `condition` still holds `after` the request was raised, go to `level`.

    condition: "not_accepted" (still open) or "not_resolved" (open or acknowledged).
    clock: "wall" counts every minute; "service" counts only service hours.
    notify: who is alerted — "town_officers", "city_supervisors", "assignee".
    """

    level: int
    condition: str
    after: timedelta
    clock: str
    notify: tuple[str, ...]


ESCALATION_LADDER: dict[str, tuple[LadderStep, ...]] = {
    "urgent": (
        LadderStep(1, "not_accepted", timedelta(minutes=15), "wall", ("town_officers", "assignee")),
        LadderStep(2, "not_accepted", timedelta(minutes=45), "wall", ("city_supervisors",)),
    ),
    "normal": (
        LadderStep(1, "not_accepted", timedelta(hours=2), "service", ("town_officers",)),
        LadderStep(2, "not_resolved", timedelta(hours=48), "wall", ("town_officers",)),
        LadderStep(3, "not_resolved", timedelta(hours=96), "wall", ("city_supervisors",)),
    ),
}

# Service hours (local time) for "service" clocks: 08:00-20:00 every day.
SERVICE_HOURS = (time(8, 0), time(20, 0))
# Quiet hours (local time): non-urgent pushes wait until they end; urgent ones go at once.
QUIET_HOURS = (time(22, 0), time(7, 0))

# A visit overdue by more than this many days is escalated to the town officers.
VISIT_OVERDUE_SLACK_DAYS = 7

# Dashboard sign-in: this many wrong passwords in a row lock the account for a while.
LOGIN_MAX_FAILURES = 5
LOGIN_LOCK_MINUTES = 15
