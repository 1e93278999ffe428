"""The outbox dispatcher: claim due pushes, send them to WeChat outside any transaction, record outcomes.

Used by the scheduler's outbox job, the inbox worker (a reply goes out the moment it is queued),
the CLI and the simulator. Unlike a service it takes a session factory: sending must happen
between transactions, so it opens its own short ones (one to claim, a few to record).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from wechatpy.exceptions import WeChatClientException

from models.enums import OutboxKind
from runtime import metrics
from runtime.media_jobs import send_media
from runtime.media_store import MediaStoreError
from runtime.sms_dispatch import SmsDeferred, SmsFailed, SmsPace, send_sms
from runtime.wechat_accounts import client_for
from services import notice_consents, outbox, sms_replies
from services.policy.sms import SMS_FALLBACK_ERRORS
from services.policy.sms_replies import goes_despite_opt_out

logger = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    # SMS not sent because their phone opted out.
    skipped: int = 0

    def add(self, other: "DispatchReport") -> None:
        """Count another run's work in this one."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.skipped += other.skipped


# HTTP calls to WeChat are I/O: a few threads overlap their waits (on the local stand-in, 4 to 12
# threads measured alike; across the internet the waits are longer). Many more would only contend for
# the GIL and for the two cores the whole service runs on.
SEND_THREADS = 8
# Template sends are recorded in groups of up to this many (WeChat drops a repeated
# client_msg_id, so a crash before recording costs nothing). Customer-service sends are
# recorded as soon as they are in hand: WeChat would deliver a repeat.
TEMPLATE_GROUP = 25
# Why an SMS was skipped, kept in its row's last_error.
OPTED_OUT = "sms: not sent, the phone opted out (replied TD); only urgent SMS to staff still go"


def dispatch_outbox(
    session_factory: sessionmaker[Session],
    client,
    clock: Callable[[], datetime],
    *,
    batch: int = 50,
    rng: random.Random | None = None,
    senders: ThreadPoolExecutor | None = None,
    only_ids: list[int] | None = None,
    store=None,
) -> DispatchReport:
    """Claim due pushes, send them outside any transaction on a few threads, record the outcomes
    in short transactions.

    Pushes to one user go in claim order on one thread. A crash after WeChat accepted a push but
    before it was recorded leaves the row claimed; when the claim lapses (OUTBOX_CLAIM_SECONDS)
    it is sent again. Template messages carry a client_msg_id, so WeChat drops that repeat; a
    customer-service message may arrive twice, which is why those are recorded at once (at most
    about one per sending thread is ever unrecorded). `senders` lets a caller reuse one pool,
    and its threads' HTTP connections, across batches. `only_ids` sends just those rows (a
    reply, the moment it is queued). `store` is the media store, for pushes that send a voice or
    photo itself.
    """
    rng = rng or random.Random()  # nosec B311  # backoff jitter, not a secret
    report = DispatchReport()
    with session_factory() as session:
        rows = outbox.claim_due(session, clock(), batch, only_ids)
        session.commit()
    report.claimed = len(rows)
    if not rows:
        return report
    with session_factory() as session:
        openids = sorted({row.openid for row in rows if not row.is_sms})
        windows = outbox.custom_windows(session, openids)
        for openid, refused in notice_consents.refused_templates(session, openids).items():
            windows[openid].refused = refused
        skipped = _opted_out(session, rows)
        if skipped:
            outbox.mark_skipped(session, skipped, OPTED_OUT)
            session.commit()
        rows = [row for row in rows if row not in skipped]
        phones = sorted({row.phone for row in rows if row.is_sms})
        for phone, sent in outbox.sms_sent_lately(session, phones, clock()).items():
            windows[f"sms:{phone}"] = SmsPace(sent)
    for row in skipped:
        logger.info("outbox=sms_skipped id=%s reason=opted_out", row.id)
    report.skipped = len(skipped)
    if not rows:
        return report
    lanes = outbox.by_recipient(rows)
    results: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    pool = senders or ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="outbox-send")
    media_sender = _MediaSender(session_factory, store, client)
    futures = [pool.submit(_send_lane, client, lane, windows[lane[0].lane], clock, results, stop, media_sender)
               for lane in lanes]
    recorder = _Recorder(session_factory, clock, rng, report)
    failure: BaseException | None = None
    try:
        lanes_left = len(lanes)
        while lanes_left:
            # Block for one outcome, then take whatever else has arrived meanwhile.
            items = [results.get()]
            while True:
                try:
                    items.append(results.get_nowait())
                except queue.Empty:
                    break
            for item in items:
                if isinstance(item, _LaneDone):
                    lanes_left -= 1
                    if item.error is not None and failure is None:
                        # A bug, not a WeChat answer: stop sending, record what went out, re-raise.
                        failure = item.error
                        stop.set()
                else:
                    recorder.add(item)
            recorder.flush(final=lanes_left == 0)
    finally:
        # Whatever happened, no sender may still be sending when this returns.
        stop.set()
        wait(futures)
        if senders is None:
            pool.shutdown(wait=True)
        recorder.close()
    if failure is not None:
        raise failure
    if report.claimed:
        logger.info("outbox=dispatched claimed=%s sent=%s retried=%s dead=%s skipped=%s",
                    report.claimed, report.sent, report.retried, report.dead, report.skipped)
    return report


