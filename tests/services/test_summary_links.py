"""List links: signed for one recipient and one list, with the time the push was written; refused
when changed, signed with another key, or older than their lifetime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from config import policy
from services.summary_links import CASES, CITY_DIGEST, VISITS, LinkExpired, LinkInvalid, ListLinks, reference

NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
LINKS = ListLinks(secret_key="k" * 40, base_url="https://mz.example.cn/")


def test_a_link_names_its_recipient_kind_and_cases():
    """The URL is the base plus /m/list/ and a token that reads back as written."""
    url = LINKS.url(7, CASES, [12, 15], NOW)
    assert url.startswith("https://mz.example.cn/m/list/")
    listed = LINKS.read(url.rsplit("/", 1)[1], NOW + timedelta(days=1))
    assert (listed.staff_id, listed.kind, listed.ids, listed.day, listed.total) == (7, CASES, (12, 15), None, 2)
    assert listed.signed_at == NOW


def test_the_same_push_written_twice_has_the_same_link():
    """Signed with the push's time, not the wall clock: a job run twice writes an identical payload."""
    assert LINKS.token(7, VISITS, date(2026, 12, 1), NOW) == LINKS.token(7, VISITS, date(2026, 12, 1), NOW)
    assert LINKS.token(7, VISITS, date(2026, 12, 1), NOW) != LINKS.token(7, VISITS, date(2026, 12, 1),
                                                                          NOW + timedelta(seconds=1))


def test_a_day_list_reads_back_its_day():
    """A digest covers a date."""
    token = LINKS.token(3, CITY_DIGEST, date(2026, 12, 7), NOW)
    assert LINKS.read(token, NOW).day == date(2026, 12, 7)


def test_a_changed_token_is_refused():
    """Another recipient, another list, a character changed or another key: not ours."""
    token = LINKS.token(7, CASES, [12], NOW)
    _, stamp, signature = token.split(".")
    other_payload = LINKS.token(8, CASES, [12], NOW).split(".")[0]
    for forged in (f"{other_payload}.{stamp}.{signature}", token[:-1] + ("A" if token[-1] != "A" else "B"),
                   "", "abc", "a.b.c", token + "x"):
        with pytest.raises(LinkInvalid):
            LINKS.read(forged, NOW)
    with pytest.raises(LinkInvalid):
        ListLinks(secret_key="z" * 40, base_url="https://x").read(token, NOW)


def test_a_link_expires_after_its_lifetime():
    """Valid until the last second of its days; then expired, which is not the same as invalid."""
    token = LINKS.token(7, CASES, [12], NOW)
    lifetime = timedelta(days=policy.MOBILE_LIST_DAYS)
    assert LINKS.read(token, NOW + lifetime).ids == (12,)
    with pytest.raises(LinkExpired):
        LINKS.read(token, NOW + lifetime + timedelta(seconds=1))


def test_a_changed_expired_token_is_invalid_not_expired():
    """The signature is checked before the age: a forged old token is simply not ours."""
    token = LINKS.token(7, CASES, [12], NOW)
    with pytest.raises(LinkInvalid) as refused:
        LINKS.read(token[:-2] + "xx", NOW + timedelta(days=30))
    assert not isinstance(refused.value, LinkExpired)


def test_a_long_list_keeps_the_first_ids_and_the_count():
    """A link names at most MOBILE_LIST_MAX_ITEMS ids; the page says how many more there were."""
    ids = list(range(1, policy.MOBILE_LIST_MAX_ITEMS + 31))
    listed = LINKS.read(LINKS.token(7, CASES, ids, NOW), NOW)
    assert listed.ids == tuple(ids[: policy.MOBILE_LIST_MAX_ITEMS]) and listed.total == len(ids)


@pytest.mark.parametrize("kind, covers", [(CASES, date(2026, 12, 1)), (CITY_DIGEST, [1]), (CASES, [])])
def test_a_list_covers_what_its_kind_covers(kind, covers):
    """Cases cover ids, digests a date, and a list is never empty."""
    with pytest.raises(ValueError):
        LINKS.token(7, kind, covers, NOW)


@pytest.mark.parametrize(
    "kind, ids, day, expected",
    [
        (CASES, [12, 15], None, "12,15"),
        (CASES, list(range(1000, 1020)), None, "1000,1001,1002,1003,1004,1005+14"),
        (VISITS, [], date(2026, 12, 7), "ZF20261207"),
        (VISITS, [4, 5], date(2026, 12, 7), "CQ20261207"),
        ("town-digest", [], date(2026, 12, 7), "RB20261207"),
        (CITY_DIGEST, [], date(2026, 12, 7), "ZB20261207"),
    ],
)
def test_a_list_reference_fits_a_character_string(kind, ids, day, expected):
    """编号: case numbers, or a prefix and the day; at most 32 letters, digits and symbols."""
    assert reference(kind, ids=ids, day=day) == expected
    assert len(expected) <= 32 and expected.isascii()
