"""Checks of single rows, pure: each cell on its own, then the row against a snapshot of the database.

`parse_*_cells` turn a row's text into normalised fields or messages; `resolve_*` compare those
fields with the `*Refs` snapshot (loaded by `snapshot`) and plan a create, update or nothing.
Nothing here touches the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.enums import BeneficiaryCategory, RegionLevel, StaffRole
from services.imports.columns import CATEGORY_CHOICES, PLAN_CHOICES, ROLE_CHOICES, YES_NO, level_label
from services.imports.report import CREATE, UNCHANGED, UPDATE, RowResult
from services.imports.wording import (
    MSG_ASSISTANT_ELSEWHERE,
    MSG_ASSISTANT_INACTIVE,
    MSG_ASSISTANT_NOT_ASSISTANT,
    MSG_ASSISTANT_UNKNOWN,
    MSG_CHECKIN_PLAN,
    MSG_FIELD,
    MSG_ID_AS_NUMBER,
    MSG_LIVES_ALONE,
    MSG_MOVED_WITHOUT_ASSISTANT,
    MSG_NOT_A_VILLAGE,
    MSG_REGION_UNKNOWN,
    MSG_REQUIRED,
    MSG_ROLE,
    MSG_ROLE_LEVEL,
    MSG_STAFF_HAS_CASELOAD,
    MSG_TOO_LONG,
    MSG_UNKNOWN_CATEGORY,
    MSG_VILLAGE_AMBIGUOUS,
    MSG_VILLAGE_MISMATCH,
    MSG_VILLAGE_REQUIRED,
    MSG_VILLAGE_UNKNOWN_CODE,
    MSG_VILLAGE_UNKNOWN_NAME,
)
from services.policy import id_number
from services.policy.commands import CHECKIN_PLAN_WORDS
from services.policy import validate as rules

EXAMPLE_PREFIX = "示例"


def is_example(cells: dict[str, str]) -> bool:
    """The template's example row (its name starts with 示例)."""
    return cells.get("name", "").startswith(EXAMPLE_PREFIX)


def _text(cells: dict[str, str], key: str, label: str, max_len: int, messages: list[str],
          required: bool = False) -> str | None:
    """A trimmed text cell, or None when blank; records a message when required or too long."""
    value = (cells.get(key) or "").strip()
    if not value:
        if required:
            messages.append(MSG_REQUIRED.format(field=label))
        return None
    if len(value) > max_len:
        messages.append(MSG_TOO_LONG.format(field=label, max=max_len))
        return None
    return value


def _phone(cells: dict[str, str], messages: list[str], required: bool) -> str | None:
    """A normalised phone, or None (with a message when required or malformed)."""
    raw = (cells.get("phone") or "").strip()
    if not raw:
        if required:
            messages.append(MSG_REQUIRED.format(field="联系电话"))
        return None
    phone = rules.normalize_phone(raw)
    if phone is None:
        messages.append(MSG_FIELD.format(field="联系电话", problem=rules.MSG_BAD_PHONE))
    return phone


def mark_duplicates(results: Sequence[RowResult], keys: Sequence[str | None], message: str) -> None:
    """Fail every row sharing a key with another row, naming the other rows."""
    rows_by_key: dict[str, list[RowResult]] = defaultdict(list)
    for result, key in zip(results, keys, strict=True):
        if key is not None:
            rows_by_key[key].append(result)
    for group in rows_by_key.values():
        if len(group) > 1:
            for result in group:
                others = "、".join(str(o.row) for o in group if o is not result)
                result.error(message.format(rows=others))


# --- beneficiaries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BeneficiaryFields:
    """One beneficiary row's values, each checked on its own and normalised."""

    name: str
    id_number: str
    phone: str | None
    categories: tuple[str, ...]
    village_code: str | None
    village_name: str | None
    address: str | None
    assistant_no: str | None
    # Blank cells (None) keep what is stored: living alone as it was, the plan as staff or the default set it.
    lives_alone: bool | None = None
    checkin_plan: str | None = None


