"""Request bodies and query strings of the admin API, as the pydantic models that validate them.

Fields are declared in the order the API has always checked them: the first failing one is the
one a 422 names. A required field that is absent is checked like an explicit null, so its own
rule (and message) applies; unknown fields are ignored.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from bot.api.errors import MSG_CITY_HAS_NO_PARENT, MSG_PARENT_REQUIRED
from bot.api.fields import (
    AwareTime,
    Categories,
    IdNumber,
    OptionalPhone,
    OptionalRegionCode,
    OptionalStaffNo,
    Page,
    PerPage,
    Phone,
    QueryBool,
    QueryStaffNo,
    QueryText,
    QueryTime,
    RegionCode,
    StaffNo,
    json_bool,
    one_of,
    optional_json_bool,
    optional_one_of,
    query_choice,
    refuse,
    text,
)
from config import policy
from models.enums import (
    BeneficiaryCategory,
    CheckinPlan,
    OutboxStatus,
    RegionLevel,
    RequestChannel,
    RequestStatus,
    StaffRole,
    Urgency,
)
from services import responsibility_admin as chain_admin
from services.listing import DEFAULT_PER_PAGE, MAX_PER_PAGE, PageRequest

Name = text(64)
Address = text(255, required=False)
Level = one_of(RegionLevel)
Role = one_of(StaffRole)
Flag = json_bool(False)
OptionalFlag = optional_json_bool()
OptionalPlan = optional_one_of(CheckinPlan)
LevelFilter = query_choice(RegionLevel)
RoleFilter = query_choice(StaffRole)
CategoryFilter = query_choice(BeneficiaryCategory)
RequestStatusFilter = query_choice(RequestStatus)
UrgencyFilter = query_choice(Urgency)
OutboxStatusFilter = query_choice(OutboxStatus)
# The channels staff log through (代办); WeChat requests come by themselves.
LoggableChannel = StrEnum("LoggableChannel",
                          {c.name: c.value for c in RequestChannel if c is not RequestChannel.WECHAT})
LoggedChannel = one_of(LoggableChannel)
Content = text(500)


class Input(BaseModel):
    """Base of every request model."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _absent_is_null(cls, data: Any) -> Any:
        """Give absent required fields a null, so their own rule reports them."""
        if not isinstance(data, dict):
            return data
        absent = {name: None for name, field in cls.model_fields.items() if field.is_required() and name not in data}
        return {**data, **absent} if absent else data


# --- bodies -----------------------------------------------------------------------------------------


class RegionCreate(Input):
    """A city, a town under the city, or a village/community under a town."""

    code: RegionCode = Field(description="行政区划代码, digits, unique.")
    name: Name
    level: Level
    parent_code: OptionalRegionCode = Field(
        None, description="Required for town and village; empty for a province; a city's province, if any.")
    is_community: Flag = Field(False, description="A 社区 rather than a 村.")
    office_phone: OptionalPhone = Field(None, description="Mainland mobile or landline with area code.")

    @model_validator(mode="after")
    def _parent_matches_level(self) -> RegionCreate:
        """A province stands alone, a city alone or under its province; towns and villages name their parent."""
        if self.level is RegionLevel.PROVINCE and self.parent_code is not None:
            raise refuse("parent_code", MSG_CITY_HAS_NO_PARENT)
        if self.level in (RegionLevel.TOWN, RegionLevel.VILLAGE) and self.parent_code is None:
            raise refuse("parent_code", MSG_PARENT_REQUIRED)
        return self


class StaffCreate(Input):
    """A member of staff; the region's level must match the role."""

    staff_no: StaffNo = Field(description="工号; stored upper-case.")
    name: Name
    phone: Phone = Field(description="Mainland mobile or landline with area code; spaces are removed.")
    role: Role = Field(description="assistant: village; town_officer: town; city_supervisor, admin: city.")
    region_code: RegionCode


class BeneficiaryCreate(Input):
    """A beneficiary in a village, optionally with an assistant."""

    name: Name
    village_code: RegionCode = Field(description="Code of a village-level region.")
    categories: Categories = Field(description="One or more categories; repeats are dropped.")
    id_number: IdNumber = Field(
        None, description="18-character resident ID number (GB 11643 check digit); stored encrypted."
    )
    phone: OptionalPhone = None
    address: Address = None
    assistant_staff_no: OptionalStaffNo = Field(None, description="工号 of an active assistant.")
    lives_alone: Flag = Field(False, description="Lives alone (独居); with the categories it sets the default 报平安 plan.")
    checkin_plan: OptionalPlan = Field(
        None, description="报平安 plan set by staff: daily (每天), weekly (每周) or off (关闭); it then stays as set "
        "whatever the categories. Left out: daily for 特困 and 留守老人 living alone, else off."
    )


class BeneficiaryUpdate(Input):
    """What the admin API may change on a beneficiary: living alone and the 报平安 plan. Left out: unchanged."""

    lives_alone: OptionalFlag = Field(None, description="Lives alone (独居); a plan staff never set follows it.")
    checkin_plan: OptionalPlan = Field(
        None, description="报平安 plan set by staff: daily, weekly or off; it then stays as set whatever the "
        "categories and living alone."
    )


