"""How the demos' seven months of history behave: when people ask for help, how fast it comes, how
visits keep to their plan, and what people say. Both the small town (`demo_small`, played through
the real services) and the generated city (`demo_city_*`, written in bulk) draw from here, so the
two histories have the same shape.

The figures are invented but kept plausible for the reference city (domain brief): a few percent
of beneficiaries ask for help in a month, mostly in the daytime and a little less at weekends;
most requests are accepted within service hours in minutes to a couple of hours, those raised at
night the next morning, with a tail of slow ones; most are resolved within a day or two. Visits
come when the last one is a period old (the 08:00 reminder says so), often a day or two early; a
town keeps to plan 85-97 % of the time, a weak one less, and everyone slips in the flood season,
the harvest and the Spring Festival.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from config import policy
from models.enums import RequestCategory

# 31 weeks: the 26 weeks a trend shows, and a month before them, so that everyone's visit plan is
# already under way when the first week shown begins.
HISTORY_DAYS = 217

# --- what people say -------------------------------------------------------------------------------

# What beneficiaries and their families write, with relative frequency and, for a few, the season
# they belong to. `classify()` decides category and urgency, as it would for a real message.
HELP_MESSAGES: tuple[tuple[str, int, str | None], ...] = (
    ("家里的米快吃完了，能不能帮忙买一袋", 14, None),
    ("降压药快吃完了，想请人帮忙去卫生院拿药", 14, None),
    ("屋顶漏雨了，下雨天屋里都是水", 8, None),
    ("想问一下低保年审要带什么证明", 12, None),
    ("好几天联系不上在外地打工的儿子", 6, None),
    ("请帮忙代购一些日用品", 10, None),
    ("残疾证到期了，怎么换新的", 5, None),
    ("电灯坏了，晚上看不见", 6, None),
    ("想问问残疾补贴怎么申请", 5, None),
    ("腿疼了好几天，想去医院看看", 6, None),
    ("门锁坏了，关不上", 3, None),
    ("想去幸福食堂吃饭，怎么报名", 4, None),
    ("孩子上学的补贴想申请一下", 3, None),
    ("医保报销的单子不知道交到哪里", 4, None),
    ("眼睛看不清了，想配副老花镜", 2, None),
    ("老人在家摔倒了，起不来，请快来看看", 2, None),
    ("胸口疼，喘不上气", 1, None),
    ("老人走失了，到处找不到人", 1, None),
    ("冬天的棉被不够厚，晚上冷", 8, "cold"),
    ("天冷了，想要一床电热毯", 4, "cold"),
    ("想买点过冬的炭", 3, "cold"),
    ("家里停电了，晚上很冷", 2, "cold"),  # urgent in winter
    ("天太热了，电扇坏了，晚上睡不着", 6, "hot"),
    ("空调坏了，屋里太闷热", 3, "hot"),
    ("老人热得头晕，吃不下饭", 1, "hot"),  # urgent
    ("下大雨，屋里进水了", 5, "wet"),
)
SEASONS = {"cold": frozenset({11, 12, 1, 2}), "hot": frozenset({6, 7, 8}), "wet": frozenset({5, 6, 7})}
# Messages the urgent classifier always flags, for the small town's tour of the ladder.
URGENT_MESSAGES = ("老人在家摔倒了，起不来，请快来看看", "胸口疼，喘不上气", "老人走失了，到处找不到人")

# What an assistant notes at a visit when one of the 四查 checks finds a problem.
VISIT_PROBLEMS = {
    "food": ("米面快吃完了", "家里没有新鲜菜", "一个人做饭不方便"),
    "clothing": ("冬衣不够", "被子太薄", "鞋子破了"),
    "housing": ("屋顶漏雨", "墙体开裂", "电线老化"),
    "medical": ("降压药快吃完了", "腿疼走路困难", "该去医院复查了"),
}
# Which check finds most problems in a season: the cold finds clothes short, the rain finds roofs.
PROBLEM_SEASON = {"clothing": "cold", "housing": "wet"}
HELP_FIELDS = ("helped_daily_care", "helped_shopping", "helped_contact_family", "helped_policy")
VISIT_NOTES = ("身体还好", "精神不错", "子女上周回来过", "需要多关注", "天冷了，提醒注意保暖")

# How the one who helped describes the outcome, by request category.
RESOLUTION_NOTES = {
    RequestCategory.FOOD: ("已送米面油上门", "已帮忙报名幸福食堂"),
    RequestCategory.CLOTHING: ("已送去棉被和冬衣",),
    RequestCategory.HOUSING: ("已联系村里维修好了", "已请电工上门修好"),
    RequestCategory.MEDICAL: ("已陪同去卫生院看病取药", "已送药上门"),
    RequestCategory.SHOPPING: ("已代购送到家",),
    RequestCategory.CONTACT_FAMILY: ("已联系上家人，家人会常打电话",),
    RequestCategory.POLICY: ("已讲清政策，材料已代为提交",),
    RequestCategory.OTHER: ("已上门处理好",),
    RequestCategory.CHECK_ON: ("已打电话问过，老人一切都好", "已上门看过，身体还好", "手机没电了，已帮忙充上，人没事"),
}
REPLIES = ("收到，今天就过去看看", "已联系好，明天上午上门", "我先打电话问问情况")
RATING_COMMENTS = ("谢谢，来得很快", "问题解决了，很满意", "态度很好", "")
LOW_RATING_COMMENTS = ("等了好几天才有人来", "问题还没完全解决", "希望下次快一点", "")
# Stars given when help came in time, and when it was slow (a rung of the ladder was reached).
RATING_WEIGHTS = ((5, 60), (4, 25), (3, 10), (2, 3), (1, 2))
SLOW_RATING_WEIGHTS = ((5, 25), (4, 30), (3, 22), (2, 13), (1, 10))

# --- how much, and when ---------------------------------------------------------------------------

# Months when visits slip (local calendar month -> extra chance a visit due then comes late): the
# flood season (汛期), the harvest with the National Day holiday (秋收), the Spring Festival (春节).
# Every six-month window holds at least one of them.
WEAK_MONTHS = {7: 0.15, 10: 0.12, 2: 0.15}
# A place that keeps to plan a share q of the time is late with about (1 - q) * LATE_PER_MISS of its
# visits: a late visit still lands in its plan period about a third of the time.
LATE_PER_MISS = 1.6
# Days before the due day a visit is made, one entry per 5 %: on the day 45 %, a day early 30 % …
_EARLY = (0,) * 9 + (1,) * 6 + (2,) * 3 + (3,) * 2
# Months with more requests than usual: the cold and the heat.
BUSY_MONTHS = {12: 1.15, 1: 1.15, 2: 1.1, 7: 1.1, 8: 1.1}
WEEKEND_VOLUME = 0.75
# When people write, by local hour: little at night, most in the morning.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 10, 16, 16, 14, 12, 8, 8, 11, 12, 11, 9, 7, 6, 5, 4, 2, 1)
SERVICE_OPEN, SERVICE_CLOSE = (t.hour for t in policy.SERVICE_HOURS)


def season_of(month: int) -> set[str]:
    """The seasons a calendar month belongs to."""
    return {name for name, months in SEASONS.items() if month in months}


def message_weights(month: int) -> list[int]:
    """HELP_MESSAGES' weights in a month: seasonal messages only in their season."""
    seasons = season_of(month)
    return [w if season is None or season in seasons else 0 for _, w, season in HELP_MESSAGES]