@dataclass(frozen=True)
class _Sent:
    row: outbox.Claimed
    kind: str
    # The SMS provider's id for the message.
    provider_id: str | None = None


@dataclass(frozen=True)
class _Failed:
    row: outbox.Claimed
    errcode: int | None
    error: str
    # The SMS provider said trying again cannot help.
    permanent: bool = False


@dataclass(frozen=True)
class _Deferred:
    row: outbox.Claimed
    until: datetime
    reason: str


@dataclass(frozen=True)
class _LaneDone:
    error: BaseException | None = None


@dataclass(frozen=True)
class _MediaSender:
    """Sends a voice or photo itself (runtime.media_jobs.send_media) with what that needs."""

    session_factory: object
    store: object
    client: object

    def send(self, row: outbox.Claimed, now: datetime, client=None) -> None:
        """Upload if needed and send the media as a customer-service message (through `client`'s account)."""
        send_media(self.session_factory, self.store, client or self.client, row.openid, row.payload, now)


def _send_lane(client, lane: list[outbox.Claimed], window, clock, results: queue.SimpleQueue,
               stop: threading.Event, media_sender: _MediaSender) -> None:
    """Send one user's pushes (or one phone's SMS) in order, reporting each outcome; runs on a sender thread."""
    error = None
    try:
        for row in lane:
            if stop.is_set():
                # Left claimed: sent again once the claim lapses, as after a crash.
                break
            if row.is_sms:
                try:
                    results.put(_Sent(row, OutboxKind.SMS.value, send_sms(getattr(client, "sms", None), row, window,
                                                                          clock())))
                except SmsDeferred as held:
                    results.put(_Deferred(row, held.until, held.reason))
                except SmsFailed as exc:
                    results.put(_Failed(row, None, str(exc), permanent=exc.permanent))
                continue
            try:
                kind = _send_one(client_for(client, window.account_id), row, window, clock, media_sender)
            except WeChatClientException as exc:
                results.put(_Failed(row, exc.errcode, f"{exc.errcode}: {exc.errmsg}"))
                continue
            except (MediaStoreError, OSError) as exc:
                results.put(_Failed(row, None, f"media: {str(exc)[:200]}"))
                continue
            if kind == "custom":
                # Later pushes to the same user see the message just sent (this thread owns the window).
                window.sent += 1
            results.put(_Sent(row, kind))
    except Exception as exc:  # noqa: BLE001 - handed to the dispatching thread, which re-raises it
        error = exc
    finally:
        results.put(_LaneDone(error))


def _opted_out(session: Session, rows: list[outbox.Claimed]) -> list[outbox.Claimed]:
    """The SMS rows whose phone opted out and that do not go regardless (an urgent SMS to staff does)."""
    sms = [row for row in rows if row.is_sms]
    phones = sms_replies.opted_out(session, [row.phone for row in sms])
    held = [row for row in sms if row.phone in phones]
    urgent = sms_replies.urgent_requests(session, [row.request_id for row in held if row.staff_id is not None])
    return [row for row in held if not goes_despite_opt_out(
        (row.payload.get("sms") or {}).get("template"), row.key, row.staff_id is not None, row.request_id in urgent)]


