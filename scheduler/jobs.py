"""Thin job wrappers: each opens its own sessions, calls services, and commits."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from wechatpy.exceptions import WeChatClientException

from handlers.services import outbox

logger = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0


def dispatch_outbox(
    session_factory: sessionmaker[Session],
    client,
    clock: Callable[[], datetime],
    *,
    batch: int = 50,
    rng: random.Random | None = None,
) -> DispatchReport:
    """Claim due pushes, send each outside any transaction, record each outcome in its own.

    A crash after WeChat accepted a push but before it was marked sent leaves the row claimed;
    when the claim lapses (OUTBOX_CLAIM_SECONDS) it is sent again. Template messages carry a
    client_msg_id, so WeChat drops that repeat; a customer-service message may arrive twice.
    """
    rng = rng or random.Random()
    report = DispatchReport()
    with session_factory() as session:
        rows = outbox.claim_due(session, clock(), batch)
        session.commit()
    report.claimed = len(rows)
    for row in rows:
        with session_factory() as session:
            use_custom = outbox.custom_allowed(session, row.openid, clock())
        try:
            kind = outbox.send(client, row, use_custom)
        except WeChatClientException as exc:
            status = _record(session_factory, lambda s: outbox.mark_failed(
                s, row, exc.errcode, f"{exc.errcode}: {exc.errmsg}", clock(), rng))
            if status == "dead":
                report.dead += 1
                logger.warning("outbox=dead id=%s errcode=%s attempts=%s", row.id, exc.errcode, row.attempts)
            else:
                report.retried += 1
                logger.info("outbox=retry id=%s errcode=%s attempts=%s", row.id, exc.errcode, row.attempts)
            continue
        _record(session_factory, lambda s: outbox.mark_sent(s, row, kind, clock()))
        report.sent += 1
    if report.claimed:
        logger.info("outbox=dispatched claimed=%s sent=%s retried=%s dead=%s",
                    report.claimed, report.sent, report.retried, report.dead)
    return report


def _record(session_factory, action):
    with session_factory() as session:
        result = action(session)
        session.commit()
        return result
