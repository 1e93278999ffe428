"""The shapes the admin API answers with, as pydantic models: documented, and checked by spectree.

Every key is always present (null where the column is empty), so every field is required.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel

from models.enums import (
    ActorKind,
    BeneficiaryCategory,
    CheckinPlan,
    EventKind,
    MediaKind,
    MediaStatus,
    OutboxKind,
    OutboxStatus,
    RegionLevel,
    RequestCategory,
    RequestChannel,
    RequestSource,
    RequestStatus,
    StaffRole,
    TranscriptStatus,
    Urgency,
)
from services.listing import MAX_PER_PAGE


class ErrorBody(BaseModel):
    """Every refusal: a machine-readable kind, a Chinese message and, when one is at fault, the field."""

    error: str = Field(description="Machine-readable kind: unauthorized, invalid, not_found, conflict …")
    message: str = Field(description="What went wrong, in Simplified Chinese.")
    field: str | None = Field(None, description="The body field or query parameter at fault.")


class RegionRef(BaseModel):
    """A region named by code and name."""

    code: str
    name: str


class Contact(BaseModel):
    """A member of staff as someone to call."""

    staff_no: str
    name: str
    phone: str


class Region(BaseModel):
    """A city, town or village/community."""

    id: int
    code: str
    name: str
    level: RegionLevel
    parent_code: str | None
    is_community: bool
    office_phone: str | None
    created_at: datetime


class RegionList(BaseModel):
    """Every matching region, ordered by code."""

    items: list[Region]
    total: int = Field(ge=0)


class StaffRegion(RegionRef):
    """The region a member of staff works in."""

    level: RegionLevel


class Staff(BaseModel):
    """A member of staff; sign-in secrets are never included."""

    id: int
    staff_no: str
    name: str
    phone: str
    role: StaffRole
    region: StaffRegion
    active: bool
    wechat_bound: bool
    created_at: datetime
    updated_at: datetime


class Invite(BaseModel):
    """A one-time code; the member of staff sends `绑定 <code>` in WeChat within 7 days."""

    staff_no: str
    code: str
    expires_at: datetime


class Beneficiary(BaseModel):
    """A beneficiary, the ID number only masked."""

    id: int
    name: str
    village: RegionRef | None
    town: RegionRef | None
    categories: list[BeneficiaryCategory]
    phone: str | None
    address: str | None
    id_number_masked: str | None = Field(description="e.g. 110***********002X; the full number is never returned.")
    bind_code: str | None
    active: bool
    assistant: Contact | None
    lives_alone: bool = Field(description="Lives alone (独居).")
    checkin_plan: CheckinPlan = Field(description="报平安 plan in force: daily, weekly or off.")
    checkin_plan_by_staff: bool = Field(
        description="true: staff set the plan; false: it follows the categories and living alone.")
    last_checkin_at: datetime | None = Field(description="The latest 报平安 (read-only).")
    created_at: datetime


class BindCode(BaseModel):
    """A beneficiary's new bind code; the previous one stops working."""

    beneficiary_id: int
    code: str
    qr_scene: str = Field(description="Scene string for a parametric QR code, `bind:<code>`.")


class BeneficiaryRef(BaseModel):
    """A beneficiary named by id and name."""

    id: int
    name: str


class ServiceRequest(BaseModel):
    """A service request, where it was raised and whether it is late."""

    id: int
    status: RequestStatus
    category: RequestCategory
    urgency: Urgency
    source: RequestSource
    channel: RequestChannel = Field(description="wechat, or how staff heard it: phone, home, walk_in, other.")
    summary: str
    beneficiary: BeneficiaryRef
    village: RegionRef | None
    town: RegionRef | None
    assignee: Contact | None
    escalation_level: int
    overdue: bool = Field(description="Past its accept or resolve deadline while open.")
    accept_deadline: datetime | None
    resolve_deadline: datetime | None
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    resolution_note: str | None
    rating: int | None = Field(ge=1, le=5)
    rating_comment: str | None


class RequestEvent(BaseModel):
    """One entry of a request's timeline."""

    id: int
    kind: EventKind
    actor_kind: ActorKind
    actor_staff_id: int | None
    body: str | None
    data: dict[str, Any] | None
    created_at: datetime


class MediaItem(BaseModel):
    """A voice, photo or video the requester sent: what it is and its words. The file itself is only
    served to a signed-in viewer allowed to see the case, so there is no URL here."""

    id: int
    kind: MediaKind
    status: MediaStatus
    content_type: str | None = Field(description="Read from the file's bytes once fetched.")
    size_bytes: int | None
    duration_seconds: float | None = Field(description="For voice, once converted.")
    playable_content_type: str | None = Field(description="The browser-playable copy of a voice (audio/mpeg).")
    transcript: str | None = Field(description="What a voice said (WeChat's recognition or the speech recogniser).")
    transcript_status: TranscriptStatus | None
    received_at: datetime
    fetched_at: datetime | None


class ServiceRequestDetail(ServiceRequest):
    """A service request with its timeline (oldest event first) and its media."""

    urgency_reason: Literal["unheard", "sos"] | None = Field(
        description="unheard: urgent because it is a voice nobody has understood yet; "
                    "sos: opened with the 紧急求助 menu button.")
    events: list[RequestEvent]
    media: list[MediaItem]


class OutboxMessage(BaseModel):
    """A WeChat push waiting, in flight, sent or dead; its content is left out."""

    id: int
    idempotency_key: str
    recipient_openid: str
    kind: OutboxKind
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class ListPage(BaseModel):
    """The paginated envelope."""

    total: int = Field(ge=0)
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=MAX_PER_PAGE)


class StaffPage(ListPage):
    """A page of staff, ordered by 工号."""

    items: list[Staff]


class BeneficiaryPage(ListPage):
    """A page of beneficiaries."""

    items: list[Beneficiary]


class RequestPage(ListPage):
    """A page of service requests, newest first."""

    items: list[ServiceRequest]


class OutboxPage(ListPage):
    """A page of outbox rows, newest first."""

    items: list[OutboxMessage]


class ChainPlace(BaseModel):
    """Who stands in one place of the 包联 chain, and whether they were named there."""

    staff: Contact | None = Field(description="null when nobody can stand there (no one active of that role).")
    named: bool = Field(description="true: named; false: by the default spread (nobody named, or no longer able).")


class VillageOfficers(BaseModel):
    """Who answers for a village (包村): the responsible town officer and the deputy, as in effect."""

    village: RegionRef
    town: RegionRef
    responsible: ChainPlace
    deputy: ChainPlace


class Department(BaseModel):
    """A city department with its two liaisons as in effect and the request categories it handles."""

    code: str
    name: str
    city: RegionRef
    stored: bool = Field(description="false: one of the policy's departments the city has no record of yet.")
    categories: list[RequestCategory]
    liaison: ChainPlace
    deputy: ChainPlace


class DepartmentList(BaseModel):
    """The city's departments, by code."""

    items: list[Department]
    total: int = Field(ge=0)


class DutyShift(BaseModel):
    """One shift of the duty rota."""

    id: int
    staff: Contact
    starts_at: datetime
    ends_at: datetime
    created_at: datetime


class DutyShiftList(BaseModel):
    """The shifts overlapping [since, until), by start."""

    items: list[DutyShift]
    total: int = Field(ge=0)
    since: datetime
    until: datetime


class OpenApiDocument(RootModel[dict[str, Any]]):
    """An OpenAPI 3.1 document."""
