"""Archiving: after ARCHIVE_AFTER_MONTHS whole months, handled messages, finished pushes and the
timelines of closed cases move to the archive tables, window by window; what still waits or is
still open stays; the case pages and the figures read the same before and after."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from models import (
    ArchivedInboundMessage,
    ArchivedOutboxMessage,
    ArchivedRequestEvent,
    InboundMessage,
    JobRun,
    MediaItem,
    OutboxMessage,
    RequestEvent,
    ServiceRequest,
    Staff,
)
from models.enums import EventKind, MediaStatus, OutboxStatus, RequestCategory, RequestStatus
from runtime.archive import archive_before
from scheduler import calendar, jobs
from services import accounts, archive, casework, monthly_report
from tests.scheduler.test_calendar import GRACE, TZ
from tests.scheduler.test_message_retention import say
from tests.support.factories import fresh, make_beneficiary
from tests.support.office import PASSWORD, signed_in

AUTH = {"Authorization": "Bearer test-admin-token"}


def count(session, model, *where) -> int:
    """Rows of a table matching `where`."""
    return session.scalar(select(func.count()).select_from(model).where(*where))


def ids(session, query) -> set[int]:
    """Every id a query selects."""
    return set(session.scalars(query))


def case_page(client, number: int) -> str:
    """The office case page, its forms' CSRF tokens (new with every sign-in) left out."""
    response = client.get(f"/office/cases/{number}")
    assert response.status_code == 200
    return re.sub(r'name="csrf_token" value="[^"]*"', "", response.get_data(as_text=True))


def send_and_escalate(ctx, now: datetime) -> None:
    """The two interval jobs a case's life needs here: the ladder's scan, then the outbox."""
    jobs.escalation_job(ctx, now)
    jobs.outbox_job(ctx, now)


def test_cutoff_is_the_first_of_a_whole_month():
    """13 months before November 2026 is October 2025; across a year's start too."""
    assert archive.cutoff_month(date(2026, 11, 30), 13) == date(2025, 10, 1)
    assert archive.cutoff_month(date(2026, 1, 1), 13) == date(2024, 12, 1)
    assert archive.cutoff_for(date(2025, 10, 1), TZ) == datetime(2025, 10, 1, tzinfo=TZ)


def test_closed_old_cases_move_and_open_ones_stay(app, client, sender, session, clock, jobs_ctx, town):
    """A case escalated and resolved 14 months ago moves with its messages and pushes; its pages, API
    view and month's report read the same; an open case of the same day, a message still waiting and a
    push still pending stay; a second run moves nothing."""
    closed_elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    open_elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    accounts.set_password(session.get(Staff, town.supervisor.id), PASSWORD, clock())
    session.commit()
    for openid, elder, text in (("o-closed", closed_elder, "家里没米了，请帮忙"), ("o-open", open_elder, "房子漏雨了")):
        say(client, sender, clock, openid, f"绑定 {elder.bind_code}")
        say(client, sender, clock, openid, "1")
        say(client, sender, clock, openid, text)
    send_and_escalate(jobs_ctx, clock())
    clock.advance(hours=5)
    send_and_escalate(jobs_ctx, clock())  # nobody accepted: both climb the ladder
    fresh(session)
    closed_case, open_case = session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)).all()
    casework.resolve(session, jobs_ctx.env, closed_case, session.get(Staff, town.assistant.id), "已送米上门", clock())
    session.commit()
    send_and_escalate(jobs_ctx, clock())
    old = clock() - timedelta(minutes=1)
    waiting = InboundMessage(dedupe_key="msg:waiting", openid="o-late", msg_type="text", sent_at=old,
                             received_at=old, content="还在等", payload={}, handled_at=None)
    pending = OutboxMessage(idempotency_key="test:pending", recipient_openid="o-late", kind="custom",
                            payload={"text": "待发"}, status=OutboxStatus.PENDING.value, attempts=0,
                            next_attempt_at=clock() + timedelta(days=999), created_at=old)
    session.add_all([waiting, pending])
    session.commit()
    fresh(session)
    assert count(session, RequestEvent, RequestEvent.request_id == closed_case.id,
                 RequestEvent.kind == EventKind.ESCALATED.value) >= 1
    month = clock().astimezone(TZ).date().replace(day=1)
    office = signed_in(app, town.supervisor.staff_no)
    page_before = case_page(office, closed_case.id)
    api_before = client.get(f"/api/v1/requests/{closed_case.id}", headers=AUTH).get_json()
    report_before = monthly_report.assemble(session, month, TZ, clock())
    closed_events = ids(session, select(RequestEvent.id).where(RequestEvent.request_id == closed_case.id))
    open_events = ids(session, select(RequestEvent.id).where(RequestEvent.request_id == open_case.id))
    sent_pushes = ids(session, select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.SENT.value))

    clock.advance(days=430)
    say(client, sender, clock, "o-open", "还是漏雨")  # new rows, newer than the cut-off
    moved = jobs.archive_job(jobs_ctx, clock())

    fresh(session)
    assert moved > 0
    assert ids(session, select(ArchivedRequestEvent.id)) == closed_events
    assert count(session, RequestEvent, RequestEvent.request_id == closed_case.id) == 0
    assert open_events <= ids(session, select(RequestEvent.id))
    assert sent_pushes <= ids(session, select(ArchivedOutboxMessage.id))
    assert session.get(OutboxMessage, pending.id).status == OutboxStatus.PENDING.value
    assert session.get(InboundMessage, waiting.id).handled_at is None
    # The open case's message stays with its entry; the closed case's and the binding chatter go.
    kept_messages = set(session.scalars(select(RequestEvent.inbound_message_id).where(
        RequestEvent.request_id == open_case.id, RequestEvent.inbound_message_id.is_not(None))))
    assert kept_messages and kept_messages <= ids(session, select(InboundMessage.id))
    assert count(session, ArchivedInboundMessage, ArchivedInboundMessage.request_id == closed_case.id) >= 1
    assert count(session, ArchivedInboundMessage, ArchivedInboundMessage.openid == "o-closed") == 3

    office = signed_in(app, town.supervisor.staff_no)  # the sign-in of a year ago has lapsed
    assert case_page(office, closed_case.id) == page_before
    assert "已送米上门" in page_before
    assert client.get(f"/api/v1/requests/{closed_case.id}", headers=AUTH).get_json() == api_before
    report_after = monthly_report.assemble(session, month, TZ, report_before.made_at)
    assert report_after.figures == report_before.figures
    assert report_after.tables == report_before.tables
    assert report_before.figures.total.escalated[1] >= 1  # the archived escalations still count
    assert jobs.archive_job(jobs_ctx, clock()) == 0


