"""The import templates (.xlsx): styled headers, an example row, drop-down lists, instructions, reference codes.

The reference sheets name staff, so they follow the viewer's scope (`services/scope.py`): the city for
administrators, city supervisors and the command line, one town for its officer, no staff for an assistant.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from config import policy
from models import Region, Staff
from models.enums import CHECKIN_PLAN_NAMES, BeneficiaryCategory, RegionLevel, StaffRole
from services.imports.columns import (
    BENEFICIARY_COLUMNS,
    CATEGORY_CHOICES,
    DEPARTMENT_COLUMNS,
    DUTY_COLUMNS,
    ROLE_CHOICES,
    STAFF_COLUMNS,
    VILLAGE_OFFICER_COLUMNS,
    YES_NO,
    Column,
    level_label,
)
from services.policy import id_number
from services.policy import validate as rules
from services import scope as scoping
from services.scope import EVERYWHERE, Scope
from services.sheet_text import as_text, text_row

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="2F5597")
REQUIRED_FILL = PatternFill("solid", fgColor="C00000")
EXAMPLE_FONT = Font(italic=True, color="808080")
# Enough validated rows for any village's list; data validation ranges must be finite.
VALIDATED_ROWS = 5000

BENEFICIARY_EXAMPLE = {
    "name": "示例：张三（导入时会跳过此行）",
    # A well-formed number for a person born 1 Jan 1950; not anyone's real number.
    "id_number": "42108319500101001" + id_number.check_digit("42108319500101001"),
    "phone": "13800000000",
    "categories": "低保、留守老人",
    "village_code": "421083100201",
    "address": "东湾村东头组12号",
    "assistant_no": "A0001",
    "lives_alone": "是",
    "checkin_plan": "每天",
}
STAFF_EXAMPLE = {
    "staff_no": "A0001",
    "name": "示例：李四（导入时会跳过此行）",
    "phone": "13900000000",
    "role": "协理员",
    "region_code": "421083100201",
}
DUTY_EXAMPLE = {
    "staff_no": "C0001",
    "name": "示例：周杰（导入时会跳过此行）",
    "starts_at": "2026-12-01 17:30",
    "ends_at": "2026-12-02 08:30",
}
VILLAGE_OFFICER_EXAMPLE = {
    "village_code": "421083100201",
    "name": "示例：东湾村（导入时会跳过此行）",
    "responsible_no": "T0001",
    "deputy_no": "T0002",
}
DEPARTMENT_EXAMPLE = {
    "code": "health",
    "name": "示例：市卫健委（导入时会跳过此行）",
    "responsible_no": "C0001",
    "deputy_no": "C0002",
}

INSTRUCTIONS = {
    "beneficiaries": [
        "服务对象导入说明",
        "1. 在“服务对象”表中从第3行起逐行填写，第2行是示例，导入时自动跳过（也可以删掉）。",
        "2. 红色列名为必填：姓名、身份证号、对象类别、所属村（社区）代码。",
        "3. 身份证号按文本填写（本模板已设好），18位，最后一位可以是X；同一身份证号只能出现一次。",
        f"4. 对象类别可填多个，用“、”分隔，可选：{CATEGORY_CHOICES}。",
        "5. 所属村（社区）代码填行政区划代码；也可以把列名改为“所属村（社区）”改填村（社区）名称（全市唯一时）。",
        "6. 协理员工号须是该村（社区）在岗协理员；留空则保持现有指派。",
        "7. 已登记过的身份证号会更新姓名、电话、住址、类别和村（社区）；空白格不会覆盖已有信息。",
        "8. 独居填“是”或“否”。平安计划填每天、每周或关闭；留空则按类别：独居的特困人员、留守老人每天报平安，其他人不用。",
        "9. 有错误时整份文件都不会导入，请下载错误报告改正后重新导入，或确认只导入正确的行。",
    ],
    "staff": [
        "工作人员导入说明",
        "1. 在“工作人员”表中从第3行起逐行填写，第2行是示例，导入时自动跳过（也可以删掉）。",
        "2. 所有列均为必填；工号已存在时更新该工作人员的姓名、电话、角色和区域。",
        f"3. 角色可选：{ROLE_CHOICES}。",
        "4. 协理员填所在村（社区）代码，乡镇民政助理员填乡镇（街道）代码，市级督办和管理员填市代码。",
        "5. 仍负责服务对象的协理员不能通过导入调整角色或区域，请先在服务地图上转派。",
    ],
    "duty": [
        "值班表导入说明",
        "1. 在“值班表”中从第3行起每行填写一次值班，第2行是示例，导入时自动跳过（也可以删掉）。",
        "2. 工号为在岗的市级民政联络员（市级督办），见“值班人员”表；姓名可不填，填了会与工号核对。",
        "3. 开始时间、结束时间填当地时间，如 2026-12-01 17:30；也可以用 Excel 的日期时间格式。夜班可跨到次日。",
        f"4. 一次值班最长 {policy.DUTY_SHIFT_MAX_HOURS} 小时；同一人的值班不能重叠。",
        "5. 工作日 {0:%H:%M}–{1:%H:%M} 以外（夜间和休息日），紧急求助由值班人员处理。".format(*policy.OFFICE_HOURS),
        "6. 已在值班表里、时间完全相同的行不会重复添加。",
    ],
    "village_officers": [
        "包村责任导入说明",
        "1. 在“包村责任”表中每个村（社区）填一行，第2行是示例，导入时自动跳过（也可以删掉）。",
        "2. 责任人、副责任人须是该村所在乡镇在岗的民政助理员，见“村（社区）与助理员”表。",
        "3. 填“默认”表示不指定，按本乡镇在岗助理员平均分配；副责任人留空则保持现有安排。",
        "4. 责任人和副责任人不能是同一人。",
    ],
    "departments": [
        "职能部门联络员导入说明",
        "1. 在“职能部门”表中每个部门填一行，第2行是示例，导入时自动跳过（也可以删掉）。",
        "2. 部门代码见“部门代码”表；还没有建立的部门会按政策表自动建立。部门名称留空则不改变。",
        "3. 联络员须是本市在岗的市级民政联络员，见“联络员”表；填“默认”表示按平均分配；副联络员留空则保持现有安排。",
        "4. 负责联络员和副联络员不能是同一人。",
    ],
}


def _styled_header(sheet, columns: Sequence[Column]) -> None:
    """Header row: coloured, required columns in red, each with its hint as a comment."""
    for i, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=i, value=column.header)
        cell.font = HEADER_FONT
        cell.fill = REQUIRED_FILL if column.required else HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
        if column.hint:
            cell.comment = Comment(column.hint, "三直达")
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = column.width
        if column.text:
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    sheet.row_dimensions[1].height = 22


Reference = tuple[str, list[str], list[tuple]]


def _template(kind: str, title: str, columns: Sequence[Column], example: dict[str, str],
              reference: Reference | list[Reference] | None) -> bytes:
    """A template workbook: data sheet with header, example and validations, instructions, reference lists."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    columns = [c for c in columns if c.in_template]
    _styled_header(sheet, columns)
    for i, column in enumerate(columns, start=1):
        cell = as_text(sheet.cell(row=2, column=i), example.get(column.key, ""))
        cell.font = EXAMPLE_FONT
        if column.text:
            cell.number_format = "@"
    letters = {c.key: get_column_letter(i) for i, c in enumerate(columns, start=1)}
    last = VALIDATED_ROWS + 1
    if "categories" in letters:
        # Several categories are allowed in one cell, so the list suggests but does not refuse.
        rule = DataValidation(type="list", formula1='"' + ",".join(c.value for c in BeneficiaryCategory) + '"',
                              allow_blank=True, showErrorMessage=False, showInputMessage=True,
                              promptTitle="对象类别", prompt="可填多个，用“、”分隔")
        rule.add(f"{letters['categories']}2:{letters['categories']}{last}")
        sheet.add_data_validation(rule)
    for key, title, words in (("lives_alone", "独居", tuple(YES_NO)),
                              ("checkin_plan", "平安计划", tuple(CHECKIN_PLAN_NAMES.values()))):
        if key in letters:
            rule = DataValidation(type="list", formula1='"' + ",".join(words) + '"', allow_blank=True,
                                  showErrorMessage=True, errorTitle=title, error=f"请选择：{'、'.join(words)}")
            rule.add(f"{letters[key]}2:{letters[key]}{last}")
            sheet.add_data_validation(rule)
    if "role" in letters:
        rule = DataValidation(type="list", formula1='"' + ",".join(rules.ROLE_LABELS.values()) + '"',
                              allow_blank=False, showErrorMessage=True, errorTitle="角色",
                              error=f"请选择：{ROLE_CHOICES}")
        rule.add(f"{letters['role']}2:{letters['role']}{last}")
        sheet.add_data_validation(rule)
    notes = workbook.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 110
    for line in INSTRUCTIONS[kind]:
        notes.append([line])
    notes["A1"].font = Font(bold=True, size=14)
    for ref_title, ref_headers, ref_rows in [reference] if isinstance(reference, tuple) else reference or []:
        ref = workbook.create_sheet(ref_title)
        ref.append(ref_headers)
        for cell in ref[1]:
            cell.font = Font(bold=True)
        for row in ref_rows:
            # Names typed elsewhere (the API, an earlier import) are written as text, never as formulas.
            ref.append(text_row(ref, row))
        for i in range(1, len(ref_headers) + 1):
            ref.column_dimensions[get_column_letter(i)].width = 20
        ref.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _city_wide(scope: Scope | None) -> bool:
    """The command line (no scope), administrators and city supervisors see the whole city."""
    return scope is None or scope.is_city


