"""The slice of the database a file refers to, loaded in a few chunked queries for the pure checks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from models import Assignment, Beneficiary, BeneficiaryCategoryLink, Region, Staff
from models.enums import RegionLevel
from services.imports.validate import (
    BeneficiaryFields,
    BeneficiaryRefs,
    BeneficiaryState,
    RegionRef,
    StaffFields,
    StaffRef,
    StaffRefs,
)
from services.policy import validate as rules

# Rows per IN (...) lookup and per flush while writing.
CHUNK = 500


def chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    """Slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _region_refs(session: Session, *conditions) -> list[RegionRef]:
    """The regions matching `conditions`, as the checks see them."""
    rows = session.execute(
        select(Region.id, Region.code, Region.name, Region.level, Region.parent_id).where(*conditions)
    )
    return [RegionRef(*row) for row in rows]


def _regions_by_code(session: Session, codes: Iterable[str]) -> dict[str, RegionRef]:
    """Regions by code, for the codes given."""
    found = {}
    for chunk in chunks(sorted(set(codes))):
        found.update((r.code, r) for r in _region_refs(session, Region.code.in_(chunk)))
    return found


def _staff_by_no(session: Session, numbers: Iterable[str], *, with_caseload: bool = False) -> dict[str, StaffRef]:
    """Staff by 工号, with their region's name (and how many beneficiaries they hold, if asked)."""
    place = aliased(Region)
    found: dict[str, StaffRef] = {}
    for chunk in chunks(sorted(set(numbers))):
        caseload = {}
        rows = session.execute(
            select(Staff.id, Staff.staff_no, Staff.name, Staff.phone, Staff.role, Staff.active, Staff.region_id,
                   place.name)
            .join(place, place.id == Staff.region_id)
            .where(Staff.staff_no.in_(chunk))
        ).all()
        if with_caseload and rows:
            caseload = dict(session.execute(
                select(Assignment.staff_id, func.count())
                .where(Assignment.staff_id.in_([r[0] for r in rows]), Assignment.ended_at.is_(None))
                .group_by(Assignment.staff_id)
            ).all())
        for row in rows:
            found[row[1]] = StaffRef(*row, caseload=caseload.get(row[0], 0))
    return found


def _existing_beneficiaries(session: Session, hashes: Iterable[str]) -> dict[str, BeneficiaryState]:
    """The stored beneficiaries whose ID-number hash appears in the file."""
    found = {}
    for chunk in chunks(sorted(set(hashes))):
        rows = session.execute(
            select(Beneficiary.id, Beneficiary.id_number_hash, Beneficiary.name, Beneficiary.phone,
                   Beneficiary.address, Beneficiary.village_id, Beneficiary.lives_alone, Beneficiary.checkin_plan,
                   Beneficiary.checkin_plan_by_staff)
            .where(Beneficiary.id_number_hash.in_(chunk))
        ).all()
        if not rows:
            continue
        ids = [r[0] for r in rows]
        categories = defaultdict(set)
        for beneficiary_id, category in session.execute(
            select(BeneficiaryCategoryLink.beneficiary_id, BeneficiaryCategoryLink.category)
            .where(BeneficiaryCategoryLink.beneficiary_id.in_(ids))
        ):
            categories[beneficiary_id].add(category)
        assistants = dict(session.execute(
            select(Assignment.beneficiary_id, Assignment.staff_id)
            .where(Assignment.beneficiary_id.in_(ids), Assignment.ended_at.is_(None))
        ).all())
        for beneficiary_id, digest, name, phone, address, village_id, alone, plan, by_staff in rows:
            found[digest] = BeneficiaryState(
                beneficiary_id, name, phone, address, village_id,
                frozenset(categories[beneficiary_id]), assistants.get(beneficiary_id),
                bool(alone), plan, bool(by_staff),
            )
    return found


def load_beneficiary_refs(session: Session, rows: Iterable[tuple[BeneficiaryFields, str]]) -> BeneficiaryRefs:
    """Load, in a few queries, the regions, staff and beneficiaries the checked rows mention."""
    rows = list(rows)
    names = {rules.canonical(f.village_name) for f, _ in rows if f.village_code is None}
    villages_by_name: dict[str, list[RegionRef]] = defaultdict(list)
    if names:
        # Names are compared folded; a city has a few hundred villages, so fold them here.
        for region in _region_refs(session, Region.level == RegionLevel.VILLAGE.value):
            key = rules.canonical(region.name)
            if key in names:
                villages_by_name[key].append(region)
    return BeneficiaryRefs(
        regions_by_code=_regions_by_code(session, (f.village_code for f, _ in rows if f.village_code)),
        villages_by_name=dict(villages_by_name),
        staff_by_no=_staff_by_no(session, (f.assistant_no for f, _ in rows if f.assistant_no)),
        existing_by_hash=_existing_beneficiaries(session, (h for _, h in rows)),
    )


def load_staff_refs(session: Session, fields: Iterable[StaffFields]) -> StaffRefs:
    """Load the regions and staff the checked staff rows mention (with each assistant's caseload)."""
    fields = list(fields)
    return StaffRefs(
        regions_by_code=_regions_by_code(session, (f.region_code for f in fields)),
        staff_by_no=_staff_by_no(session, (f.staff_no for f in fields), with_caseload=True),
    )
