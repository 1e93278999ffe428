"""Latency and random failures for the WeChat API stand-in, as WeChat's API shows them at scale.

`Chaos(latency=0.05, error_rate=0.01, seed=1)` adds a fixed delay to every API call and makes a
share of them fail the ways WeChat's API is seen to fail:

- `errcode -1` ("system error", HTTP 200): WeChat's busy answer; the call did nothing;
- HTTP 502 / 503 from WeChat's front end: the call did nothing;
- a timeout: WeChat holds the call past the client's timeout and never performs it;
- a late answer: WeChat performs the call (the message is delivered) but answers only after the
  client's timeout, so the caller cannot tell it went through. This is what makes every sender of
  customer-service messages at-least-once: a retry delivers the message a second time.

Each kind is recorded in the call log with its own outcome (`errcode -1`, `http 503`, `timeout`,
`delivered late`), so a check can tell an injected failure from a bug.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

# Shares of the injected failures, by kind.
KINDS = (("system_error", 0.4), ("http_5xx", 0.3), ("timeout", 0.2), ("late", 0.1))
SYSTEM_ERROR = -1
SYSTEM_ERRMSG = "system error"
# Longer than the product's WeChat client timeout (5 s), so the caller gives up first.
HOLD_SECONDS = 6.0


@dataclass
class Chaos:
    """The delay every call waits and the share of calls that fail; thread-safe."""

    latency: float = 0.0
    error_rate: float = 0.0
    seed: int | None = None
    hold_seconds: float = HOLD_SECONDS
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self):
        """Check the settings and seed the generator."""
        if self.latency < 0 or not 0 <= self.error_rate <= 1:
            raise ValueError("latency must be >= 0 and error_rate between 0 and 1")
        self._rng = random.Random(self.seed)  # nosec B311  # fault injection, not a secret

    @property
    def active(self) -> bool:
        """Whether this adds anything at all."""
        return self.latency > 0 or self.error_rate > 0

    def draw(self) -> str | None:
        """The failure this call gets (a kind of KINDS), or None to answer normally."""
        if self.error_rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.error_rate:
                return None
            kinds, weights = zip(*KINDS)
            kind = self._rng.choices(kinds, weights)[0]
            if kind == "http_5xx":
                return self._rng.choice(("http 502", "http 503"))
            return kind


# The WSGI environ key marking a call whose answer is held past the caller's timeout.
LATE = "fake_wechat.late"


def register_chaos(app, chaos: Chaos, record, error):
    """Delay every API call by the latency and hold late answers; return the per-call check.

    The check, called where a route has decided to perform a call, gives an injected failure's
    answer (recorded through `record(path, body, outcome)`) or None to go on.
    """
    from flask import request

    def refusal(path: str, body):
        """An injected failure's answer (recorded), or None; a late answer is held after the call."""
        kind = chaos.draw()
        if kind is None:
            return None
        if kind == "late":
            request.environ[LATE] = True
            return None
        if kind == "timeout":
            # Held past the caller's timeout and never performed.
            time.sleep(chaos.hold_seconds)
            record(path, body, "timeout")
            return "stand-in timeout", 504
        if kind == "system_error":
            record(path, body, f"errcode {SYSTEM_ERROR}")
            return error(SYSTEM_ERROR)
        record(path, body, kind)
        return "stand-in failure", int(kind.split()[1])

    @app.before_request
    def api_latency():
        """Every API call takes at least the latency, as a call across the internet does."""
        if chaos.latency and request.path.startswith(("/cgi-bin/", "/sns/")):
            time.sleep(chaos.latency)

    @app.after_request
    def late_answer(response):
        """A call that was performed but whose answer comes after the caller gave up."""
        if request.environ.get(LATE):
            time.sleep(chaos.hold_seconds)
        return response

    return refusal
