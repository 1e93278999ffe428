"""Field rules shared by the admin API and spreadsheet imports: phones, codes, 工号, categories, roles.

Pure functions over plain strings. Each `*_error` returns a short Chinese reason, or None when
the value is fine; none of them ever repeats the value it was given.
"""

from __future__ import annotations

import re
import unicodedata

from models.enums import BeneficiaryCategory, RegionLevel, StaffRole

# Mainland mobile numbers, or a landline with its area code (0716-1234567).
PHONE_PATTERN = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-\d{7,8})$")
# 行政区划代码 are digits only.
REGION_CODE_PATTERN = re.compile(r"^\d{1,20}$")
# 工号 are typed in chat commands (`转派 12 A0031`), which upper-case them and split on spaces.
STAFF_NO_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")

MSG_BAD_PHONE = "应为11位手机号或带区号的座机号（如 0716-1234567）"
MSG_BAD_REGION_CODE = "应为数字（行政区划代码）"
MSG_BAD_STAFF_NO = "只能包含字母、数字和连字符，最长32位"

# Offices separate several categories with whichever mark their input method gives them.
CATEGORY_SEPARATORS = re.compile(r"[、,，;；\s]+")
# Names offices use in their own lists for the categories the software knows.
CATEGORY_ALIASES = {
    "低保户": BeneficiaryCategory.DIBAO,
    "低保对象": BeneficiaryCategory.DIBAO,
    "特困供养": BeneficiaryCategory.TEKUN,
    "特困人员": BeneficiaryCategory.TEKUN,
    "特困供养人员": BeneficiaryCategory.TEKUN,
    "五保": BeneficiaryCategory.TEKUN,
    "残疾": BeneficiaryCategory.DISABLED,
    "残疾人员": BeneficiaryCategory.DISABLED,
    "孤儿": BeneficiaryCategory.ORPHAN,
    "困境儿童": BeneficiaryCategory.ORPHAN,
}

# How roles are written in office spreadsheets (and the codes themselves, for round trips).
ROLE_LABELS = {
    StaffRole.ASSISTANT: "协理员",
    StaffRole.TOWN_OFFICER: "乡镇民政助理员",
    StaffRole.CITY_SUPERVISOR: "市级督办",
    StaffRole.ADMIN: "管理员",
    StaffRole.PROVINCE_ADMIN: "省级管理员",
}
ROLE_ALIASES = {
    "信息员": StaffRole.ASSISTANT,
    "民政协理员": StaffRole.ASSISTANT,
    "村（社区）民政协理员": StaffRole.ASSISTANT,
    "民政助理员": StaffRole.TOWN_OFFICER,
    "市级民政联络员": StaffRole.CITY_SUPERVISOR,
    "市级联络员": StaffRole.CITY_SUPERVISOR,
}
# The region level each role works at (the roster refuses any other).
ROLE_LEVEL = {
    StaffRole.ASSISTANT: RegionLevel.VILLAGE,
    StaffRole.TOWN_OFFICER: RegionLevel.TOWN,
    StaffRole.CITY_SUPERVISOR: RegionLevel.CITY,
    StaffRole.ADMIN: RegionLevel.CITY,
    StaffRole.PROVINCE_ADMIN: RegionLevel.PROVINCE,
}
LEVEL_LABELS = {RegionLevel.PROVINCE: "省级", RegionLevel.CITY: "市级", RegionLevel.TOWN: "乡镇（街道）", RegionLevel.VILLAGE: "村（社区）"}


def canonical(value: str | None) -> str:
    """Full-width digits, letters and punctuation folded to ASCII, all whitespace removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value or ""))


def normalize_phone(raw: str | None) -> str | None:
    """The phone in stored form (13800000000 or 0716-1234567), or None when it is not one."""
    value = canonical(raw)
    value = re.sub(r"^(?:\+86|0086)", "", value)
    mobile = value.replace("-", "")
    if re.fullmatch(r"1[3-9]\d{9}", mobile):
        return mobile
    # With a separator the area code is what precedes it.
    match = re.fullmatch(r"\(?(0\d{2,3})(?:\)-?|-)(\d{7,8})", value)
    if match:
        return f"{match.group(1)}-{match.group(2)}"
    if re.fullmatch(r"0\d{9,11}", value):
        # Written without a separator: Beijing (010) and 02x cities have 3-digit area codes,
        # every other area code has 4.
        split = 3 if value[1] in "12" else 4
        candidate = f"{value[:split]}-{value[split:]}"
        if PHONE_PATTERN.match(candidate):
            return candidate
    return None


def phone_error(raw: str | None) -> str | None:
    """Why this is not a mainland mobile or landline number, or None."""
    return None if normalize_phone(raw) else MSG_BAD_PHONE


def normalize_staff_no(raw: str | None) -> str:
    """A 工号 as the chat commands look it up: upper case, no spaces."""
    return canonical(raw).upper()


def staff_no_error(raw: str | None) -> str | None:
    """Why this is not a usable 工号, or None."""
    return None if STAFF_NO_PATTERN.match(normalize_staff_no(raw)) else MSG_BAD_STAFF_NO


def region_code_error(raw: str | None) -> str | None:
    """Why this is not an administrative division code, or None."""
    return None if REGION_CODE_PATTERN.match(canonical(raw)) else MSG_BAD_REGION_CODE


def parse_categories(raw: str | None) -> tuple[list[BeneficiaryCategory], list[str]]:
    """Categories named in one cell, in order and without repeats, and the words not recognised."""
    known = {c.value: c for c in BeneficiaryCategory}
    found: dict[BeneficiaryCategory, None] = {}
    unknown: list[str] = []
    for word in CATEGORY_SEPARATORS.split(unicodedata.normalize("NFKC", raw or "")):
        if not word:
            continue
        # NFKC turns the full-width slash of 孤儿／困境儿童 into "/", as the enum spells it.
        category = known.get(word) or CATEGORY_ALIASES.get(word)
        if category is None:
            unknown.append(word)
        else:
            found[category] = None
    return list(found), unknown


def parse_role(raw: str | None) -> StaffRole | None:
    """The role written in a cell (label, alias or code), or None when it is not one."""
    return _ROLE_LOOKUP.get(canonical(raw))


# Every spelling of every role, folded like the cells they are compared with.
_ROLE_LOOKUP = {
    **{canonical(label): role for role, label in ROLE_LABELS.items()},
    **{canonical(alias): role for alias, role in ROLE_ALIASES.items()},
    **{role.value: role for role in StaffRole},
}
