"""Fixtures for job tests: the job context of the test app and a small town."""

from __future__ import annotations

from datetime import datetime

import pytest

from scheduler.jobs import JobContext
from tests.support.factories import make_town


@pytest.fixture
def jobs_ctx(app) -> JobContext:
    """What the scheduler's jobs get, wired to the test database, Redis and WeChat stand-in."""
    svc = app.extensions["sanzhida"]
    return JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env)


@pytest.fixture
def town(session, clock):
    """A town with bound staff."""
    return make_town(session, clock())


def at(clock, moment: datetime) -> datetime:
    """Move the test clock to `moment` and return it."""
    clock.now = moment
    return moment
