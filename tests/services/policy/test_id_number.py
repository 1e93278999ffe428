"""GB 11643 ID numbers: check digit, dates, masking."""

from __future__ import annotations

import pytest

from services.policy import id_number


@pytest.mark.parametrize(
    "raw, error",
    [
        ("11010519491231002X", None),  # the standard's own example
        ("11010519491231002x", None),  # lower-case x is accepted
        ("110105 19491231 002X", None),  # spaces are ignored
        ("110105194912310021", "校验位"),
        ("11010519491331002X", "出生日期"),
        ("1101051949123100", "18位"),
        ("", "18位"),
    ],
)
def test_validation(raw, error):
    """Valid numbers pass; each kind of mistake gets its own message."""
    result = id_number.validation_error(raw)
    if error is None:
        assert result is None
    else:
        assert error in result


def test_check_digit_can_be_x():
    """The check character is X when the weighted sum leaves remainder 2."""
    assert id_number.check_digit("11010519491231002") == "X"


def test_mask_keeps_only_prefix_and_last_four():
    """Masking hides the birth date and sequence."""
    assert id_number.mask("11010519491231002X") == "110***********002X"
