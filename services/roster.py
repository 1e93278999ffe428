"""The roster: regions, staff, beneficiaries and who is assigned to whom."""

from __future__ import annotations

import random
import secrets
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, aliased

from models import Assignment, Beneficiary, BeneficiaryCategoryLink, CareCard, Region, Staff
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole
from services.pii import PiiCipher
from services.policy import id_number
from services.policy.validate import ROLE_LEVEL
from services.policy import visits as visit_schedule
from services.policy.checkin import default_plan

# No 0/O, 1/I/L: codes are read off a printed card by elderly people and typed on phones.
BIND_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BIND_CODE_LENGTH = 6


class RosterError(ValueError):
    """Invalid roster data; the message is safe to show (it never echoes an ID number)."""


def create_region(
    session: Session,
    *,
    code: str,
    name: str,
    level: RegionLevel,
    parent: Region | None,
    now: datetime,
    is_community: bool = False,
    office_phone: str | None = None,
) -> Region:
    """Add a region below its parent: a city at the top or under the province, towns under a city,
    villages under a town."""
    allowed = {RegionLevel.PROVINCE: (None,), RegionLevel.CITY: (None, RegionLevel.PROVINCE.value),
               RegionLevel.TOWN: (RegionLevel.CITY.value,), RegionLevel.VILLAGE: (RegionLevel.TOWN.value,)}
    wanted = allowed[RegionLevel(level)]
    if (parent.level if parent else None) not in wanted:
        raise RosterError(f"{level} 的上级区域应为 {' 或 '.join(w or '无' for w in wanted)}")
    region = Region(
        code=code,
        name=name,
        level=RegionLevel(level).value,
        parent=parent,
        is_community=is_community,
        office_phone=office_phone,
        created_at=now,
    )
    session.add(region)
    return region


def create_staff(
    session: Session,
    *,
    staff_no: str,
    name: str,
    phone: str,
    role: StaffRole,
    region: Region,
    now: datetime,
) -> Staff:
    """Add a member of staff; their region must match their role's level."""
    level_for_role = ROLE_LEVEL[StaffRole(role)]
    if region.level != level_for_role.value:
        raise RosterError(f"{role} 应属于 {level_for_role} 级区域")
    staff = Staff(
        staff_no=staff_no,
        name=name,
        phone=phone,
        role=StaffRole(role).value,
        region=region,
        active=True,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    session.add(staff)
    return staff


def create_beneficiary(
    session: Session,
    pii: PiiCipher,
    *,
    name: str,
    village: Region,
    categories: list[BeneficiaryCategory],
    now: datetime,
    id_no: str | None = None,
    phone: str | None = None,
    address: str | None = None,
    bind_code: str | None = None,
    lives_alone: bool = False,
) -> Beneficiary:
    """Add a beneficiary; the ID number is validated, encrypted and hashed, never stored plain."""
    if village.level != RegionLevel.VILLAGE.value:
        raise RosterError("服务对象应属于村或社区")
    if not categories:
        raise RosterError("至少需要一个对象类别")
    beneficiary = Beneficiary(
        name=name,
        village=village,
        phone=phone,
        address=address,
        active=True,
        bind_code=bind_code or new_bind_code(),
        lives_alone=lives_alone,
        checkin_plan_by_staff=False,
        created_at=now,
        updated_at=now,
    )
    if id_no:
        error = id_number.validation_error(id_no)
        if error:
            raise RosterError(error)
        beneficiary.id_number_encrypted = pii.encrypt(id_no)
        beneficiary.id_number_hash = pii.lookup_hash(id_no)
    for category in sorted({BeneficiaryCategory(c).value for c in categories}):
        beneficiary.categories.append(BeneficiaryCategoryLink(category=category))
    refresh_visit_plan(beneficiary)
    # Not staff-set yet: the 报平安 plan is the default for the categories and living alone (as
    # services.checkins.refresh_default_plan sets it, which this module is below).
    beneficiary.checkin_plan = default_plan(beneficiary.category_names, bool(lives_alone))
    session.add(beneficiary)
    return beneficiary


def refresh_visit_plan(beneficiary: Beneficiary) -> None:
    """Recompute the visit period after the beneficiary's categories changed."""
    beneficiary.visit_every_days = visit_schedule.frequency_days(link.category for link in beneficiary.categories)


def new_bind_code(rng: random.Random | None = None) -> str:
    """A short, unguessable bind code (31^6 ≈ 887 million values); `rng` only for demo data."""
    pick = rng.choice if rng is not None else secrets.choice
    return "".join(pick(BIND_CODE_ALPHABET) for _ in range(BIND_CODE_LENGTH))


def current_assignment(session: Session, beneficiary: Beneficiary) -> Assignment | None:
    """The beneficiary's active assignment, if they have one."""
    return session.scalars(
        select(Assignment).where(Assignment.beneficiary_id == beneficiary.id, Assignment.ended_at.is_(None))
    ).one_or_none()


def _contact_cards_query():
    """(beneficiary, town, current assistant or None) for the beneficiaries in `:ids`."""
    village, town = aliased(Region), aliased(Region)
    return (
        select(Beneficiary, town, Staff)
        .join(village, village.id == Beneficiary.village_id)
        .join(town, town.id == village.parent_id)
        .outerjoin(Assignment, (Assignment.beneficiary_id == Beneficiary.id) & Assignment.ended_at.is_(None))
        .outerjoin(Staff, Staff.id == Assignment.staff_id)
        .where(Beneficiary.id.in_(bindparam("ids", expanding=True)))
    )


# Built once: the menu's "my assistant" asks for it on every click, and building a statement with
# joins and aliases costs more than running it.
_CONTACT_CARDS = _contact_cards_query()


def contact_cards(session: Session, beneficiary_ids: list[int]) -> list[tuple[Beneficiary, Region, Staff | None]]:
    """(beneficiary, town, current assistant or None) for each id, in the order given, in one query."""
    rows = session.execute(_CONTACT_CARDS, {"ids": beneficiary_ids}).all()
    by_id = {beneficiary.id: (beneficiary, town, staff) for beneficiary, town, staff in rows}
    return [by_id[i] for i in beneficiary_ids if i in by_id]


def assign_assistant(
    session: Session,
    beneficiary: Beneficiary,
    assistant: Staff,
    now: datetime,
    *,
    by: Staff | None = None,
    reason: str | None = None,
) -> Assignment:
    """Make `assistant` the one responsible for `beneficiary`, ending any earlier assignment."""
    if assistant.role != StaffRole.ASSISTANT.value or not assistant.active:
        raise RosterError("只能指派在岗的协理员")
    session.flush()
    previous = current_assignment(session, beneficiary)
    if previous is not None:
        if previous.staff_id == assistant.id:
            return previous
        previous.ended_at = now
        # The partial unique index allows one open row: close the old one first.
        session.flush()
    # The cards on the beneficiary's wall now show the wrong person (or nobody): mark them
    # outdated so the office knows to reprint.
    session.execute(
        update(CareCard)
        .where(CareCard.beneficiary_id == beneficiary.id, CareCard.outdated_at.is_(None))
        .values(outdated_at=now)
    )
    assignment = Assignment(
        beneficiary=beneficiary,
        staff=assistant,
        started_at=now,
        assigned_by_staff_id=by.id if by else None,
        reason=reason,
    )
    session.add(assignment)
    session.flush()
    return assignment
