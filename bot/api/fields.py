"""Annotated pydantic field types that apply the admin API's field rules with its Chinese messages."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from bot.api.errors import (
    MSG_BAD_PHONE,
    MSG_BAD_TIME,
    MSG_BAD_REGION_CODE,
    MSG_BAD_STAFF_NO,
    MSG_CATEGORIES,
    MSG_NOT_BOOL,
    MSG_NOT_ONE_OF,
    MSG_NOT_TEXT,
    MSG_PAGE,
    MSG_PER_PAGE,
    MSG_REQUIRED,
    MSG_TOO_LONG,
    MSG_UNREADABLE,
)
from bot.inputs import plausible, whole_number
from models.enums import BeneficiaryCategory
from services.listing import DEFAULT_PER_PAGE, MAX_PER_PAGE
from services.policy import id_number
from services.policy.validate import PHONE_PATTERN, REGION_CODE_PATTERN, STAFF_NO_PATTERN

# The document shows what a client may send; the validators below enforce the same constants.
PHONE_DOC_PATTERN = PHONE_PATTERN.pattern
REGION_CODE_DOC_PATTERN = REGION_CODE_PATTERN.pattern
# 工号 may be sent in lower case; they are stored upper-cased.
STAFF_NO_DOC_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
# Past any real list, and (page - 1) * per_page stays far inside the database's OFFSET.
MAX_PAGE = 1_000_000


def refuse(field: str, message: str) -> PydanticCustomError:
    """A validation error carrying the field at fault and its Chinese message (see spec.first_error)."""
    return PydanticCustomError("invalid", "{message}", {"field": field, "message": message})


def _is_blank(value: Any) -> bool:
    """None or a string of whitespace: both count as missing."""
    return value is None or (isinstance(value, str) and not value.strip())


def _storable(text: str, field: str) -> str:
    """`text`, unless the database cannot store it: a NUL byte, or half a UTF-16 pair (JSON's "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse(field, MSG_UNREADABLE.format(field=field)) from None
    if "\x00" in text:
        raise refuse(field, MSG_UNREADABLE.format(field=field))
    return text


def _encodable(value: Any) -> bool:
    """False when a string anywhere in a JSON value holds half a UTF-16 pair (walked without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def unencodable_field(body: Any) -> str | None:
    """The top-level field of a JSON body that no UTF-8 text can hold (spectree's own error would fail on it)."""
    if not isinstance(body, dict):
        return None
    for key, value in body.items():
        if not (_encodable(key) and _encodable(value)):
            return key if _encodable(key) else "body"
    return None


def check_text(value: Any, field: str, max_len: int, required: bool) -> str | None:
    """A trimmed string; blank counts as missing."""
    if _is_blank(value):
        if required:
            raise refuse(field, MSG_REQUIRED.format(field=field))
        return None
    if not isinstance(value, str):
        raise refuse(field, MSG_NOT_TEXT.format(field=field))
    value = _storable(value, field).strip()
    if len(value) > max_len:
        raise refuse(field, MSG_TOO_LONG.format(field=field, max_len=max_len))
    return value


def _text_rule(max_len: int, required: bool):
    """The text check bound to a length and to whether the field is required."""

    def check(value: Any, info: ValidationInfo) -> str | None:
        """Apply check_text under the field's own name."""
        return check_text(value, info.field_name, max_len, required)

    return check


def _phone_rule(required: bool):
    """A mainland mobile or landline number, spaces removed."""

    def check(value: Any, info: ValidationInfo) -> str | None:
        """Trim, drop inner spaces, then match the stored form."""
        field = info.field_name
        text = check_text(value, field, 32, required)
        if text is None:
            return None
        text = re.sub(r"\s+", "", text)
        if not PHONE_PATTERN.match(text):
            raise refuse(field, MSG_BAD_PHONE.format(field=field))
        return text

    return check


def _region_code_rule(required: bool):
    """An administrative division code: digits only."""

    def check(value: Any, info: ValidationInfo) -> str | None:
        """Trim, then require digits."""
        text = check_text(value, info.field_name, 20, required)
        if text is not None and not REGION_CODE_PATTERN.match(text):
            raise refuse(info.field_name, MSG_BAD_REGION_CODE)
        return text

    return check


def _staff_no_rule(required: bool):
    """A 工号, upper-cased as the chat commands look it up."""

    def check(value: Any, info: ValidationInfo) -> str | None:
        """Trim, upper-case, then match the 工号 pattern."""
        text = check_text(value, info.field_name, 32, required)
        if text is None:
            return None
        text = text.upper()
        if not STAFF_NO_PATTERN.match(text):
            raise refuse(info.field_name, MSG_BAD_STAFF_NO)
        return text

    return check


def _id_number_rule(value: Any, info: ValidationInfo) -> str | None:
    """An optional resident ID number with a valid check digit, kept as typed (trimmed)."""
    text = check_text(value, info.field_name, 32, required=False)
    if text is not None:
        error = id_number.validation_error(text)
        if error:
            # The message describes what is wrong without repeating the number.
            raise refuse(info.field_name, error)
    return text


def _categories_rule(value: Any, info: ValidationInfo) -> list[BeneficiaryCategory]:
    """One or more beneficiary categories, duplicates dropped."""
    allowed = {c.value for c in BeneficiaryCategory}
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item in allowed for item in value)
    ):
        raise refuse(info.field_name, MSG_CATEGORIES.format(choices="、".join(sorted(allowed))))
    return [BeneficiaryCategory(item) for item in dict.fromkeys(value)]


