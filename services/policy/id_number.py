"""Resident ID numbers (GB 11643-1999): validation and masking, as pure functions."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def normalize(raw: str) -> str:
    """Strip spaces and upper-case the trailing x, as people type it both ways."""
    return re.sub(r"\s+", "", raw or "").upper()


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def validation_error(raw: str) -> str | None:
    """Why an ID number is invalid (in Chinese, for the user), or None when it is valid."""
    number = normalize(raw)
    if not _SHAPE.match(number):
        return "身份证号应为18位，最后一位可以是X"
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "身份证号中的出生日期不正确"
    if check_digit(number[:17]) != number[17]:
        return "身份证号校验位不对，请核对"
    return None


def is_valid(raw: str) -> bool:
    """True for a well-formed ID number with the right check digit."""
    return validation_error(raw) is None


def mask(raw: str) -> str:
    """Show only the region prefix and the last four characters."""
    number = normalize(raw)
    if len(number) < 8:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]
