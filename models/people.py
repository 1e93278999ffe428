"""People: staff, beneficiaries, their assistants, family links and WeChat users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, JSONType, UTCDateTime, one_of
from models.enums import BeneficiaryCategory, CheckinPlan, ContactKind, Relation, StaffRole
from models.regions import Region


class WeChatUser(Base):
    """A follower of the official account, known by openid."""

    __tablename__ = "wechat_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    subscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Opens WeChat's 48-hour customer-service window.
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A short multi-step conversation in progress (e.g. asking the relation when binding).
    dialog: Mapped[dict | None] = mapped_column(JSONType)
    dialog_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The official account this openid follows (an openid belongs to one account); NULL is the
    # settings' default account. Replies and pushes to the user go out through it.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    staff: Mapped[Staff | None] = relationship(back_populates="wechat_user")
    family_links: Mapped[list[FamilyLink]] = relationship(back_populates="wechat_user")

    def __repr__(self) -> str:
        return f"<WeChatUser {self.id}>"


class Staff(Base):
    """A civil-affairs worker: assistant, town officer, city supervisor or administrator."""

    __tablename__ = "staff"
    __table_args__ = (
        one_of("role", [r.value for r in StaffRole]),
        Index("ix_staff_region_role_active", "region_id", "role", "active"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # 工号: what staff type in commands such as `转派 12 A0031`.
    staff_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(20))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    wechat_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_users.id"), unique=True)
    # Dashboard sign-in; empty until an administrator sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Each dashboard sign-in carries the number current when it was made; signing out or a new
    # password moves it on, so every earlier sign-in (a copied cookie too) stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    region: Mapped[Region] = relationship()
    wechat_user: Mapped[WeChatUser | None] = relationship(back_populates="staff")
    invites: Mapped[list[StaffInvite]] = relationship(back_populates="staff")

    def __repr__(self) -> str:
        return f"<Staff {self.staff_no} {self.role}>"


class StaffInvite(Base):
    """A one-time code that binds a member of staff's WeChat account."""

    __tablename__ = "staff_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    # Only a keyed hash is kept: a leaked database does not leak usable codes.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_wechat_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    staff: Mapped[Staff] = relationship(back_populates="invites")


class Beneficiary(Base):
    """A civil-affairs beneficiary (民政对象), the responsibility of one assistant."""

    __tablename__ = "beneficiaries"
    __table_args__ = (
        one_of("checkin_plan", [p.value for p in CheckinPlan]),
        # NULL (never heard from) passes, as every CHECK does with NULL.
        one_of("last_contact_kind", [k.value for k in ContactKind]),
        # The check-in scans read only the people on a plan (a fifth of a city at most), by last sign of life.
        Index(
            "ix_beneficiaries_checkin_due",
            "checkin_plan",
            "last_contact_at",
            postgresql_where=text("checkin_plan <> 'off' AND active"),
            sqlite_where=text("checkin_plan <> 'off' AND active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    # The ID number is kept only encrypted (PII_KEY); the keyed hash finds and dedupes it.
    id_number_encrypted: Mapped[str | None] = mapped_column(Text)
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # What a family member types or scans to bind (printed on the care card).
    bind_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str | None] = mapped_column(Text)
    # Kept with the categories and the visits so coverage over a whole city is one pass over
    # this table: the strictest category's visit period, and the latest visit.
    visit_every_days: Mapped[int] = mapped_column(SmallInteger, default=30, server_default="30")
    last_visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Lives alone (独居): with the categories it sets the default 报平安 plan.
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How often they are expected to say they are fine (CheckinPlan). While `checkin_plan_by_staff`
    # is false the plan follows the categories and living alone (policy.CHECKIN_DEFAULT_DAILY);
    # once staff set it, it stays as they set it.
    checkin_plan: Mapped[str] = mapped_column(String(8), default=CheckinPlan.OFF.value,
                                              server_default=CheckinPlan.OFF.value)
    checkin_plan_by_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_checkin_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last sign of life of any kind (ContactKind: a check-in, a message from them or their family,
    # a visit, a contact staff logged): what ends a silence.
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_contact_kind: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    village: Mapped[Region] = relationship()
    categories: Mapped[list[BeneficiaryCategoryLink]] = relationship(
        back_populates="beneficiary", cascade="all, delete-orphan"
    )
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="beneficiary", order_by="Assignment.started_at"
    )
    family_links: Mapped[list[FamilyLink]] = relationship(back_populates="beneficiary")
    # Read-only views the inbox loads with the sender in one query (services.identity): who has the
    # beneficiary now, and the silences a message would end. Not kept current by changes made in
    # the same session: writers go through the tables, never through these.
    current_assignment: Mapped[Assignment | None] = relationship(
        primaryjoin="and_(Assignment.beneficiary_id == Beneficiary.id, Assignment.ended_at.is_(None))",
        viewonly=True, uselist=False,
    )
    open_silences: Mapped[list[Silence]] = relationship(
        primaryjoin="and_(Silence.beneficiary_id == Beneficiary.id, Silence.ended_at.is_(None))", viewonly=True,
    )

    @property
    def category_names(self) -> list[str]:
        """The beneficiary's categories as plain strings."""
        return sorted(c.category for c in self.categories)

    def __repr__(self) -> str:
        return f"<Beneficiary {self.id}>"


class BeneficiaryCategoryLink(Base):
    """One category of a beneficiary (several are allowed)."""

    __tablename__ = "beneficiary_categories"
    __table_args__ = (one_of("category", [c.value for c in BeneficiaryCategory]),)

    beneficiary_id: Mapped[int] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="categories")


class Assignment(Base):
    """Which assistant is responsible for a beneficiary, and since when; ended rows are history."""

    __tablename__ = "assignments"
    __table_args__ = (
        # At most one active assignment per beneficiary, enforced by the database.
        Index(
            "uq_assignments_active_beneficiary",
            "beneficiary_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index("ix_assignments_staff_active", "staff_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[str | None] = mapped_column(String(255))

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="assignments")
    staff: Mapped[Staff] = relationship(foreign_keys=[staff_id])


class FamilyLink(Base):
    """A WeChat user bound to a beneficiary: the beneficiary themselves or a relative."""

    __tablename__ = "family_links"
    __table_args__ = (
        UniqueConstraint("beneficiary_id", "wechat_user_id"),
        one_of("relation", [r.value for r in Relation]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    wechat_user_id: Mapped[int] = mapped_column(ForeignKey("wechat_users.id"), index=True)
    relation: Mapped[str] = mapped_column(String(16))
    # Family notices after visits and resolved cases (退订通知 / 订阅通知).
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    unbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="family_links")
    wechat_user: Mapped[WeChatUser] = relationship(back_populates="family_links")
