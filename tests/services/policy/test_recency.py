"""How long ago, in local days; silent today on a daily plan; why a 联系 case exists."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from services.policy import recency

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC moment in late 2026."""
    month, day = (11, day) if day > 1 else (12, day)
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def test_since_counts_local_days_not_24_hour_spans():
    """00:30 UTC is 08:30 today; 16:30 UTC the day before is 00:30 today; 15:59 is 23:59 yesterday."""
    assert recency.since(utc(1, 0, 30), NOW, TZ) == "今天 08:30"
    assert recency.since(utc(30, 16, 30), NOW, TZ) == "今天 00:30"
    assert recency.since(utc(30, 15, 59), NOW, TZ) == "昨天 23:59"
    assert recency.since(utc(28, 2), NOW, TZ) == "3天前"
    assert recency.since(datetime(2026, 10, 1, 2, tzinfo=timezone.utc), NOW, TZ) == "2026-10-01"
    assert recency.since(None, NOW, TZ) == "—"


def test_silent_today_only_on_a_daily_plan_before_local_midnight():
    """Nothing since 00:00 local on a daily plan is silent; a weekly or no plan never is, today."""
    midnight = recency.local_midnight(NOW, TZ)
    assert midnight == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
    assert recency.silent_today("daily", None, NOW, TZ)
    assert recency.silent_today("daily", utc(30, 15, 59), NOW, TZ)
    assert not recency.silent_today("daily", midnight, NOW, TZ)
    assert not recency.silent_today("weekly", None, NOW, TZ)
    assert not recency.silent_today("off", None, NOW, TZ)


def test_silence_reason_names_the_day_or_the_week():
    """今天 / 昨天 / a date for daily plans; 本周 or the week's Monday for weekly ones."""
    today = date(2026, 12, 4)
    assert recency.silence_reason("daily", today, today) == "今天没有报平安"
    assert recency.silence_reason("daily", date(2026, 12, 3), today) == "昨天没有报平安"
    assert recency.silence_reason("daily", date(2026, 11, 28), today) == "11月28日没有报平安"
    assert recency.silence_reason("weekly", date(2026, 11, 30), today) == "本周没有报平安"
    assert recency.silence_reason("weekly", date(2026, 11, 23), today) == "11月23日那一周没有报平安"
    assert recency.silence_reason("daily", None, today) == "没有按计划报平安"