@dataclass
class Window:
    """The history's local days, from HISTORY_DAYS before `now` to today, with each day's 08:00 as UTC."""

    now: datetime
    tz: ZoneInfo
    days: int = HISTORY_DAYS
    first: date = field(init=False)
    today: date = field(init=False)
    mornings: list[datetime] = field(init=False)
    weekdays: list[int] = field(init=False)

    def __post_init__(self) -> None:
        """Work out the days once: every generated time is a day's morning plus an offset."""
        self.today = self.now.astimezone(self.tz).date()
        self.first = self.today - timedelta(days=self.days)
        self.mornings = [
            datetime.combine(self.first + timedelta(days=i), time(8, 0), tzinfo=self.tz).astimezone(timezone.utc)
            for i in range(self.days + 1)
        ]
        self.weekdays = [self.day(i).weekday() for i in range(self.days + 1)]

    def day(self, index: int) -> date:
        """The local date of a day index."""
        return self.first + timedelta(days=index)

    def index(self, moment: datetime) -> int:
        """The day index of an instant (negative before the window)."""
        return (moment.astimezone(self.tz).date() - self.first).days

    def late_chances(self, keeps_to_plan: float) -> list[float]:
        """Per day, the chance a visit due that day comes late, where visits keep `keeps_to_plan`."""
        return [min((1 - keeps_to_plan) * LATE_PER_MISS + WEAK_MONTHS.get(self.day(i).month, 0.0), 0.9)
                for i in range(self.days + 1)]

    def request_days(self) -> list[float]:
        """Cumulative weights of the days on which requests are raised (busy months, quiet weekends)."""
        cumulative, total = [], 0.0
        for i in range(self.days + 1):
            day = self.day(i)
            total += BUSY_MONTHS.get(day.month, 1.0) * (WEEKEND_VOLUME if day.weekday() >= 5 else 1.0)
            cumulative.append(total)
        return cumulative

    def raised_at(self, rng: random.Random, cumulative: list[float], lo: int = 0, hi: int | None = None) -> datetime:
        """A moment when someone asks for help, on a day in [lo, hi], never after now."""
        hi = self.days if hi is None else hi
        base = cumulative[lo - 1] if lo else 0.0
        for _ in range(20):
            point = base + rng.random() * (cumulative[hi] - base)
            index = min(bisect.bisect_left(cumulative, point, lo, hi + 1), hi)
            hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
            at = self.mornings[index] + timedelta(hours=hour - 8, minutes=rng.uniform(0, 60))
            if at <= self.now:
                return at
        return self.now - timedelta(minutes=rng.uniform(1, 60))


