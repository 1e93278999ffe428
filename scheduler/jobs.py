"""Thin job wrappers: each opens its own sessions, calls services, and commits.

Every job takes the time it runs for (`now`) as an argument; none reads the wall clock.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from wechatpy.exceptions import WeChatClientException

from handlers.services import escalation, outbox
from handlers.services.requests import RequestEnv

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
    if not rows:
        return report
    with session_factory() as session:
        windows = outbox.custom_windows(session, sorted({row.openid for row in rows}))
    for row in rows:
        window = windows[row.openid]
        try:
            kind = outbox.send(client, row, window.allows(clock()))
        except WeChatClientException as exc:
            errcode, error = exc.errcode, f"{exc.errcode}: {exc.errmsg}"
            status = _record(session_factory, lambda s: outbox.mark_failed(s, row, errcode, error, clock(), rng))
            if status == "dead":
                report.dead += 1
                logger.warning("outbox=dead id=%s errcode=%s attempts=%s", row.id, errcode, row.attempts)
            else:
                report.retried += 1
                logger.info("outbox=retry id=%s errcode=%s attempts=%s", row.id, errcode, row.attempts)
            continue
        _record(session_factory, lambda s: outbox.mark_sent(s, row, kind, clock()))
        if kind == "custom":
            # Later rows of this batch to the same user see the message just sent.
            window.sent += 1
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


@dataclass(frozen=True)
class JobContext:
    """What jobs need: sessions, the WeChat client and the request settings."""

    session_factory: sessionmaker[Session]
    wechat: object
    env: RequestEnv


def run_in_session(ctx: JobContext, work: Callable[[Session], int]) -> int:
    """Run `work` in one session and commit it (one session per job)."""
    with ctx.session_factory() as session:
        result = work(session)
        session.commit()
        return result


def outbox_job(ctx: JobContext, now: datetime) -> int:
    """Send what is due in the outbox (every few seconds)."""
    report = DispatchReport()
    # Drain in batches so a backlog does not wait for the next run.
    while True:
        batch = dispatch_outbox(ctx.session_factory, ctx.wechat, lambda: now)
        report.sent += batch.sent
        if batch.claimed < 50:
            return report.sent


def escalation_job(ctx: JobContext, now: datetime) -> int:
    """Take every due rung of the escalation ladder (every minute)."""
    return run_in_session(ctx, lambda s: escalation.scan(s, ctx.env, now))

