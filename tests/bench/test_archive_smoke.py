"""Smoke version of bench/archive.py: a small synthetic history on SQLite, measured, archived, measured."""

from __future__ import annotations

import re

import bench.archive as archive_bench


def test_the_bench_archives_what_is_old_and_reports_both_sides(capsys):
    """Rows older than the cut-off leave the hot tables; the queries are timed before and after."""
    assert archive_bench.main(["--smoke", "--sqlite"]) == 0
    out = capsys.readouterr().out
    rows = {(side, table): int(n) for side, block in re.findall(r"(before|after):\n((?:  .*\n)+)", out)
            for table, n in re.findall(r"  (\w+): (\d+) rows", block)}
    for table in archive_bench.TABLES:
        assert rows[("after", table)] < rows[("before", table)]
    assert "take_next:" in out and "claim_due:" in out
    moved = int(re.search(r"archived (\d+) rows", out).group(1))
    assert moved == sum(rows[("before", t)] - rows[("after", t)] for t in archive_bench.TABLES)