def parse_beneficiary_cells(cells: dict[str, str], imprecise: Iterable[str] = ()) -> tuple[
    BeneficiaryFields | None, list[str]
]:
    """Check one row's cells (keyed by column key) on their own; the values, or the reasons not."""
    messages: list[str] = []
    name = _text(cells, "name", "姓名", 64, messages, required=True)

    raw_id = id_number.normalize(cells.get("id_number", ""))
    number = None
    if not raw_id:
        messages.append(MSG_REQUIRED.format(field="身份证号"))
    elif "id_number" in imprecise or "E+" in raw_id or "." in raw_id:
        messages.append(MSG_ID_AS_NUMBER)
    else:
        problem = id_number.validation_error(raw_id)
        if problem:
            # The validator's message never repeats the number; keep it that way here.
            messages.append(MSG_FIELD.format(field="身份证号", problem=problem))
        else:
            number = raw_id

    phone = _phone(cells, messages, required=False)

    categories: list[BeneficiaryCategory] = []
    if not (cells.get("categories") or "").strip():
        messages.append(MSG_REQUIRED.format(field="对象类别"))
    else:
        categories, unknown = rules.parse_categories(cells["categories"])
        if unknown:
            messages.append(MSG_UNKNOWN_CATEGORY.format(words="、".join(unknown), allowed=CATEGORY_CHOICES))
        elif not categories:
            messages.append(MSG_REQUIRED.format(field="对象类别"))

    village_code = rules.canonical(cells.get("village_code")) or None
    village_name = (cells.get("village_name") or "").strip() or None
    # Codes are only looked up, not shape-checked: "not found" is the message that helps.
    if village_code is None and village_name is None:
        messages.append(MSG_VILLAGE_REQUIRED)

    address = _text(cells, "address", "家庭住址", 255, messages)

    assistant_no = rules.normalize_staff_no(cells.get("assistant_no")) or None
    if assistant_no is not None and rules.staff_no_error(assistant_no):
        messages.append(MSG_FIELD.format(field="协理员工号", problem=rules.MSG_BAD_STAFF_NO))

    lives_alone = _lives_alone(cells, messages)
    checkin_plan = _checkin_plan(cells, messages)

    if messages:
        return None, messages
    return BeneficiaryFields(
        name=name, id_number=number, phone=phone, categories=tuple(sorted(c.value for c in categories)),
        village_code=village_code, village_name=village_name, address=address, assistant_no=assistant_no,
        lives_alone=lives_alone, checkin_plan=checkin_plan,
    ), []


def _lives_alone(cells: dict[str, str], messages: list[str]) -> bool | None:
    """独居: 是 or 否; None when blank (with a message when it is neither)."""
    raw = rules.canonical(cells.get("lives_alone"))
    if not raw:
        return None
    if raw not in YES_NO:
        messages.append(MSG_LIVES_ALONE.format(value=raw[:10]))
        return None
    return YES_NO[raw]


def _checkin_plan(cells: dict[str, str], messages: list[str]) -> str | None:
    """平安计划: 每天, 每周 or 关闭 (a CheckinPlan value); None when blank (with a message when unknown)."""
    raw = rules.canonical(cells.get("checkin_plan"))
    if not raw:
        return None
    plan = CHECKIN_PLAN_WORDS.get(raw)
    if plan is None:
        messages.append(MSG_CHECKIN_PLAN.format(allowed=PLAN_CHOICES, value=raw[:10]))
    return plan


@dataclass(frozen=True)
class RegionRef:
    """What the checks need to know about a region."""

    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


@dataclass(frozen=True)
class StaffRef:
    """What the checks need to know about a member of staff."""

    id: int
    staff_no: str
    name: str
    phone: str
    role: str
    active: bool
    region_id: int
    region_name: str
    caseload: int = 0


@dataclass(frozen=True)
class BeneficiaryState:
    """A stored beneficiary as the import compares it with a row."""

    id: int
    name: str
    phone: str | None
    address: str | None
    village_id: int
    categories: frozenset[str]
    assistant_id: int | None
    lives_alone: bool = False
    checkin_plan: str = "off"
    checkin_plan_by_staff: bool = False


@dataclass
class BeneficiaryRefs:
    """The slice of the database one beneficiary file refers to."""

    regions_by_code: dict[str, RegionRef]
    villages_by_name: dict[str, list[RegionRef]]
    staff_by_no: dict[str, StaffRef]
    existing_by_hash: dict[str, BeneficiaryState]


@dataclass(frozen=True)
class BeneficiaryPlan:
    """What applying a good row does: create, or update the stored beneficiary `existing`."""

    fields: BeneficiaryFields
    id_hash: str
    village_id: int
    assistant_id: int | None
    existing: BeneficiaryState | None


def resolve_beneficiary(fields: BeneficiaryFields, id_hash: str, refs: BeneficiaryRefs) -> tuple[
    BeneficiaryPlan | None, str | None, list[str]
]:
    """Check a row against the database snapshot: the plan and action, or the reasons not."""
    messages: list[str] = []
    village = None
    if fields.village_code is not None:
        region = refs.regions_by_code.get(fields.village_code)
        if region is None:
            messages.append(MSG_VILLAGE_UNKNOWN_CODE)
        elif region.level != RegionLevel.VILLAGE.value:
            messages.append(MSG_NOT_A_VILLAGE.format(name=region.name, level=level_label(region.level)))
        elif fields.village_name is not None and rules.canonical(fields.village_name) != rules.canonical(region.name):
            messages.append(MSG_VILLAGE_MISMATCH.format(by_code=region.name, name=fields.village_name))
        else:
            village = region
    else:
        matches = refs.villages_by_name.get(rules.canonical(fields.village_name), [])
        if not matches:
            messages.append(MSG_VILLAGE_UNKNOWN_NAME.format(name=fields.village_name))
        elif len(matches) > 1:
            messages.append(MSG_VILLAGE_AMBIGUOUS.format(count=len(matches), name=fields.village_name))
        else:
            village = matches[0]

    assistant = None
    if fields.assistant_no is not None:
        staff = refs.staff_by_no.get(fields.assistant_no)
        if staff is None:
            messages.append(MSG_ASSISTANT_UNKNOWN.format(no=fields.assistant_no))
        elif staff.role != StaffRole.ASSISTANT.value:
            messages.append(MSG_ASSISTANT_NOT_ASSISTANT.format(
                no=staff.staff_no, role=rules.ROLE_LABELS[StaffRole(staff.role)]))
        elif not staff.active:
            messages.append(MSG_ASSISTANT_INACTIVE.format(no=staff.staff_no, name=staff.name))
        elif village is not None and staff.region_id != village.id:
            messages.append(MSG_ASSISTANT_ELSEWHERE.format(
                no=staff.staff_no, name=staff.name, where=staff.region_name, village=village.name))
        else:
            assistant = staff
    if messages:
        return None, None, messages

    existing = refs.existing_by_hash.get(id_hash)
    if (existing is not None and existing.village_id != village.id and existing.assistant_id is not None
            and assistant is None):
        # The current assistant works in the old village: moving without a new one strands the person.
        return None, None, [MSG_MOVED_WITHOUT_ASSISTANT]
    plan = BeneficiaryPlan(fields, id_hash, village.id, assistant.id if assistant else None, existing)
    return plan, _beneficiary_action(plan), []