def visit_days(rng: random.Random, every: int, late: list[float], weekdays: list[int], since: int,
               until: int) -> list[int]:
    """Day indexes of a person's visits: each when the last one is `every` days old (the 08:00
    reminder says so), often a day or two early, late now and then (`late`, per day); the first
    within the first period of the window or a few days after registration (`since`); none after
    `until` (today, or the day the assistant stopped). Sundays move to Saturday."""
    days: list[int] = []
    last = since + rng.randint(0, 3) - every if since > 0 else rng.randint(0, every - 1) - every
    draw = rng.random
    while True:
        due = last + every
        if due > until:
            return days
        roll, chance = draw(), late[due if due > 0 else 0]
        if roll < chance:
            day = due + 1 + int(draw() * every)
        else:
            # One draw for both: uniform above `chance`, it picks how early, as _EARLY weighs it.
            day = due - _EARLY[int((roll - chance) / (1 - chance) * len(_EARLY))]
        if day > until:
            return days
        if day > 0 and weekdays[day] == 6:
            day -= 1
        if day >= since and day >= 0 and day > last:
            days.append(day)
        last = max(day, last + 1)


def working_minutes(rng: random.Random) -> float:
    """Minutes after 08:00 of a visit or a call: 08:30 to 17:30."""
    return rng.uniform(30, 570)


# --- how fast help comes --------------------------------------------------------------------------


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    """The local time of an instant."""
    return moment.astimezone(tz)


def next_morning(moment: datetime, tz: ZoneInfo, rng: random.Random, earliest: float = 7.5,
                 latest: float = 10.5) -> datetime:
    """A time between `earliest` and `latest` o'clock on the first morning after `moment` (the same
    morning before 08:00), never before `moment`."""
    local = _local(moment, tz)
    day = local.date() if local.hour < SERVICE_OPEN else local.date() + timedelta(days=1)
    start = datetime.combine(day, time(0, 0), tzinfo=tz)
    at = (start + timedelta(hours=rng.uniform(earliest, latest))).astimezone(timezone.utc)
    return at if at > moment else moment + timedelta(minutes=rng.uniform(5, 40))