def _json_bool_rule(default: bool):
    """A real JSON boolean (not a string or number that looks like one); null means the default."""

    def check(value: Any, info: ValidationInfo) -> bool:
        """Refuse anything but true, false or null."""
        if value is None:
            return default
        if not isinstance(value, bool):
            raise refuse(info.field_name, MSG_NOT_BOOL.format(field=info.field_name))
        return value

    return check


def _choices(enum: type[StrEnum]) -> str:
    """An enum's values as the message lists them."""
    return "、".join(m.value for m in enum)


def _body_choice_rule(enum: type[StrEnum]):
    """A required value of a fixed vocabulary in a JSON body (compared as sent, untrimmed)."""

    def check(value: Any, info: ValidationInfo) -> StrEnum:
        """Refuse null, "" and anything outside the vocabulary."""
        field = info.field_name
        if value is None or value == "":
            raise refuse(field, MSG_REQUIRED.format(field=field))
        if not isinstance(value, str) or value not in {m.value for m in enum}:
            raise refuse(field, MSG_NOT_ONE_OF.format(field=field, choices=_choices(enum)))
        return enum(value)

    return check


def _optional_body_choice_rule(enum: type[StrEnum]):
    """An optional value of a fixed vocabulary in a JSON body: null (or absent) is None."""

    def check(value: Any, info: ValidationInfo) -> StrEnum | None:
        """None for null; refuse anything outside the vocabulary."""
        if value is None:
            return None
        if not isinstance(value, str) or value not in {m.value for m in enum}:
            raise refuse(info.field_name, MSG_NOT_ONE_OF.format(field=info.field_name, choices=_choices(enum)))
        return enum(value)

    return check


def _aware_time(value: Any, field: str) -> datetime:
    """An ISO 8601 date and time with its offset (a naive time would be read in the wrong zone)."""
    try:
        moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not plausible(moment):
        raise refuse(field, MSG_BAD_TIME.format(field=field))
    return moment


def _aware_time_rule(value: Any, info: ValidationInfo) -> datetime:
    """A required date and time with offset."""
    if _is_blank(value):
        raise refuse(info.field_name, MSG_REQUIRED.format(field=info.field_name))
    return _aware_time(value, info.field_name)


# --- query strings ----------------------------------------------------------------------------------