def _beneficiary_action(plan: BeneficiaryPlan) -> str:
    """create, update or unchanged; blank optional cells keep what is stored."""
    old, new = plan.existing, plan.fields
    if old is None:
        return CREATE
    same = (
        old.name == new.name
        and (new.phone is None or new.phone == old.phone)
        and (new.address is None or new.address == old.address)
        and old.village_id == plan.village_id
        and old.categories == frozenset(new.categories)
        and (plan.assistant_id is None or plan.assistant_id == old.assistant_id)
        and (new.lives_alone is None or new.lives_alone == old.lives_alone)
        and (new.checkin_plan is None or (old.checkin_plan_by_staff and new.checkin_plan == old.checkin_plan))
    )
    return UNCHANGED if same else UPDATE


# --- staff ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffFields:
    """One staff row's values, each checked on its own and normalised."""

    staff_no: str
    name: str
    phone: str
    role: StaffRole
    region_code: str


@dataclass(frozen=True)
class StaffPlan:
    """What applying a good staff row does: create, or update the stored member `existing`."""

    fields: StaffFields
    region_id: int
    existing: StaffRef | None


@dataclass
class StaffRefs:
    """The slice of the database one staff file refers to."""

    regions_by_code: dict[str, RegionRef]
    staff_by_no: dict[str, StaffRef]


def parse_staff_cells(cells: dict[str, str]) -> tuple[StaffFields | None, list[str]]:
    """Check one staff row's cells (keyed by column key) on their own."""
    messages: list[str] = []
    staff_no = rules.normalize_staff_no(cells.get("staff_no"))
    if not staff_no:
        messages.append(MSG_REQUIRED.format(field="工号"))
    elif rules.staff_no_error(staff_no):
        messages.append(MSG_FIELD.format(field="工号", problem=rules.MSG_BAD_STAFF_NO))
    name = _text(cells, "name", "姓名", 64, messages, required=True)
    phone = _phone(cells, messages, required=True)
    role = None
    if not (cells.get("role") or "").strip():
        messages.append(MSG_REQUIRED.format(field="角色"))
    else:
        role = rules.parse_role(cells["role"])
        if role is None:
            messages.append(MSG_ROLE.format(allowed=ROLE_CHOICES))
    region_code = rules.canonical(cells.get("region_code"))
    if not region_code:
        messages.append(MSG_REQUIRED.format(field="所属区域代码"))
    if messages:
        return None, messages
    return StaffFields(staff_no, name, phone, role, region_code), []


def resolve_staff(fields: StaffFields, refs: StaffRefs) -> tuple[StaffPlan | None, str | None, list[str]]:
    """Check a staff row against the database snapshot: the plan and action, or the reasons not."""
    region = refs.regions_by_code.get(fields.region_code)
    if region is None:
        return None, None, [MSG_REGION_UNKNOWN]
    wanted_level = rules.ROLE_LEVEL[fields.role]
    if region.level != wanted_level.value:
        return None, None, [MSG_ROLE_LEVEL.format(
            role=rules.ROLE_LABELS[fields.role], level=rules.LEVEL_LABELS[wanted_level],
            name=region.name, actual=level_label(region.level))]
    existing = refs.staff_by_no.get(fields.staff_no)
    if existing is None:
        return StaffPlan(fields, region.id, None), CREATE, []
    moves = existing.role != fields.role.value or existing.region_id != region.id
    if moves and existing.caseload:
        # Their beneficiaries would be left with an assistant outside their village.
        return None, None, [MSG_STAFF_HAS_CASELOAD.format(count=existing.caseload)]
    same = not moves and existing.name == fields.name and existing.phone == fields.phone
    return StaffPlan(fields, region.id, existing), (UNCHANGED if same else UPDATE), []
