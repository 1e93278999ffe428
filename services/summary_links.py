"""Signed, expiring links to a summary's whole list, for one recipient: `/m/list/<token>`.

A template message holds five short fields, so a push about several cases or visits links to
the mobile list page. The token is signed with SECRET_KEY (itsdangerous, a salt of its own) and
names the recipient (a member of staff), the kind of list and what it covers: request or
beneficiary ids, or a date. It expires after `policy.MOBILE_LIST_DAYS`. The page reads the list
fresh when it is opened, within the recipient's scope at that moment (`services.summary_lists`).
Tokens are signed with the time the push is written (`now`), never the wall clock, so writing the
same push twice gives the same link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from config import policy

SALT = "sanzhida.mobile-list"
PATH = "/m/list/"
# The kinds of list, and what each covers.
CASES = "cases"  # request ids: an escalation digest, a liaison's morning digest
VISITS = "visits"  # a date (the recipient's visits due by then) or beneficiary ids (an overdue alert)
TOWN_DIGEST = "town-digest"  # a date: the town officer's daily figures, open cases, overdue visits
CITY_DIGEST = "city-digest"  # a date (the day of the summary): the city supervisor's figures per town
KINDS = (CASES, VISITS, TOWN_DIGEST, CITY_DIGEST)
_COVERS_IDS = {CASES, VISITS}
_COVERS_DATE = {VISITS, TOWN_DIGEST, CITY_DIGEST}


class LinkInvalid(Exception):
    """The token is not one we signed, was changed, or names no list (the page answers 404)."""


class LinkExpired(LinkInvalid):
    """The token was ours but is older than its lifetime (the page answers 410)."""


@dataclass(frozen=True)
class SummaryList:
    """What a valid token says: whose list it is, its kind and what it covers."""

    staff_id: int
    kind: str
    # Request or beneficiary ids, most important first; or the day the list is of.
    ids: tuple[int, ...] = ()
    day: date | None = None
    # How many items the push was about (more than `ids` when the list was longer than a link holds).
    total: int = 0
    signed_at: datetime | None = None


class _Signer(TimestampSigner):
    """itsdangerous' timestamp signer on an injected clock instead of the wall clock."""

    def __init__(self, *args, now: float, **kwargs):
        super().__init__(*args, **kwargs)
        self._now = int(now)

    def get_timestamp(self) -> int:
        """The injected time, in whole seconds."""
        return self._now


@dataclass(frozen=True)
class ListLinks:
    """Makes and reads list links; built once from the settings (SECRET_KEY, PUBLIC_BASE_URL)."""

    secret_key: str = field(repr=False)
    base_url: str
    days: int = policy.MOBILE_LIST_DAYS

    def _serializer(self, now: datetime) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            self.secret_key, salt=SALT, signer=_Signer,
            signer_kwargs={"now": now.timestamp(), "digest_method": hashlib.sha256},
        )

    def token(self, staff_id: int, kind: str, covers: Sequence[int] | date, now: datetime) -> str:
        """The signed token of one recipient's list; ids beyond `policy.MOBILE_LIST_MAX_ITEMS` are left out."""
        payload: dict = {"s": int(staff_id), "k": kind}
        if isinstance(covers, date):
            if kind not in _COVERS_DATE:
                raise ValueError(f"a {kind} list covers ids, not a date")
            payload["d"] = covers.isoformat()
        else:
            if kind not in _COVERS_IDS:
                raise ValueError(f"a {kind} list covers a date, not ids")
            ids = list(dict.fromkeys(int(i) for i in covers))
            if not ids:
                raise ValueError("a list link needs at least one id")
            payload["i"] = ids[: policy.MOBILE_LIST_MAX_ITEMS]
            if len(ids) > policy.MOBILE_LIST_MAX_ITEMS:
                payload["n"] = len(ids)
        return self._serializer(now).dumps(payload)

    def url(self, staff_id: int, kind: str, covers: Sequence[int] | date, now: datetime) -> str:
        """The absolute URL of one recipient's list page, as a push carries it."""
        return f"{self.base_url.rstrip('/')}{PATH}{self.token(staff_id, kind, covers, now)}"

    def read(self, token: str, now: datetime) -> SummaryList:
        """What a token says; LinkExpired when it is too old, LinkInvalid when it is not a list link of ours."""
        try:
            payload, signed_at = self._serializer(now).loads(
                token, max_age=self.days * 24 * 3600, return_timestamp=True
            )
        except SignatureExpired as exc:
            raise LinkExpired("expired") from exc
        except (BadSignature, ValueError, TypeError, UnicodeError) as exc:
            raise LinkInvalid("not a list link") from exc
        return _summary(payload, signed_at)


def _summary(payload, signed_at: datetime) -> SummaryList:
    """A token's payload checked for shape; only we sign them, but nothing is taken on trust."""
    try:
        staff_id, kind = int(payload["s"]), payload["k"]
        if kind not in KINDS:
            raise ValueError(kind)
        if "d" in payload:
            if kind not in _COVERS_DATE:
                raise ValueError(kind)
            return SummaryList(staff_id, kind, day=date.fromisoformat(payload["d"]), signed_at=signed_at)
        ids = tuple(int(i) for i in payload["i"])
        if kind not in _COVERS_IDS or not ids:
            raise ValueError(kind)
        return SummaryList(staff_id, kind, ids=ids, total=max(int(payload.get("n", 0)), len(ids)), signed_at=signed_at)
    except (KeyError, TypeError, ValueError) as exc:
        raise LinkInvalid("not a list link") from exc


# The prefix of a list's reference (its 编号 on the push and the page), by kind; case lists are
# referred to by their case numbers. 走访 ZF, 超期 CQ, 日报 RB, 周报 ZB.
_PREFIXES = {VISITS: "ZF", TOWN_DIGEST: "RB", CITY_DIGEST: "ZB"}
_OVERDUE_PREFIX = "CQ"
REFERENCE_MAX = 32


def reference(kind: str, *, ids: Sequence[int] = (), day: date | None = None) -> str:
    """A list's reference, as the push's 编号 shows it and the page repeats it (at most 32 letters,
    digits and symbols): the case numbers `12,15,18+7`, or a prefix and the day, `ZF20261207`.

    A visit list by ids (an overdue alert) is `CQ` and the day it was sent.
    """
    if kind == CASES:
        numbers = [str(i) for i in ids]
        for shown in range(len(numbers), 0, -1):
            rest = len(numbers) - shown
            text = ",".join(numbers[:shown]) + (f"+{rest}" if rest else "")
            if len(text) <= REFERENCE_MAX:
                return text
        return numbers[0][:REFERENCE_MAX] if numbers else "-"
    prefix = _OVERDUE_PREFIX if kind == VISITS and ids else _PREFIXES[kind]
    return f"{prefix}{day:%Y%m%d}" if day else prefix
