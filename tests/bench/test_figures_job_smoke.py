"""Smoke version of bench/figures_job.py: the figures job's full and in-between runs on a small town."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import func, select

import bench.figures_job as figures_bench
from models import ViewSnapshot, Visit
from services import figures_refresh
from tests.support.factories import make_beneficiary, make_town, make_visit


def test_the_bench_times_full_and_in_between_runs(session, clock, database_url):
    """Full runs write every recent day, the ones between write two days, or seven after a visit recorded
    for six days back; the bench's visit is gone afterwards."""
    town = make_town(session, clock())
    person = make_beneficiary(session, town.village, clock() - timedelta(days=60), assistant=town.assistant)
    make_visit(session, person, town.assistant, clock() - timedelta(days=3))
    session.commit()

    out = io.StringIO()
    results = figures_bench.measure(database_url, out=out)

    assert [r["rows"] for r in results] == [36, 2, 7, 36]
    assert all(r["seconds"] > 0 and r["peak_rss_mb"] > 0 for r in results)
    assert out.getvalue().count(" rows ") == 4
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Visit)) == 1
    assert session.scalar(select(ViewSnapshot.key)) == figures_refresh.MARKER