def _query_value(value: Any, field: str) -> str | None:
    """A query parameter trimmed; empty counts as absent, and a repeated one counts once (the first)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    return _storable(str(value), field).strip() or None


def _query_text(value: Any, info: ValidationInfo) -> str | None:
    """A free-text filter (a code), trimmed."""
    return _query_value(value, info.field_name)


def _query_staff_no(value: Any, info: ValidationInfo) -> str | None:
    """A 工号 filter, upper-cased like the stored ones."""
    text = _query_value(value, info.field_name)
    return text.upper() if text else None


def _query_choice_rule(enum: type[StrEnum]):
    """An optional filter from a fixed vocabulary."""

    def check(value: Any, info: ValidationInfo) -> StrEnum | None:
        """Absent or empty is no filter; anything outside the vocabulary is refused."""
        text = _query_value(value, info.field_name)
        if text is None:
            return None
        if text not in {m.value for m in enum}:
            raise refuse(info.field_name, MSG_NOT_ONE_OF.format(field=info.field_name, choices=_choices(enum)))
        return enum(text)

    return check


def _query_time(value: Any, info: ValidationInfo) -> datetime | None:
    """An optional date and time with offset (write `+` as %2B in a URL)."""
    text = _query_value(value, info.field_name)
    return None if text is None else _aware_time(text, info.field_name)


def _query_bool(value: Any, info: ValidationInfo) -> bool | None:
    """true/false/1/0 in any case, or None when absent."""
    text = _query_value(value, info.field_name)
    if text is None:
        return None
    lowered = text.lower()
    if lowered not in {"true", "false", "1", "0"}:
        raise refuse(info.field_name, MSG_NOT_BOOL.format(field=info.field_name))
    return lowered in {"true", "1"}


def _page(value: Any, info: ValidationInfo) -> int:
    """`page`, from 1 to MAX_PAGE, in ASCII digits (not "²")."""
    number = whole_number(_query_value(value, info.field_name) or "1", MAX_PAGE)
    if number is None:
        raise refuse(info.field_name, MSG_PAGE.format(max=MAX_PAGE))
    return number


def _per_page(value: Any, info: ValidationInfo) -> int:
    """`per_page`, from 1 to MAX_PER_PAGE."""
    number = whole_number(_query_value(value, info.field_name) or str(DEFAULT_PER_PAGE), MAX_PER_PAGE)
    if number is None:
        raise refuse(info.field_name, MSG_PER_PAGE.format(max=MAX_PER_PAGE))
    return number


# --- the types the schemas use ----------------------------------------------------------------------
# Limits sit on the inner type so that they also apply (and are documented) where null is allowed.
# They never fire on their own: each rule has already enforced the same limit with our message.


def _rule_type(inner: Any, rule: Any, required: bool) -> Any:
    """`inner` (or null when optional) checked first by `rule`."""
    return Annotated[inner if required else inner | None, BeforeValidator(rule)]


def text(max_len: int, *, required: bool = True) -> Any:
    """A trimmed text field of at most `max_len` characters."""
    return _rule_type(Annotated[str, Field(max_length=max_len)], _text_rule(max_len, required), required)


def one_of(enum: type[StrEnum]) -> Any:
    """A required body field from a fixed vocabulary."""
    return Annotated[enum, BeforeValidator(_body_choice_rule(enum))]


def optional_one_of(enum: type[StrEnum]) -> Any:
    """An optional body field from a fixed vocabulary; null or absent is None."""
    return Annotated[enum | None, BeforeValidator(_optional_body_choice_rule(enum))]


def optional_json_bool() -> Any:
    """A body flag that must be a JSON boolean when given; null or absent is None (leave as is)."""
    return Annotated[bool | None, BeforeValidator(_json_bool_rule(None))]


def json_bool(default: bool) -> Any:
    """A body flag that must be a JSON boolean; null means `default`."""
    return Annotated[bool, BeforeValidator(_json_bool_rule(default))]


def query_choice(enum: type[StrEnum]) -> Any:
    """An optional query filter from a fixed vocabulary."""
    return Annotated[enum | None, BeforeValidator(_query_choice_rule(enum))]


_PhoneText = Annotated[str, Field(pattern=PHONE_DOC_PATTERN)]
Phone = _rule_type(_PhoneText, _phone_rule(True), True)
OptionalPhone = _rule_type(_PhoneText, _phone_rule(False), False)
_RegionCodeText = Annotated[str, Field(pattern=REGION_CODE_DOC_PATTERN, max_length=20)]
RegionCode = _rule_type(_RegionCodeText, _region_code_rule(True), True)
OptionalRegionCode = _rule_type(_RegionCodeText, _region_code_rule(False), False)
_StaffNoText = Annotated[str, Field(pattern=STAFF_NO_DOC_PATTERN, max_length=32)]
StaffNo = _rule_type(_StaffNoText, _staff_no_rule(True), True)
OptionalStaffNo = _rule_type(_StaffNoText, _staff_no_rule(False), False)
IdNumber = _rule_type(Annotated[str, Field(max_length=32)], _id_number_rule, False)
Categories = Annotated[Annotated[list[BeneficiaryCategory], Field(min_length=1)], BeforeValidator(_categories_rule)]

QueryText = Annotated[str | None, BeforeValidator(_query_text)]
QueryStaffNo = Annotated[str | None, BeforeValidator(_query_staff_no)]
QueryBool = Annotated[bool | None, BeforeValidator(_query_bool)]
AwareTime = Annotated[datetime, BeforeValidator(_aware_time_rule)]
QueryTime = Annotated[datetime | None, BeforeValidator(_query_time)]
Page = Annotated[Annotated[int, Field(ge=1, le=MAX_PAGE)], BeforeValidator(_page)]
PerPage = Annotated[Annotated[int, Field(ge=1, le=MAX_PER_PAGE)], BeforeValidator(_per_page)]
