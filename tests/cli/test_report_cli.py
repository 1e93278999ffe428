"""`sanzhida report monthly` end to end on the hand-built November: both files written and kept, and
clear refusals of a bad month, a month not yet begun and an unknown town; with two cities, --city."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from io import BytesIO

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from cli import main
from models import AuditEntry, MonthlyReport
from tests.cli.test_cli import cli_env
from tests.conftest import START
from tests.support import figures_history
from tests.support.factories import fresh
from tests.support.province import make_province


@pytest.fixture
def history(session, clock):
    """The hand-built November in two towns."""
    return figures_history.build(session, clock())


@pytest.fixture
def env(tmp_path, database_url):
    """The command's environment: the test database, and a development clock set to 2026-12-01 09:00
    in Shanghai (the shared clock file the simulator uses), so November is over."""
    clock_file = tmp_path / "clock"
    clock_file.write_text(f"{(START - datetime.now(timezone.utc)).total_seconds():.0f}", encoding="ascii")
    env = cli_env(tmp_path, SANZHIDA_DEV_CLOCK_FILE=str(clock_file), MEDIA_STORE_URL=(tmp_path / "media").as_uri())
    return {**env, "DATABASE_URL": database_url}


def run(env, *args):
    """`sanzhida report monthly …`."""
    return CliRunner().invoke(main, ["report", "monthly", *args], env=env)


def test_the_city_report_is_written_and_kept(session, history, env, tmp_path):
    """Both files in --out, progress on stderr, the summary on stdout, one stored report, audited."""
    out = tmp_path / "out"
    result = run(env, "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 0, result.output
    xlsx, pdf = out / "monthly-report-2026-11.xlsx", out / "monthly-report-2026-11.pdf"
    assert str(xlsx) in result.stdout and str(pdf) in result.stdout
    assert "已生成 示范市民政服务月报（2026年11月）" in result.stdout
    assert "排版 PDF" in result.stderr and "排版 PDF" not in result.stdout
    book = load_workbook(BytesIO(xlsx.read_bytes()))
    assert "各村（社区）概况" in book.sheetnames
    assert pdf.read_bytes().startswith(b"%PDF-")
    fresh(session)
    (stored,) = session.scalars(select(MonthlyReport)).all()
    assert (stored.town_id, stored.complete, stored.made_by_label, stored.pdf) == (None, True, "cli", pdf.read_bytes())
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.make")).all()
    assert (entry.actor_label, entry.target_id, entry.detail["month"]) == ("cli", stored.id, "2026-11")


def test_one_town(session, history, env, tmp_path):
    """--town CODE: the file names carry the code, and the report is the town's."""
    code = history.a.town.code
    result = run(env, "--month", "2026-11", "--town", code, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    book = load_workbook(BytesIO((tmp_path / f"monthly-report-2026-11-{code}.xlsx").read_bytes()))
    assert "各村（社区）概况" not in book.sheetnames
    fresh(session)
    assert session.scalars(select(MonthlyReport.town_id)).all() == [history.a.town.id]


@pytest.mark.parametrize(("args", "says"), [
    (["--month", "2026-13"], "'2026-13' is not a month"),
    (["--month", "November"], "write it as YYYY-MM"),
    (["--month", "2027-01"], "2027-01 has not started yet"),
    (["--month", "2026-11", "--town", "NO-SUCH"], "no town with code 'NO-SUCH'"),
])
def test_bad_input_is_refused_with_a_clear_message(session, history, env, tmp_path, args, says):
    """Exit 2 with the reason; nothing is written or kept."""
    result = run(env, *args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert says in result.output
    assert not (tmp_path / "out").exists()
    fresh(session)
    assert session.scalars(select(MonthlyReport)).all() == []


def test_a_village_code_is_not_a_town(session, history, env, tmp_path):
    """--town takes towns only: a village's code is refused by name."""
    result = run(env, "--month", "2026-11", "--town", history.a.village.code)
    assert result.exit_code == 2 and f"no town with code '{history.a.village.code}'" in result.output


def test_with_two_cities_the_city_is_named(session, app, env, tmp_path):
    """Several cities: no --city is refused with the codes; --city CODE makes that city's report (the
    code in the file names); a town outside --city is refused; --help explains --city."""
    world = make_province(session, app.extensions["sanzhida"].request_env, START - timedelta(days=10))
    a, b = world.a.city.code, world.b.city.code
    refused = run(env, "--month", "2026-11", "--out", str(tmp_path))
    assert refused.exit_code == 2 and "several cities" in refused.output and a in refused.output
    wrong = run(env, "--month", "2026-11", "--city", a, "--town", world.b.town.code)
    assert wrong.exit_code == 2 and "is not in city" in wrong.output
    assert run(env, "--month", "2026-11", "--city", world.b.town.code).exit_code == 2
    result = run(env, "--month", "2026-11", "--city", b, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "已生成 西城市民政服务月报（2026年11月）" in result.stdout
    book = load_workbook(BytesIO((tmp_path / f"monthly-report-2026-11-{b}.xlsx").read_bytes()))
    text = " ".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row if v)
    assert "西山镇" in text and "东河镇" not in text
    fresh(session)
    assert session.scalars(select(MonthlyReport.city_id)).all() == [world.b.city.id]
    helped = run(env, "--help")
    assert helped.exit_code == 0 and "--city CODE" in helped.output and "several cities" in helped.output
