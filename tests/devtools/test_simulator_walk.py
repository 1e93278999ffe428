"""What the README's simulator walk relies on: the demo's personas start with no case, and the
scheduler panel has a Chinese name for every job."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from devtools import demo
from devtools.simulator import JOB_NAMES
from models import Beneficiary, ServiceRequest
from scheduler import calendar
from services import requests as request_service
from services.notify import Templates
from services.pii import PiiCipher

TZ = ZoneInfo("Asia/Shanghai")
ENV = request_service.RequestEnv(tz=TZ, templates=Templates(task="tpl-task", progress="tpl-progress"))


def test_the_walks_people_start_with_no_case(session, clock):
    """The first beneficiaries (the simulator's family and self personas) have no request at all in a
    fresh demo (seed 1, as `make run` seeds), so the walk's messages open new cases."""
    summary = demo.seed_small(session, PiiCipher("k" * 40), clock(), seed=1, env=ENV)
    assert summary.requests > 0, "the demo still has cases, just not theirs"
    walkers = session.scalars(select(Beneficiary.id).order_by(Beneficiary.id).limit(demo.WALK_PEOPLE)).all()
    theirs = session.scalars(select(ServiceRequest).where(ServiceRequest.beneficiary_id.in_(walkers))).all()
    assert theirs == []


def test_every_scheduler_job_has_a_chinese_name():
    """The simulator's 调度器 panel shows a name, never a raw id, for every job the tick runs."""
    ids = [job.id for job in calendar.INTERVAL_JOBS] + [job.id for job in calendar.calendar_jobs(TZ)]
    assert [job_id for job_id in ids if job_id not in JOB_NAMES] == []
