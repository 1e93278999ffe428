"""The WeChat official accounts of a deployment beyond the settings' default one, one per city."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime
from models.regions import Region


class WeChatAccount(Base):
    """One official account: its webhook is `/wechat/<slug>`, its followers live in `region`.

    The Token, EncodingAESKey and AppSecret are kept only encrypted with PII_KEY (services.pii).
    The settings' WECHAT_* account is the default and has no row here.
    """

    __tablename__ = "wechat_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What the webhook's URL ends with (`/wechat/honghu`): lower-case letters, digits and `-`.
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    # The city it serves (a region of level city).
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    token_encrypted: Mapped[str] = mapped_column(Text)
    aes_key_encrypted: Mapped[str] = mapped_column(Text)
    app_secret_encrypted: Mapped[str] = mapped_column(Text)
    # The account's own ids of the two message templates (template ids are per account); NULL: the
    # settings' WECHAT_TEMPLATE_TASK / WECHAT_TEMPLATE_PROGRESS.
    template_task: Mapped[str | None] = mapped_column(String(128))
    template_progress: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    region: Mapped[Region] = relationship()

    def __repr__(self) -> str:
        return f"<WeChatAccount {self.slug} {self.app_id}>"
