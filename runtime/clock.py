"""Clocks. Production reads the system time; development can shift it to watch the scheduler work.

The shifted clock keeps its offset in a small file, so the web process, the scheduler and the
simulator all agree on the simulated time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, timezone-aware UTC; everything else receives it injected."""
    return datetime.now(timezone.utc)


class ShiftedClock:
    """The system time plus an offset kept in `path` (development and tests only)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._cache: tuple[float, timedelta] | None = None

    def offset(self) -> timedelta:
        """The current offset, re-read only when the file changed."""
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return timedelta(0)
        if self._cache is None or self._cache[0] != mtime:
            text = self.path.read_text(encoding="ascii").strip() or "0"
            self._cache = (mtime, timedelta(seconds=float(text)))
        return self._cache[1]

    def advance(self, delta: timedelta) -> datetime:
        """Move simulated time forward; every process sharing the file sees it."""
        total = self.offset() + delta
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{total.total_seconds():.0f}", encoding="ascii")
        os.replace(tmp, self.path)
        self._cache = None
        return self()

    def __call__(self) -> datetime:
        return system_clock() + self.offset()
