"""Policy tables operators may tune: classification words, visit frequencies, push limits.

The classifier's word tables are in config/classifier_words.py and imported here by name.

Pure functions in services/policy/ evaluate these; nothing here reads the clock or a database.
Categories are written as their values in `models.enums` (吃, 医, 特困 …): settings sit below
the tables in the layers and import nothing of ours; tests/config check every key is a known value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

# --- request classification (services/policy/classify.py) ---------------------------------------
# The vocabulary tables live in config/classifier_words.py; every name stays readable as policy.X.
from config.classifier_words import (  # noqa: F401  (re-exported)
    CATEGORY_DECISIVE_WORDS,
    CATEGORY_KEYWORDS,
    CATEGORY_NEUTRAL_WORDS,
    CLAUSE_STARTERS,
    GENERIC_URGENT_SIGNS,
    HYPOTHETICAL_MARKERS,
    LOOK_ALIKES,
    NEGATIONS,
    NOT_NEGATIONS,
    PAST_MARKERS,
    PEOPLE,
    RESOLVED_MARKERS,
    SPELLINGS,
    URGENT_SIGNS,
    WHOLE_CLAUSE_SIGNS,
    WINTER_MONTHS,
    WINTER_URGENT_SIGNS,
    WORRY_MARKERS,
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
# The service map colours a village or town amber when fewer than this share of its people were
# visited within their plan (the same coverage as the 走访覆盖 page: the share not overdue).
MAP_COVERAGE_TARGET = 0.9

# WeChat's customer-service window: messages allowed after a user's last message.
CUSTOM_WINDOW_HOURS = 48
CUSTOM_WINDOW_MAX_MESSAGES = 5
# Template message fields: at most 20 characters since 2023-05-04.
TEMPLATE_FIELD_MAX = 20


@dataclass(frozen=True)
class TemplateField:
    """One keyword of a template: its key, what it means to the reader, and WeChat's value type.

    The key starts with the type, as the WeChat console names keywords (thing2 is a thing). The
    value rules of each type are WeChat's (services/policy/push.py checks them).
    """

    key: str
    label: str
    type: str


@dataclass(frozen=True)
class TemplateSpec:
    """A template chosen in the WeChat console: its title and its keywords, in order."""

    title: str
    fields: tuple[TemplateField, ...]


# The templates we send, by kind (their ids are settings: WECHAT_TEMPLATE_TASK, WECHAT_TEMPLATE_PROGRESS).
TEMPLATES: dict[str, TemplateSpec] = {
    # Tasks, alerts, reminders and digests to staff. A push about a list says what the list is and
    # links to the whole of it (the mobile list page); its 编号 is the list's reference.
    "task": TemplateSpec("待办任务提醒", (
        TemplateField("character_string1", "编号", "character_string"),
        TemplateField("thing2", "对象", "thing"),
        TemplateField("thing3", "事项", "thing"),
        TemplateField("phrase4", "紧急程度", "phrase"),
        TemplateField("time5", "时间", "time"),
    )),
    # Progress notices to requesters and families.
    "progress": TemplateSpec("办理进度通知", (
        TemplateField("character_string1", "编号", "character_string"),
        TemplateField("thing2", "进展", "thing"),
        TemplateField("thing3", "负责人", "thing"),
        TemplateField("time4", "时间", "time"),
    )),
}

# The mobile list page a summary push links to (/m/list/<token>): how long its link works, and
# how many items one link names (a longer list says how many more are on the dashboard).
MOBILE_LIST_DAYS = 7
MOBILE_LIST_MAX_ITEMS = 200

# Outbox retries: exponential backoff with full jitter, then a dead letter.
OUTBOX_BACKOFF_BASE_SECONDS = 5
OUTBOX_BACKOFF_CAP_SECONDS = 30 * 60
OUTBOX_MAX_ATTEMPTS = 8
# How long a dispatcher holds a claimed row before another may take it over.
OUTBOX_CLAIM_SECONDS = 60
# SMS per phone within (seconds, messages), as Aliyun's default flow control; one over it waits.
SMS_PHONE_LIMITS = ((60, 1), (3600, 5), (86400, 10))

# --- media: voice, photos and video from beneficiaries and families --------------------------------
# Fetching from WeChat (media/get): backoff like the outbox's, then a dead letter (`sanzhida media
# list --failed`). WeChat keeps temporary media 3 days, so the last try falls well inside them.
MEDIA_BACKOFF_BASE_SECONDS = 10
MEDIA_BACKOFF_CAP_SECONDS = 30 * 60
MEDIA_MAX_ATTEMPTS = 8
MEDIA_CLAIM_SECONDS = 120
# WeChat deletes temporary media this long after upload; our own uploads (to send a voice or photo
# on to staff) are renewed a little before.
WECHAT_MEDIA_TTL = timedelta(days=3)
WECHAT_MEDIA_RENEW_BEFORE = timedelta(hours=6)
# Speech recognition is retried this often while the recogniser is down, for this long; after
# that the voice stays "failed" and staff listen to it.
TRANSCRIPT_RETRY_SECONDS = 60
TRANSCRIPT_MAX_ATTEMPTS = 60 * 24
# A voice request nobody has understood yet (no WeChat recognition, recogniser off, failing or
# hearing nothing) may be someone who fell and cannot type: it follows this urgency's ladder until
# a member of staff accepts it, or a transcript is classified.
UNHEARD_VOICE_URGENCY = "urgent"


# --- escalation ladder ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LadderStep:
    """One rung: if `condition` still holds `after` the request was raised, go to `level`.

    condition: "not_accepted" (still open), "not_resolved" (open or acknowledged) or
    "accepted_not_resolved" (acknowledged, not yet resolved).
    clock: "wall" counts every minute; "service" counts only service hours.
    notify: whom the rung alerts, ONE person per role, by their place in the 包联 chain:
      "assignee" (a reminder to whoever has the case);
      "responsible_officer", "deputy_officer" (the town officers answering for the village);
      "liaison", "deputy_liaison" (the city liaisons of the department that handles the request's
      category, CATEGORY_DEPARTMENT; for an urgent request outside office hours, the person on duty);
      "on_duty" (outside office hours the rota's person on duty; in office hours the liaison).
    A role with nobody in it walks up the chain (services/responsibility.py) and logs a warning.
    repeat_every: the rung is taken again this often while its condition holds (None: once).
    tell_requester: whether the requester is told the case was pressed (not on repeats).
    """

    level: int
    condition: str
    after: timedelta
    clock: str
    notify: tuple[str, ...]
    repeat_every: timedelta | None = None
    tell_requester: bool = True


# An urgent case nobody accepts: after the liaison, the person on duty is reminded this often.
URGENT_REPEAT_MINUTES = 10

ESCALATION_LADDER: dict[str, tuple[LadderStep, ...]] = {
    "urgent": (
        LadderStep(1, "not_accepted", timedelta(minutes=15), "wall", ("responsible_officer", "assignee")),
        LadderStep(2, "not_accepted", timedelta(minutes=30), "wall", ("deputy_officer",), tell_requester=False),
        LadderStep(3, "not_accepted", timedelta(minutes=45), "wall", ("liaison",)),
        LadderStep(4, "not_accepted", timedelta(minutes=45 + URGENT_REPEAT_MINUTES), "wall", ("on_duty",),
                   repeat_every=timedelta(minutes=URGENT_REPEAT_MINUTES), tell_requester=False),
        LadderStep(5, "accepted_not_resolved", timedelta(hours=4), "wall", ("responsible_officer",)),
        LadderStep(6, "accepted_not_resolved", timedelta(hours=12), "wall", ("liaison",)),
    ),
    "normal": (
        LadderStep(1, "not_accepted", timedelta(hours=2), "service", ("responsible_officer",)),
        LadderStep(2, "not_resolved", timedelta(hours=48), "wall", ("deputy_officer",)),
        LadderStep(3, "not_resolved", timedelta(hours=96), "wall", ("liaison",)),
    ),
    # A 联系 case the check-in scan raised (someone on a plan went silent): a call is quick, so the
    # town officer hears within two service hours of nobody taking it, and the deputy by next day.
    "check_on": (
        LadderStep(1, "not_accepted", timedelta(hours=2), "service", ("responsible_officer",)),
        LadderStep(2, "not_resolved", timedelta(hours=24), "wall", ("deputy_officer",)),
    ),
}

# Service hours (local time) for "service" clocks: 08:00-20:00 every day.
SERVICE_HOURS = (time(8, 0), time(20, 0))
# Quiet hours (local time): non-urgent pushes wait until they end; urgent ones go at once.
QUIET_HOURS = (time(22, 0), time(7, 0))

# --- 包联 responsibility chain ---------------------------------------------------------------------
# The city's functional departments (code, name), each with two city liaisons (市级民政联络员). A
# city without department rows of its own is taken to have these, with no liaisons named.
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("civil_affairs", "市民政局"),
    ("health", "市卫健委"),
    ("housing", "市住建局"),
    ("hrss", "市人社局"),
    ("medical_insurance", "市医保局"),
    ("emergency", "市应急管理局"),
    ("public_security", "市公安局"),
    ("education", "市教育局"),
    ("disabled_persons", "市残联"),
    ("women", "市妇联"),
    ("youth_league", "团市委"),
    ("agriculture", "市农业农村局"),
    ("rural_revitalization", "市乡村振兴局"),
    ("water", "市水利局"),
    ("transport", "市交通运输局"),
    ("market_regulation", "市市场监管局"),
    ("commerce", "市商务局"),
    ("finance", "市财政局"),
)
# Which department handles a request category (RequestCategory values -> department codes).
CATEGORY_DEPARTMENT: dict[str, str] = {
    "吃": "civil_affairs",
    "穿": "civil_affairs",
    "住": "housing",
    "医": "health",
    "帮购": "commerce",
    "联系亲人": "civil_affairs",
    "政策": "civil_affairs",
    "其他": "civil_affairs",
    "联系": "civil_affairs",
}
# Used when a category's department is missing from the city's departments.
DEFAULT_DEPARTMENT = "civil_affairs"
# Office hours of the city's departments (local time, Monday = 0). Outside them, urgent alerts for a
# liaison go to the city supervisor on duty (duty_shifts), and the liaison sees them next morning.
OFFICE_HOURS = (time(8, 30), time(17, 30))
OFFICE_DAYS = frozenset({0, 1, 2, 3, 4})
# The longest duty shift the rota accepts (a weekend from Friday 17:30 to Monday 08:30 is 63 hours).
DUTY_SHIFT_MAX_HOURS = 72

# --- 报平安 check-ins -------------------------------------------------------------------------------
# People in these categories who live alone are asked to check in every day unless staff set their
# plan otherwise (BeneficiaryCategory values); everyone else has no plan until staff give them one.
CHECKIN_DAILY_CATEGORIES = frozenset({"特困", "留守老人"})
# Whole messages (text, or a voice's transcript) that record a check-in, after punctuation and
# spaces are dropped. Longer messages are requests as usual, so "我很好，就是药吃完了" still reaches
# the assistant as a request.
CHECKIN_WORDS = frozenset({"平安", "报平安", "我很好", "我平安", "很好", "都好", "一切都好", "一切平安", "平安无事"})
# Local times of the two steps of a silence: by CHECKIN_REMIND_AT without a sign of life the bound
# family are reminded; by CHECKIN_RAISE_AT, still nothing, the assistant gets a 联系 case.
CHECKIN_REMIND_AT = time(10, 0)
CHECKIN_RAISE_AT = time(16, 0)

# The daily archive job's local time: a quiet hour, when nobody writes much and no other daily job runs.
ARCHIVE_AT = time(3, 30)
# A weekly plan runs Monday to Sunday and is checked on this weekday (Monday = 0): Friday, a working
# day, so the assistant can call or visit before the weekend.
CHECKIN_WEEKLY_DAY = 4

# A visit overdue by more than this many days is escalated to the town officers.
VISIT_OVERDUE_SLACK_DAYS = 7

# More people than one village assistant can know and visit: the service map and the trends page
# mark an assistant responsible for more as overloaded.
ASSISTANT_PEOPLE_LIMIT = 150
# The trends page also flags an assistant as overloaded above any of these: more cases open at once
# than a village assistant can follow in a few days, or more people overdue for a visit than a week
# of visiting catches up.
ASSISTANT_OPEN_CASES_LIMIT = 5
ASSISTANT_OVERDUE_VISITS_LIMIT = 30

# Wrong bind codes from everyone together in one hour (each openid also has BIND_MAX_FAILURES a day):
# many openids guessing in parallel trip it, binding pauses for everyone for a while, and the log says
# `binding=guessing_alert`. A wave of people binding with a few typos stays well within it.
BIND_GUESSES_PER_HOUR = 30
BIND_GUESS_PAUSE_MINUTES = 30

# Dashboard sign-in: this many wrong passwords in a row lock the account for a while.
LOGIN_MAX_FAILURES = 5
LOGIN_LOCK_MINUTES = 15
# Sign-in attempts (every POST of the form, right or wrong) allowed per client address, and from
# everyone together (Flask-Limiter syntax). Against guessing across many staff numbers from one place,
# and against a flood; a town office of a dozen people behind one address signs in well within them.
SIGN_IN_LIMIT_PER_ADDRESS = "10/minute;50/hour"
SIGN_IN_LIMIT_OVERALL = "300/minute"

# The figures job recomputes a province's 35 days and 26 weeks (minutes of a core) this often; the
# runs in between recompute yesterday and today, this week and last, and the days of what was
# recorded since (services/figures_refresh.py).
FIGURES_FULL_EVERY = timedelta(hours=1)