class RequestCreate(Input):
    """A request a member of staff heard by phone, on a home visit or at the office (代办), logged for a
    beneficiary; it is classified, routed and escalated as one sent by WeChat."""

    beneficiary_id: StrictInt = Field(ge=1, description="The beneficiary's number (对象编号).")
    staff_no: StaffNo = Field(
        description="工号 of the member of staff who heard it: the beneficiary's assistant, a town officer of "
        "their town, or city staff."
    )
    channel: LoggedChannel = Field(description="How it was heard: phone (电话), home (上门), walk_in (来访), other.")
    content: Content = Field(description="What the beneficiary needs, in their words.")


class VillageOfficersUpdate(Input):
    """A village's responsible town officer and deputy; null (or left out): the town's default spread."""

    responsible_staff_no: OptionalStaffNo = Field(
        None, description="工号 of an active town officer of the village's town."
    )
    deputy_staff_no: OptionalStaffNo = Field(None, description="工号 of another active town officer of that town.")


class DepartmentUpdate(Input):
    """A department's name and its two liaisons; null (or left out) liaisons: the city's default spread."""

    name: Name
    liaison_staff_no: OptionalStaffNo = Field(None, description="工号 of an active city supervisor of the city.")
    deputy_staff_no: OptionalStaffNo = Field(None, description="工号 of another active city supervisor.")
    city_code: OptionalRegionCode = Field(None, description="The city; may be left out where there is only one.")


class DutyShiftCreate(Input):
    """One shift of the duty rota; a night shift crosses midnight."""

    staff_no: StaffNo = Field(description="工号 of an active city supervisor.")
    starts_at: AwareTime = Field(description="ISO 8601 with offset, e.g. 2026-12-01T17:30:00+08:00.")
    ends_at: AwareTime = Field(
        description=f"After starts_at, at most {policy.DUTY_SHIFT_MAX_HOURS} hours later, with offset."
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> DutyShiftCreate:
        """A shift ends after it starts, and within the longest shift the rota accepts."""
        if self.ends_at <= self.starts_at:
            raise refuse("ends_at", chain_admin.SHIFT_ORDER)
        if self.ends_at - self.starts_at > timedelta(hours=policy.DUTY_SHIFT_MAX_HOURS):
            raise refuse("ends_at", chain_admin.SHIFT_TOO_LONG.format(hours=policy.DUTY_SHIFT_MAX_HOURS))
        return self


# --- query strings ----------------------------------------------------------------------------------


class RegionQuery(Input):
    """Filters of the region list."""

    level: LevelFilter = Field(None, description="Only this level.")
    parent_code: QueryText = Field(None, description="Only the children of this region.")


class PageQuery(Input):
    """Which page of a list; checked before any filter."""

    page: Page = Field(1, description="From 1.")
    per_page: PerPage = Field(DEFAULT_PER_PAGE, description=f"At most {MAX_PER_PAGE}.")

    def page_request(self) -> PageRequest:
        """The page as the listing service takes it."""
        return PageRequest(page=self.page, per_page=self.per_page)


class StaffQuery(PageQuery):
    """Filters of the staff list."""

    role: RoleFilter = Field(None, description="Only this role.")
    region_code: QueryText = Field(None, description="Only staff of this region.")
    active: QueryBool = Field(None, description="Only active (true) or inactive (false) staff.")


class BeneficiaryQuery(PageQuery):
    """Filters of the beneficiary list."""

    village_code: QueryText = Field(None, description="Only this village.")
    town_code: QueryText = Field(None, description="Only villages of this town.")
    category: CategoryFilter = Field(None, description="Only this category.")


class RequestQuery(PageQuery):
    """Filters of the service-request list."""

    status: RequestStatusFilter = Field(None, description="Only this status.")
    town_code: QueryText = Field(None, description="Only requests raised in this town.")
    village_code: QueryText = Field(None, description="Only requests raised in this village.")
    assignee: QueryStaffNo = Field(None, description="Only requests assigned to this 工号.")
    urgency: UrgencyFilter = Field(None, description="Only this urgency.")
    overdue: QueryBool = Field(
        None,
        description="true: open past accept_deadline, or open/acknowledged past resolve_deadline; "
        "false: all others.",
    )


class OutboxQuery(PageQuery):
    """Filters of the outbox list."""

    status: OutboxStatusFilter = Field(None, description="Only this status.")


class DepartmentQuery(Input):
    """Which city's departments."""

    city_code: QueryText = Field(None, description="The city; may be left out where there is only one.")


class DutyShiftQuery(Input):
    """Which shifts of the rota: those overlapping [since, until)."""

    since: QueryTime = Field(None, description="With offset (+ written %2B); default: now.")
    until: QueryTime = Field(None, description="With offset; default: 7 days after since; at most 62 days after.")
    staff_no: QueryStaffNo = Field(None, description="Only this 工号's shifts.")
