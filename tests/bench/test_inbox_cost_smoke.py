"""Smoke version of bench/inbox_cost.py: a few new help requests through the inbox worker on the
script's own throwaway SQLite file (its PostgreSQL path is the same code on another URL)."""

from __future__ import annotations

import bench.inbox_cost as inbox_cost
from workers.inbox import GROUP


def test_a_run_handles_every_message_and_reports_its_cost(tmp_path):
    args = inbox_cost.build_parser().parse_args(["--messages", "12", "--villages", "3"])
    result = inbox_cost.measure(f"sqlite:///{tmp_path}/inbox-cost.db", args)
    assert result["messages"] == 12
    # One a message (the request), a few a group, then the look that finds nothing: under 2.5 a message.
    assert 1 <= result["statements_per_message"] <= 2.5
    assert result["cpu_ms_per_message"] > 0 and result["first_group"] == min(GROUP, 12)
