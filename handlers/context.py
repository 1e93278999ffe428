"""What every handler receives besides the message: the session, Redis, the time and who is writing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import InboundMessage, Staff, WeChatUser


@dataclass(frozen=True)
class Context:
    """One message's context: one session, the injected `now`, and the sender's identity."""

    session: Session
    redis: object
    now: datetime
    tz: ZoneInfo
    user: WeChatUser
    inbound: InboundMessage

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
    def is_bound(self) -> bool:
        """True when the sender is staff or bound to at least one beneficiary."""
        return self.staff is not None or any(link.active for link in self.user.family_links)