def accept_delay(rng: random.Random, created: datetime, tz: ZoneInfo, urgent: bool, pace: float = 1.0) -> timedelta:
    """How long until someone accepts a request raised at `created`; `pace` above 1 is a slower town."""
    if urgent:
        minutes = rng.choices(
            (rng.uniform(1, 12), rng.uniform(12, 25), rng.uniform(25, 40), rng.uniform(40, 55), rng.uniform(55, 110)),
            (62, 18, 9, 6, 5),
        )[0]
        return timedelta(minutes=minutes * min(pace, 1.3))
    local = _local(created, tz)
    weekend = local.weekday() >= 5
    if SERVICE_OPEN <= local.hour < SERVICE_CLOSE:
        quick = min(rng.lognormvariate(3.3, 0.75), 110.0)  # minutes; median about 27
        choices = (timedelta(minutes=quick * pace), timedelta(hours=rng.uniform(1.2, 3.5) * pace),
                   next_morning(created, tz, rng) - created, timedelta(hours=rng.uniform(14, 60)))
        weights = (70, 18, 8, 4) if weekend else (85, 10, 3, 2)
        return rng.choices(choices, weights)[0]
    # Raised in the evening or at night: mostly the next morning, now and then at once.
    if local.hour >= SERVICE_CLOSE and local.hour < 22 and rng.random() < 0.12:
        return timedelta(minutes=rng.uniform(5, 40))
    if rng.random() < 0.9:
        return next_morning(created, tz, rng, 7.0, 9.8) - created
    return next_morning(created, tz, rng, 10.5, 16.0) - created


# Hours from acceptance to resolution, per category: (weights of four bands).
_RESOLVE_BANDS = ((0.3, 6), (6, 36), (36, 90), (90, 220))
_RESOLVE_WEIGHTS = {
    RequestCategory.POLICY.value: (60, 31, 7, 2),
    RequestCategory.SHOPPING.value: (66, 30, 4, 0),
    RequestCategory.FOOD.value: (63, 31, 5, 1),
    RequestCategory.CLOTHING.value: (52, 38, 8, 2),
    RequestCategory.HOUSING.value: (32, 42, 19, 7),
    RequestCategory.MEDICAL.value: (60, 32, 6, 2),
    RequestCategory.CONTACT_FAMILY.value: (72, 25, 3, 0),
    RequestCategory.OTHER.value: (55, 36, 7, 2),
}


def resolve_delay(rng: random.Random, category: str, urgent: bool) -> timedelta:
    """How long from acceptance to resolution: hours for most, days for repairs, a few slow ones."""
    if urgent:
        hours = rng.choices((rng.uniform(0.4, 3.2), rng.uniform(3.5, 10), rng.uniform(11, 30)), (80, 15, 5))[0]
        return timedelta(hours=hours)
    weights = _RESOLVE_WEIGHTS.get(category, _RESOLVE_WEIGHTS[RequestCategory.OTHER.value])
    low, high = rng.choices(_RESOLVE_BANDS, weights)[0]
    return timedelta(hours=rng.uniform(low, high))


def awake(moment: datetime, tz: ZoneInfo, rng: random.Random, urgent: bool = False) -> datetime:
    """`moment`, or the next morning when it falls in the night (nobody resolves or rates an
    ordinary case at 3 a.m.; an urgent one is seen through whatever the hour)."""
    if urgent or 7 <= _local(moment, tz).hour < 22:
        return moment
    return next_morning(moment, tz, rng, 7.5, 9.5)


def rated_after(rng: random.Random) -> timedelta:
    """How long after resolution the family rates: mostly the same day."""
    return timedelta(hours=rng.choices((rng.uniform(0.2, 6), rng.uniform(6, 48), rng.uniform(48, 120)),
                                       (60, 30, 10))[0])


def stars(rng: random.Random, slow: bool) -> tuple[int, str | None]:
    """A rating and its comment: mostly 4-5, lower when help was slow."""
    table = SLOW_RATING_WEIGHTS if slow else RATING_WEIGHTS
    given = rng.choices([s for s, _ in table], [w for _, w in table])[0]
    comment = rng.choice(RATING_COMMENTS if given >= 4 else LOW_RATING_COMMENTS)
    return given, comment or None
