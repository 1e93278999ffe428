"""Pushes about a list: the template's five fields describe the list, and its link opens all of it.

A template message cannot hold a list (five fields of at most 20 characters, no line breaks), so
a push about several cases or visits says in its fields what the list is (its reference in 编号,
whom it concerns, what it asks, how urgent, when) and links to the mobile list page, where its
recipient sees every line (`services.summary_links`, `bot/mobile`). The customer-service text
keeps its lines and ends with the link (`services.notify.push_payload`).

The escalation scan and the morning jobs build their list pushes here; each function returns a
`Push` ready for `notify.Delivery`, with its SMS form for a recipient WeChat cannot reach (`digest`:
what the list is and its figures; the callers word the one of a list of cases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from config import policy
from models import ServiceRequest, Staff
from services import texts
from services.notify import Push, digest_sms, local_time
from services.policy.hours import waited
from services.summary_links import CASES, CITY_DIGEST, TOWN_DIGEST, VISITS, reference

if TYPE_CHECKING:
    from services.requests import RequestEnv
    from services.visits import DueVisit


def _push(env: RequestEnv, *, key: str, text: str, staff: Staff, kind: str, covers: Sequence[int] | date,
          fields: dict[str, object], now: datetime, sms: dict | None = None) -> Push:
    """A task-template push to `staff` with the link to their list (none where no page is served)."""
    url = env.links.url(staff.id, kind, covers, now) if env.links is not None else None
    return Push(key=key, text=text, template_id=env.templates.task, fields=fields, url=url, sms=sms)


def _who(name: str, village: str, count: int, unit: str) -> str:
    """对象: the one person and their village, or the first and how many in all."""
    if count == 1:
        return texts.LIST_WHO_ONE.format(name=name, village=village)
    return texts.LIST_WHO_MANY.format(name=name, count=count, unit=unit)


def cases_push(
    env: RequestEnv, *, key: str, text: str, staff: Staff, cases: Sequence[ServiceRequest], state: str,
    now: datetime, waiting: bool = True, sms: dict | None = None,
) -> Push:
    """A push about several cases (an escalation digest, a liaison's digest), listed most important first.

    编号 holds their case numbers (`12,15+3`), 对象 the first person and how many cases, 事项
    `state` and, when `waiting`, how long the oldest has waited; 紧急 when any is urgent. `sms` is
    its SMS form, which the caller words.
    """
    if not cases:
        raise ValueError("a list push needs at least one case")
    first = cases[0]
    numbers = [case.id for case in cases]
    what = state
    if waiting:
        what = texts.LIST_CASES_WAITED.format(state=state, waited=waited(min(c.created_at for c in cases), now))
    urgent = any(case.urgency == "urgent" for case in cases)
    fields = {
        "character_string1": reference(CASES, ids=numbers),
        "thing2": _who(first.beneficiary.name, first.beneficiary.village.name, len(cases), "件"),
        "thing3": what,
        "phrase4": texts.LIST_URGENCY["urgent" if urgent else "normal"],
        "time5": local_time(now, env.tz),
    }
    return _push(env, key=key, text=text, staff=staff, kind=CASES, covers=numbers, fields=fields, now=now, sms=sms)


def visits_push(
    env: RequestEnv, *, key: str, text: str, staff: Staff, due: Sequence[DueVisit], today: date, now: datetime,
    overdue_alert: bool = False,
) -> Push:
    """A push about visits due: an assistant's 08:00 reminder, or (`overdue_alert`) a town officer's
    report of visits overdue beyond the slack; `due` most overdue first.

    The reminder's link covers the day (the page lists the recipient's visits still due by it);
    an alert's covers exactly these people.
    """
    if not due:
        raise ValueError("a list push needs at least one visit")
    first = due[0].beneficiary
    latest = max((today - item.due).days for item in due)
    if overdue_alert:
        what = texts.LIST_VISITS_OVERDUE.format(count=len(due), slack=policy.VISIT_OVERDUE_SLACK_DAYS)
    elif latest > 0:
        what = texts.LIST_VISITS_LATE.format(count=len(due), days=latest)
    else:
        what = texts.LIST_VISITS_TODAY.format(count=len(due))
    ids = [item.beneficiary.id for item in due]
    fields = {
        "character_string1": reference(VISITS, ids=ids if overdue_alert else (), day=today),
        "thing2": _who(first.name, first.village.name, len(due), "户"),
        "thing3": what,
        "phrase4": texts.LIST_URGENCY["late" if overdue_alert or latest > 0 else "normal"],
        "time5": local_time(now, env.tz),
    }
    covers = ids if overdue_alert else today
    # By SMS what the list is and its figures (事项), without the names the template shows.
    sms = digest_sms(texts.SMS_DIGEST_VISITS_OVERDUE if overdue_alert else texts.SMS_DIGEST_VISITS, what)
    return _push(env, key=key, text=text, staff=staff, kind=VISITS, covers=covers, fields=fields, now=now, sms=sms)


def town_digest_push(
    env: RequestEnv, *, key: str, text: str, staff: Staff, town: str, figures: Mapping[str, int], today: date,
    now: datetime,
) -> Push:
    """A town officer's daily digest: `figures` as the digest counts them (open, escalated, overdue,
    visits_overdue); the link lists the town's open cases and overdue visits."""
    fields = {
        "character_string1": reference(TOWN_DIGEST, day=today),
        "thing2": town,
        "thing3": texts.LIST_TOWN_WHAT.format(open=figures["open"], escalated=figures["escalated"],
                                              visits=figures["visits_overdue"]),
        "phrase4": texts.LIST_URGENCY["late" if figures["escalated"] or figures["overdue"] else "normal"],
        "time5": local_time(now, env.tz),
    }
    sms = digest_sms(texts.SMS_DIGEST_TOWN.format(town=town), fields["thing3"])
    return _push(env, key=key, text=text, staff=staff, kind=TOWN_DIGEST, covers=today, fields=fields, now=now,
                 sms=sms)


def city_digest_push(
    env: RequestEnv, *, key: str, text: str, staff: Staff, towns: int, requests: int, today: date, now: datetime,
) -> Push:
    """A city supervisor's weekly summary: how many towns and requests; the link lists every town's figures."""
    fields = {
        "character_string1": reference(CITY_DIGEST, day=today),
        "thing2": texts.LIST_CITY_WHO.format(towns=towns),
        "thing3": texts.LIST_CITY_WHAT.format(requests=requests),
        "phrase4": texts.LIST_URGENCY["normal"],
        "time5": local_time(now, env.tz),
    }
    sms = digest_sms(texts.SMS_DIGEST_CITY, f"{fields['thing2']} {fields['thing3']}")
    return _push(env, key=key, text=text, staff=staff, kind=CITY_DIGEST, covers=today, fields=fields, now=now,
                 sms=sms)