def old_messages(session, now: datetime, n: int, *, new: int = 1) -> None:
    """`n` handled messages received 14 months before `now`, then `new` received just now."""
    old = now - timedelta(days=430)
    for i in range(1, n + new + 1):
        at = old if i <= n else now
        session.add(InboundMessage(id=i, dedupe_key=f"msg:{i}", openid="o-x", msg_type="text", sent_at=at,
                                   received_at=at, content=f"第{i}条", payload={"Content": f"第{i}条"}, handled_at=at))
    session.commit()


def test_a_run_stopped_after_one_window_is_completed_by_the_next(session, clock):
    """One window moved, then the run stops; the next run moves the rest: every row once, in one place."""
    factory = lambda: type(session)(bind=session.get_bind())  # noqa: E731
    now = clock()
    old_messages(session, now, 7)
    cutoff = now - timedelta(days=400)
    inbound = next(m for m in archive.MOVES if m.name == "inbound_messages")
    with factory() as other:
        assert archive.move_window(other, inbound, cutoff, 1, 3, now) == 3
        other.commit()
    fresh(session)
    assert ids(session, select(ArchivedInboundMessage.id)) == {1, 2, 3}
    assert ids(session, select(InboundMessage.id)) == {4, 5, 6, 7, 8}

    dry = archive_before(factory, cutoff, now, dry_run=True)
    assert dry.moved["inbound_messages"] == 4
    fresh(session)
    assert ids(session, select(InboundMessage.id)) == {4, 5, 6, 7, 8}
    report = archive_before(factory, cutoff, now)
    assert report.moved["inbound_messages"] == 4
    fresh(session)
    assert ids(session, select(ArchivedInboundMessage.id)) == set(range(1, 8))
    assert ids(session, select(InboundMessage.id)) == {8}
    assert session.get(ArchivedInboundMessage, 5).content == "第5条"
    assert archive_before(factory, cutoff, now).total == 0


def test_a_window_copied_but_not_deleted_is_finished_without_a_double(session, clock):
    """A row already in the archive (a window cut off between copy and delete) is deleted, not copied again."""
    factory = lambda: type(session)(bind=session.get_bind())  # noqa: E731
    now = clock()
    old_messages(session, now, 3)
    session.add(ArchivedInboundMessage(id=2, dedupe_key="msg:2", openid="o-x", msg_type="text", sent_at=now,
                                       received_at=now, content="第2条", payload={}, handled_at=now, archived_at=now))
    session.commit()
    assert archive_before(factory, now - timedelta(days=400), now).moved["inbound_messages"] == 3
    fresh(session)
    assert ids(session, select(ArchivedInboundMessage.id)) == {1, 2, 3}
    assert ids(session, select(InboundMessage.id)) == {4}