def _send_one(client, row: outbox.Claimed, window, clock, media_sender: _MediaSender) -> str:
    """Send one push and return the kind used; a voice or photo goes only inside the window."""
    custom_allowed = window.allows(clock())
    if "media" not in row.payload:
        return outbox.send(client, row, custom_allowed, client.notices, window.refused)
    if not custom_allowed:
        # Only a customer-service message can carry it; the task push's link opens the case page.
        return OutboxKind.SKIPPED.value
    media_sender.send(row, clock(), client)
    return OutboxKind.CUSTOM.value


class _Recorder:
    """Outcomes waiting to be written, and the rule for when to write them."""

    def __init__(self, session_factory, clock, rng, report: DispatchReport):
        self.session_factory, self.clock, self.rng, self.report = session_factory, clock, rng, report
        self.sent: list[tuple[outbox.Claimed, str]] = []
        self.failed: list[_Failed] = []
        self.deferred: list[_Deferred] = []
        self.provider_ids: dict[int, str] = {}
        self.connection = None

    def add(self, outcome: _Sent | _Failed | _Deferred) -> None:
        """Hold one outcome until the next write."""
        if isinstance(outcome, _Sent):
            self.sent.append((outcome.row, outcome.kind))
            if outcome.provider_id:
                self.provider_ids[outcome.row.id] = outcome.provider_id
        elif isinstance(outcome, _Deferred):
            self.deferred.append(outcome)
        else:
            self.failed.append(outcome)

    def flush(self, *, final: bool) -> None:
        """Write held outcomes in one transaction: at once when a customer-service send or a
        subscription notice is among them, else once a group is full or the batch is done."""
        held = len(self.sent) + len(self.failed) + len(self.deferred)
        # An SMS, like a customer-service message, would be delivered twice if sent again.
        custom = any(kind in ("custom", outbox.NOTICE, OutboxKind.SMS.value) for _, kind in self.sent)
        if not held or not (final or custom or held >= TEMPLATE_GROUP):
            return
        if self.connection is None:
            # One connection for the batch's writes: a pool checkout per write would also pay
            # the pool's liveness ping each time.
            with self.session_factory() as probe:
                self.connection = probe.get_bind().connect()
        statuses, instead = [], []
        with self.session_factory(bind=self.connection) as session:
            now = self.clock()
            outbox.mark_sent(session, self.sent, now, self.provider_ids)
            for f in self.failed:
                status = outbox.mark_failed(session, f.row, f.errcode, f.error, now, self.rng, permanent=f.permanent)
                statuses.append((f, status))
                if status == "dead" and f.errcode in SMS_FALLBACK_ERRORS:
                    # WeChat cannot reach this member of staff: the push goes by SMS instead, once.
                    sms_id = outbox.queue_sms_instead(session, f.row, now)
                    if sms_id is not None:
                        instead.append((f.row.id, sms_id))
            for d in self.deferred:
                outbox.mark_deferred(session, d.row, d.until, d.reason)
            session.commit()
        for refused, sms_id in instead:
            logger.info("outbox=sms_instead id=%s sms_id=%s", refused, sms_id)
        for d in self.deferred:
            logger.info("outbox=sms_held id=%s until=%s reason=%s", d.row.id, d.until.isoformat(), d.reason)
        self.deferred = []
        self.provider_ids = {}
        metrics.outbox_outcomes([kind for _, kind in self.sent], [(f.errcode, status) for f, status in statuses])
        self.report.sent += len(self.sent)
        self.sent = []
        self.failed = []
        for f, status in statuses:
            if status == "dead":
                self.report.dead += 1
                logger.warning("outbox=dead id=%s errcode=%s attempts=%s", f.row.id, f.errcode, f.row.attempts)
            else:
                self.report.retried += 1
                logger.info("outbox=retry id=%s errcode=%s attempts=%s", f.row.id, f.errcode, f.row.attempts)

    def close(self) -> None:
        """Give the batch's connection back to the pool."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def drain_outbox(session_factory: sessionmaker[Session], client, clock: Callable[[], datetime], *,
                 batch: int = 50, store=None, senders: ThreadPoolExecutor | None = None) -> DispatchReport:
    """Dispatch batch after batch until one comes back short, on one pool of sender threads
    (`senders`, kept by a long-running dispatcher; else one for this drain)."""
    if senders is None:
        with ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="outbox-send") as pool:
            return drain_outbox(session_factory, client, clock, batch=batch, store=store, senders=pool)
    report = DispatchReport()
    while True:
        done = dispatch_outbox(session_factory, client, clock, batch=batch, senders=senders, store=store)
        report.add(done)
        if done.claimed < batch:
            return report