def beneficiary_template(session: Session | None = None, scope: Scope | None = None) -> bytes:
    """The beneficiary import template (.xlsx); with a session, a sheet of the scope's village codes and
    assistants."""
    reference = None
    if session is not None and (_city_wide(scope) or scope.kind == "town"):
        town = aliased(Region)
        stmt = (
            select(Region.code, Region.name, town.name, Staff.staff_no, Staff.name)
            .join(town, town.id == Region.parent_id)
            .outerjoin(Staff, (Staff.region_id == Region.id) & (Staff.role == StaffRole.ASSISTANT.value)
                       & Staff.active.is_(True))
            .where(Region.level == RegionLevel.VILLAGE.value)
            .order_by(Region.code, Staff.staff_no)
        )
        rows = session.execute(scoping.regions(scope or EVERYWHERE, stmt)).all()
        reference = ("村（社区）代码", ["村（社区）代码", "村（社区）", "乡镇（街道）", "协理员工号", "协理员"],
                     [tuple("" if v is None else v for v in row) for row in rows])
    return _template("beneficiaries", "服务对象", BENEFICIARY_COLUMNS, BENEFICIARY_EXAMPLE, reference)


def staff_template(session: Session | None = None, scope: Scope | None = None) -> bytes:
    """The staff import template (.xlsx); with a session, a sheet of the code of every region in the scope."""
    reference = None
    if session is not None and (_city_wide(scope) or scope.kind == "town"):
        parent = aliased(Region)
        stmt = (
            select(Region.code, Region.name, Region.level, parent.name)
            .outerjoin(parent, parent.id == Region.parent_id)
            .order_by(Region.code)
        )
        rows = session.execute(scoping.regions(scope or EVERYWHERE, stmt)).all()
        reference = ("区域代码", ["区域代码", "名称", "级别", "上级区域"],
                     [(code, name, level_label(level), up or "") for code, name, level, up in rows])
    return _template("staff", "工作人员", STAFF_COLUMNS, STAFF_EXAMPLE, reference)


