"""The bench's 报平安 plans: enough beneficiaries on a daily plan for the morning check-in scan to be
timed at city scale, on the bench's copy only.

The city demo may give few people a plan. When it gives fewer than DAILY_MINIMUM, the bench puts
DAILY_TARGET on daily plans in all: the categories asked to check in every day
(`policy.CHECKIN_DAILY_CATEGORIES`, 特困 and 留守老人) first, in a fixed scattered order, then
anyone else, as a city that starts the service would. Nobody has checked in by the bench's 10:00,
so every one of them is silent: the scan's worst case.
"""

from __future__ import annotations

from sqlalchemy import case, exists, func, select, true, update
from sqlalchemy.orm import Session

from config import policy
from models import Beneficiary, BeneficiaryCategoryLink
from models.enums import CheckinPlan

DAILY_MINIMUM = 20_000
DAILY_TARGET = 22_000


def daily_plans(session: Session) -> int:
    """How many active beneficiaries are on a daily plan."""
    return session.scalar(select(func.count()).select_from(Beneficiary).where(
        Beneficiary.active == true(), Beneficiary.checkin_plan == CheckinPlan.DAILY.value))


def ensure_daily_plans(session: Session, *, minimum: int = DAILY_MINIMUM, target: int = DAILY_TARGET) -> tuple[int, int]:
    """Put people on daily plans up to `target` when fewer than `minimum` are; (daily plans now, how many set)."""
    have = daily_plans(session)
    if have >= minimum:
        return have, 0
    cared = exists().where(BeneficiaryCategoryLink.beneficiary_id == Beneficiary.id,
                           BeneficiaryCategoryLink.category.in_(policy.CHECKIN_DAILY_CATEGORIES))
    picked = (
        select(Beneficiary.id)
        .where(Beneficiary.active == true(), Beneficiary.checkin_plan == CheckinPlan.OFF.value)
        # Scattered over villages and assistants rather than the first ids of the seed.
        .order_by(case((cared, 0), else_=1), (Beneficiary.id * 7919) % 10007, Beneficiary.id)
        .limit(target - have)
    )
    changed = session.execute(
        update(Beneficiary).where(Beneficiary.id.in_(picked.scalar_subquery()))
        .values(checkin_plan=CheckinPlan.DAILY.value)
        .execution_options(synchronize_session=False)
    ).rowcount
    return have + changed, changed
