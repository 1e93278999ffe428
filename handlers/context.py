"""What every handler receives besides the message: the session, Redis, the time and who is writing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import InboundMessage, Staff, WeChatUser
from services.binding import BindGuard
from services.pii import PiiCipher
from services.requests import RequestEnv


@dataclass(frozen=True)
class Context:
    """One message's context: one session, the injected `now`, and the sender's identity."""

    session: Session
    redis: object
    now: datetime
    tz: ZoneInfo
    user: WeChatUser
    inbound: InboundMessage
    pii: PiiCipher
    bind_guard: BindGuard
    request_env: RequestEnv
    # Outbox rows a handler leaves for the inbox to insert together with the reply (one INSERT):
    # the task pushes of a request it opened (`services.requests.open_request(outbox=...)`).
    outbox: list[dict] = field(default_factory=list)

    @property
    def openid(self) -> str:
        """The sender's openid."""
        return self.user.openid

    @property
    def staff(self) -> Staff | None:
        """The active member of staff bound to this WeChat user, if any."""
        staff = self.user.staff
        return staff if staff is not None and staff.active else None

    @property
    def dialog(self) -> str | None:
        """The kind of question the sender still owes an answer to, if any."""
        user = self.user
        if not user.dialog or not user.dialog_expires_at or user.dialog_expires_at <= self.now:
            return None
        return user.dialog.get("kind")

    @property
    def local_day(self) -> str:
        """Today's date in local time, e.g. `2026-12-01`."""
        return self.now.astimezone(self.tz).date().isoformat()

    @property
    def is_bound(self) -> bool:
        """True when the sender is staff or bound to at least one beneficiary."""
        return self.staff is not None or any(link.active for link in self.user.family_links)