def test_the_newest_row_always_stays(session, clock):
    """Even when every row is old and finished, the newest stays: its id is never handed out again."""
    factory = lambda: type(session)(bind=session.get_bind())  # noqa: E731
    now = clock()
    old_messages(session, now, 4, new=0)
    assert archive_before(factory, now - timedelta(days=400), now).moved["inbound_messages"] == 3
    fresh(session)
    assert ids(session, select(InboundMessage.id)) == {4}


def test_a_failed_message_and_a_dead_letter_stay_to_be_followed_up(session, clock):
    """Old as they are, a message whose handling failed and a push given up stay in the hot tables,
    where `inbound failed`, `outbox list` and `outbox retry` find them; their finished neighbours move."""
    factory = lambda: type(session)(bind=session.get_bind())  # noqa: E731
    now = clock()
    old_messages(session, now, 4)
    session.get(InboundMessage, 2).handling_error = "KeyError"
    old = now - timedelta(days=430)
    for n, status in enumerate((OutboxStatus.SENT, OutboxStatus.DEAD, OutboxStatus.SENT, OutboxStatus.SENT)):
        session.add(OutboxMessage(idempotency_key=f"test:old-{n}", recipient_openid="o-x", kind="custom",
                                  payload={"text": "你好"}, status=status.value, attempts=8, next_attempt_at=old,
                                  created_at=old))
    session.commit()
    dead = session.scalar(select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.DEAD.value))

    report = archive_before(factory, now - timedelta(days=400), now)
    assert (report.moved["inbound_messages"], report.moved["outbox"]) == (3, 2)
    fresh(session)
    assert ids(session, select(InboundMessage.id)) == {2, 5}
    assert ids(session, select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.DEAD.value)) == {dead}


def test_a_media_items_message_moves_and_keeps_its_link(session, clock, town):
    """A voice message's media item loses its reference to the hot row; the archive row names the item."""
    factory = lambda: type(session)(bind=session.get_bind())  # noqa: E731
    now = clock()
    old_messages(session, now, 2)
    session.add(MediaItem(wechat_media_id="m-1", inbound_message_id=1, kind="voice", status=MediaStatus.STORED.value,
                          next_attempt_at=now, created_at=now))
    session.commit()
    archive_before(factory, now - timedelta(days=400), now)
    fresh(session)
    item = session.scalar(select(MediaItem))
    assert item.inbound_message_id is None
    assert session.get(ArchivedInboundMessage, 1).media_item_id == item.id


def test_an_open_case_keeps_its_history_and_its_messages(session, clock, town):
    """An old case still open: its entries stay, and so does the message they name."""
    factory = lambda: type(session)(bind=session.get_bind())  # noqa: E731
    now = clock()
    old_messages(session, now, 2)
    elder = make_beneficiary(session, town.village, now, assistant=town.assistant)
    old = now - timedelta(days=430)
    case = ServiceRequest(beneficiary_id=elder.id, village_id=town.village.id, town_id=town.town.id,
                          category=RequestCategory.OTHER.value, status=RequestStatus.ACKNOWLEDGED.value, created_at=old, updated_at=old)
    session.add(case)
    session.flush()
    session.add(RequestEvent(request_id=case.id, kind=EventKind.CREATED.value, actor_kind="wechat_user",
                             inbound_message_id=1, created_at=old))
    session.commit()
    report = archive_before(factory, now - timedelta(days=400), now)
    assert report.moved == {"request_events": 0, "inbound_messages": 1, "outbox": 0}
    fresh(session)
    assert ids(session, select(InboundMessage.id)) == {1, 3}
    assert count(session, RequestEvent, RequestEvent.request_id == case.id) == 1


def test_the_daily_job_runs_once_at_its_quiet_hour(session, clock, jobs_ctx):
    """Due at 03:30: run once (moving what is due), then `already`; its ledger row is written last."""
    old_messages(session, clock(), 3)
    due = clock().astimezone(TZ).replace(hour=3, minute=30, second=0, microsecond=0)
    (job,) = [j for j in calendar.calendar_jobs(TZ) if j.id == "archive"]
    assert calendar.run_calendar_job(jobs_ctx, job, due + timedelta(minutes=5), GRACE) == "ran"
    assert calendar.run_calendar_job(jobs_ctx, job, due + timedelta(minutes=6), GRACE) == "already"
    fresh(session)
    assert ids(session, select(ArchivedInboundMessage.id)) == {1, 2, 3}
    assert session.scalar(select(JobRun.detail).where(JobRun.job_id == "archive")) == {
        "late_seconds": 300, "rows": 3}
