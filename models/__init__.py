"""SQLAlchemy models of the whole domain; importing this package registers every table."""

from models.archive import ArchivedInboundMessage, ArchivedOutboxMessage, ArchivedRequestEvent
from models.audit import AuditEntry
from models.base import Base
from models.cards import CareCard
from models.checkins import Checkin, Silence
from models.consents import NoticeConsent, SmsOptOut
from models.figures import DailyCheckinFigures, DailyVisitFigures, ViewSnapshot, WeeklyRequestFigures
from models.media import MediaItem
from models.messaging import InboundMessage, JobRun, OutboxMessage
from models.people import (
    Assignment,
    Beneficiary,
    BeneficiaryCategoryLink,
    FamilyLink,
    Staff,
    StaffInvite,
    WeChatUser,
)
from models.regions import Region
from models.reports import MonthlyReport
from models.requests import RequestEvent, ServiceRequest
from models.responsibility import Department, DutyShift, VillageOfficers
from models.visits import Visit, VisitAlert
from models.wechat_accounts import WeChatAccount

metadata = Base.metadata

__all__ = [
    "ArchivedInboundMessage",
    "ArchivedOutboxMessage",
    "ArchivedRequestEvent",
    "Assignment",
    "AuditEntry",
    "Base",
    "Beneficiary",
    "BeneficiaryCategoryLink",
    "CareCard",
    "Checkin",
    "DailyCheckinFigures",
    "DailyVisitFigures",
    "Department",
    "DutyShift",
    "FamilyLink",
    "InboundMessage",
    "JobRun",
    "MediaItem",
    "MonthlyReport",
    "NoticeConsent",
    "OutboxMessage",
    "Region",
    "RequestEvent",
    "ServiceRequest",
    "Silence",
    "SmsOptOut",
    "Staff",
    "StaffInvite",
    "ViewSnapshot",
    "VillageOfficers",
    "Visit",
    "VisitAlert",
    "WeChatAccount",
    "WeChatUser",
    "WeeklyRequestFigures",
    "metadata",
]
