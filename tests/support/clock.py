"""A clock tests can stop and move."""

from __future__ import annotations

from datetime import datetime, timedelta


class FixedClock:
    """Returns the same instant until moved; injected wherever the app reads the time."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        """Move time forward by a timedelta's keyword arguments."""
        self.now += timedelta(**delta)
        return self.now
