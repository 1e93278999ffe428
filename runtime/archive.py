"""The archive run: every hot table walked in windows of ids, one transaction per window.

The scheduler's daily `archive` job and `sanzhida archive run` both call `archive_before`. Killed
at any point, the next run picks up where it stopped: a window is moved whole or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services import archive

logger = logging.getLogger(__name__)


@dataclass
class ArchiveReport:
    """What a run moved (or, in a dry run, would move) per table, and in how many windows."""

    moved: dict[str, int] = field(default_factory=dict)
    windows: int = 0

    @property
    def total(self) -> int:
        """Rows moved in all tables."""
        return sum(self.moved.values())


# Called after each window: the table, the window's last id, the table's newest id, rows so far.
Progress = Callable[[str, int, int, int], None]


def archive_before(session_factory: sessionmaker[Session], cutoff: datetime, now: datetime, *,
                   dry_run: bool = False, progress: Progress | None = None,
                   max_windows: int | None = None) -> ArchiveReport:
    """Move every finished row older than `cutoff` to the archive tables, table after table; with
    `dry_run`, only count them. `max_windows` stops after that many windows (a run cut short)."""
    report = ArchiveReport()
    for move in archive.MOVES:
        report.moved[move.name] = 0
        with session_factory() as session:
            top = archive.ceiling(session, move)
        after = 0
        while top is not None and (max_windows is None or report.windows < max_windows):
            with session_factory() as session:
                window = archive.next_window(session, move, cutoff, after, top)
                if window is None:
                    break
                if dry_run:
                    report.moved[move.name] += archive.count_window(session, move, cutoff, *window)
                else:
                    report.moved[move.name] += archive.move_window(session, move, cutoff, *window, now)
                    session.commit()
            report.windows += 1
            after = window[1]
            if progress is not None:
                progress(move.name, after, top, report.moved[move.name])
    if report.total and not dry_run:
        logger.info("archive=moved cutoff=%s windows=%s %s", cutoff.isoformat(), report.windows,
                    " ".join(f"{name}={n}" for name, n in report.moved.items()))
    return report