def _supervisors(session: Session, scope: Scope) -> list[tuple]:
    """Every active city supervisor in the scope's cities: 工号, name, city."""
    return [tuple(row) for row in session.execute(
        scoping.cities(scope, select(Staff.staff_no, Staff.name, Region.name).join(Region, Region.id == Staff.region_id)
                       .where(Staff.role == StaffRole.CITY_SUPERVISOR.value, Staff.active.is_(True)))
        .order_by(Staff.staff_no)
    )]


def duty_template(session: Session | None = None, scope: Scope | None = None) -> bytes:
    """The duty rota import template (.xlsx); with a session and a city-wide scope, who may go on duty."""
    city_staff = session is not None and _city_wide(scope)
    reference = ("值班人员", ["工号", "姓名", "所在市"], _supervisors(session, scope or EVERYWHERE)) if city_staff else None
    return _template("duty", "值班表", DUTY_COLUMNS, DUTY_EXAMPLE, reference)


def village_officer_template(session: Session | None = None, scope: Scope | None = None) -> bytes:
    """The village-split import template (.xlsx); with a session, every village in the scope with its
    town's officers."""
    reference = None
    if session is not None and (_city_wide(scope) or scope.kind == "town"):
        town = aliased(Region)
        officers: dict[int, list[str]] = {}
        officer_stmt = (
            select(Staff.region_id, Staff.staff_no, Staff.name)
            .where(Staff.role == StaffRole.TOWN_OFFICER.value, Staff.active.is_(True)).order_by(Staff.staff_no)
        )
        village_stmt = (
            select(Region.code, Region.name, town.name, town.id).join(town, town.id == Region.parent_id)
            .where(Region.level == RegionLevel.VILLAGE.value).order_by(Region.code)
        )
        officer_stmt = officer_stmt.where(Staff.region_id.in_(scoping.regions(scope or EVERYWHERE, select(Region.id))))
        village_stmt = scoping.regions(scope or EVERYWHERE, village_stmt)
        for region_id, staff_no, name in session.execute(officer_stmt):
            officers.setdefault(region_id, []).append(f"{staff_no} {name}")
        rows = [
            (code, name, town_name, "、".join(officers.get(town_id, [])))
            for code, name, town_name, town_id in session.execute(village_stmt)
        ]
        reference = ("村（社区）与助理员", ["村（社区）代码", "村（社区）", "乡镇（街道）", "本乡镇民政助理员"], rows)
    return _template("village_officers", "包村责任", VILLAGE_OFFICER_COLUMNS, VILLAGE_OFFICER_EXAMPLE, reference)


def department_template(session: Session | None = None, scope: Scope | None = None) -> bytes:
    """The departments import template (.xlsx): the policy's department codes and the categories
    each handles; with a session and a city-wide scope, the liaisons too."""
    handled: dict[str, list[str]] = {}
    for category, code in policy.CATEGORY_DEPARTMENT.items():
        handled.setdefault(code, []).append(category)
    references = [("部门代码", ["部门代码", "部门名称", "负责的求助类别"],
                   [(code, name, "、".join(handled.get(code, []))) for code, name in policy.DEPARTMENTS])]
    if session is not None and _city_wide(scope):
        references.append(("联络员", ["工号", "姓名", "所在市"], _supervisors(session, scope or EVERYWHERE)))
    return _template("departments", "职能部门", DEPARTMENT_COLUMNS, DEPARTMENT_EXAMPLE, references)
