"""The columns of each kind of import file: headers, the other spellings offices use, template layout."""

from __future__ import annotations

from dataclasses import dataclass

from models.enums import CHECKIN_PLAN_NAMES, BeneficiaryCategory, RegionLevel
from services.imports.wording import REPORT_EXTRA_HEADERS
from services.policy import validate as rules


@dataclass(frozen=True)
class Column:
    """One column of an import file: its header, other spellings offices use, and template layout."""

    key: str
    header: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    width: int = 14
    # Kept as text in the template, so Excel never turns an ID number or 工号 into a number.
    text: bool = False
    in_template: bool = True
    hint: str = ""


CATEGORY_CHOICES = "、".join(c.value for c in BeneficiaryCategory)
ROLE_CHOICES = "、".join(rules.ROLE_LABELS.values())
PLAN_CHOICES = "、".join(CHECKIN_PLAN_NAMES.values())
YES_NO = {"是": True, "否": False}

BENEFICIARY_COLUMNS = (
    Column("name", "姓名", True, width=12, hint="必填"),
    Column("id_number", "身份证号", True, ("身份证号码", "公民身份号码"), width=22, text=True,
           hint="必填，18位，最后一位可以是X"),
    Column("phone", "联系电话", False, ("电话", "手机号", "手机号码"), width=16, text=True,
           hint="手机号或带区号的座机号，如 0716-1234567"),
    Column("categories", "对象类别", True, ("类别", "对象类型"), width=22,
           hint=f"必填，可填多个，用“、”分隔：{CATEGORY_CHOICES}"),
    Column("village_code", "所属村（社区）代码", False, ("村（社区）代码", "村代码"), width=20, text=True,
           hint="村（社区）的行政区划代码；也可以改用“所属村（社区）”列填写名称"),
    Column("village_name", "所属村（社区）", False, ("村（社区）", "所属村", "所属社区"), width=14,
           in_template=False),
    Column("address", "家庭住址", False, ("住址", "家庭地址"), width=32),
    Column("assistant_no", "协理员工号", False, ("协理员", "责任协理员工号"), width=12, text=True,
           hint="该村（社区）在岗协理员的工号；留空则不改变现有指派"),
    Column("lives_alone", "独居", False, ("是否独居",), width=8, hint="是或否；留空则不改变"),
    Column("checkin_plan", "平安计划", False, ("报平安计划",), width=10,
           hint=f"{PLAN_CHOICES}；留空则按对象类别和是否独居（独居的特困、留守老人每天报平安）"),
)

STAFF_COLUMNS = (
    Column("staff_no", "工号", True, width=12, text=True, hint="必填，字母、数字和连字符"),
    Column("name", "姓名", True, width=12, hint="必填"),
    Column("phone", "联系电话", True, ("电话", "手机号", "手机号码"), width=16, text=True, hint="必填"),
    Column("role", "角色", True, width=16, hint=f"必填：{ROLE_CHOICES}"),
    Column("region_code", "所属区域代码", True, ("区域代码",), width=18, text=True,
           hint="协理员填村（社区）代码，乡镇民政助理员填乡镇代码，市级填市代码"),
)

DUTY_COLUMNS = (
    Column("staff_no", "工号", True, ("值班人员工号", "值班人工号"), width=12, text=True,
           hint="必填，在岗的市级民政联络员（市级督办）的工号"),
    Column("name", "姓名", False, ("值班人员", "值班人"), width=12, hint="可不填；填了会与工号核对"),
    Column("starts_at", "开始时间", True, ("值班开始时间", "开始"), width=20,
           hint="必填，当地时间，如 2026-12-01 17:30；也可以是 Excel 的日期时间格式"),
    Column("ends_at", "结束时间", True, ("值班结束时间", "结束"), width=20,
           hint="必填，如 2026-12-02 08:30；夜班可跨到次日"),
)

VILLAGE_OFFICER_COLUMNS = (
    Column("village_code", "村（社区）代码", True, ("所属村（社区）代码", "村代码"), width=20, text=True,
           hint="必填，村（社区）的行政区划代码"),
    Column("name", "村（社区）", False, ("村（社区）名称", "村名"), width=14, hint="可不填；填了会与代码核对"),
    Column("responsible_no", "责任人工号", True, ("包村责任人工号", "包村干部工号"), width=14, text=True,
           hint="必填，本乡镇在岗的民政助理员；填“默认”则按平均分配"),
    Column("deputy_no", "副责任人工号", False, ("包村副责任人工号",), width=14, text=True,
           hint="留空则不改变；填“默认”则按平均分配"),
)

DEPARTMENT_COLUMNS = (
    Column("code", "部门代码", True, ("部门编码",), width=20, text=True, hint="必填，见“部门代码”表"),
    Column("name", "部门名称", False, ("部门",), width=16, hint="留空则不改变"),
    Column("responsible_no", "负责联络员工号", True, ("联络员工号", "负责人工号"), width=16, text=True,
           hint="必填，本市在岗的市级民政联络员；填“默认”则按平均分配"),
    Column("deputy_no", "副联络员工号", False, ("副负责人工号",), width=14, text=True,
           hint="留空则不改变；填“默认”则按平均分配"),
)

# Columns of our own error report: a corrected report can be imported again as it is.
IGNORED_HEADERS = frozenset({"序号", *REPORT_EXTRA_HEADERS})


def header_key(header: str) -> str:
    """Headers compare folded (full-width brackets, spaces) and without a required-mark star."""
    return rules.canonical(header).strip("*")


def level_label(level: str) -> str:
    """A region level (a `RegionLevel` value) as office staff call it."""
    return rules.LEVEL_LABELS[RegionLevel(level)]
