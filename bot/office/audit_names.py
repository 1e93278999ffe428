"""The audit log's wording: what each recorded action is called and its detail as a sentence, in Chinese.

The log keeps stable codes (`cards.print`) and JSON; the page shows these names. An action or a
detail key without a name here is shown as stored, so nothing recorded is ever hidden.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.enums import CHECKIN_PLAN_NAMES

ACTION_NAMES = {
    "login": "登录工作台",
    "logout": "退出工作台",
    "cards.print": "打印关爱服务电话卡",
    "office.media": "查看语音或图片（工作台）",
    "beneficiary.id_number.view": "查看完整身份证号",
    "beneficiary.reassign": "更换协理员",
    "beneficiary.create": "新增服务对象",
    "beneficiary.bind_code": "重新生成绑定码",
    "beneficiary.checkin_plan": "设定报平安计划或独居",
    "case.log": "代为登记求助",
    "case.reassign": "转派求助",
    "case.comment": "添加备注",
    "case.close": "办结求助",
    "mobile.sign_in": "手机登录",
    "mobile.case": "手机查看求助",
    "mobile.case.accept": "手机接单",
    "mobile.case.reply": "手机回复",
    "mobile.case.resolve": "手机办结",
    "mobile.case.reassign": "手机转派",
    "mobile.case.log": "手机代为登记求助",
    "mobile.log": "手机打开代办登记",
    "mobile.media": "手机查看语音或图片",
    "mobile.list": "手机查看清单",
    "chain.village": "设置包村责任人",
    "chain.department.create": "新增职能部门",
    "chain.department.rename": "重命名职能部门",
    "chain.department.liaisons": "设置部门联络员",
    "duty.add": "新增值班",
    "duty.remove": "删除值班",
    "export.cases": "导出求助",
    "export.visits": "导出走访",
    "import.beneficiaries": "导入服务对象",
    "import.staff": "导入工作人员",
    "import.duty": "导入值班表",
    "import.village_officers": "导入包村责任",
    "import.departments": "导入职能部门",
    "region.create": "新增区域",
    "report.make": "生成月报",
    "report.download": "下载月报",
    "staff.create": "新增工作人员",
    "staff.invite": "生成工作人员邀请码",
    "staff.set_password": "设置密码",
}

# Who acted, when it was not a member of staff signed in (the entry's label, else its kind).
ACTOR_NAMES = {"cli": "命令行", "admin-api": "管理接口", "admin_api": "管理接口", "system": "系统", "wechat_user": "微信用户"}

TARGET_NAMES = {
    "beneficiary": "服务对象", "service_request": "求助", "media_item": "语音图片", "staff": "工作人员",
    "region": "区域", "department": "职能部门", "duty_shift": "值班", "monthly_report": "月报",
}

DETAIL_LABELS = {
    "count": "张数", "title": "标题", "request": "求助编号", "playable": "转为可播放格式", "media": "语音图片数",
    "from_staff_id": "原协理员", "to_staff_id": "新协理员", "responsible": "责任人", "deputy": "副责任人",
    "staff": "值班人", "starts_at": "开始", "ends_at": "结束", "code": "代码", "kind": "清单", "items": "条数",
    "filter": "筛选", "scoped": "限本人范围", "rows": "行数", "ok": "正确", "errors": "有错", "skipped": "跳过",
    "create": "新增", "update": "更新", "unchanged": "未变", "format": "文件格式", "town_id": "乡镇",
    "village_id": "村（社区）", "assignee_staff_id": "负责人", "since": "从", "until": "到",
    "village_code": "村（社区）代码", "categories": "类别", "has_id_number": "有身份证号", "staff_no": "工号",
    "role": "角色", "region_code": "区域代码", "level": "层级", "expires_at": "有效期至", "regenerated": "重新生成",
    "month": "月份", "city": "市", "town": "乡镇", "complete": "整月",
    "plan": "报平安计划", "plan_by_staff": "工作人员设定", "lives_alone": "独居",
}
# Detail keys that hold a member of staff's id: shown as their name and staff number.
STAFF_KEYS = frozenset({"from_staff_id", "to_staff_id", "responsible", "deputy", "staff", "assignee_staff_id"})


def action_name(action: str) -> str:
    """The Chinese name of an audited action, or the code itself when it has none."""
    return ACTION_NAMES.get(action, action)


def target_name(target_type: str | None, target_id: int | None) -> str:
    """What the entry is about, e.g. 求助 12."""
    if not target_type:
        return ""
    return f"{TARGET_NAMES.get(target_type, target_type)} {target_id if target_id is not None else ''}".strip()


def staff_ids(detail: Mapping | None) -> set[int]:
    """The staff ids a detail mentions, so the page can name them."""
    found = set()
    for key, value in (detail or {}).items():
        if key in STAFF_KEYS and isinstance(value, int):
            found.add(value)
        elif isinstance(value, Mapping):
            found |= staff_ids(value)
    return found


def describe_detail(detail: Mapping | None, staff: Mapping[int, object]) -> str:
    """A detail as `标签：值；…`, staff named, yes/no in words, empty values left out."""
    parts = []
    for key, value in (detail or {}).items():
        if value is None or value == "" or value == {}:
            continue
        label = DETAIL_LABELS.get(key, key)
        if isinstance(value, Mapping):
            inner = describe_detail(value, staff)
            if inner:
                parts.append(f"{label}（{inner}）")
            continue
        parts.append(f"{label}：{_value(key, value, staff)}")
    return "；".join(parts)


def _value(key: str, value, staff: Mapping[int, object]) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in STAFF_KEYS and isinstance(value, int):
        person = staff.get(value)
        return f"{person.name}（{person.staff_no}）" if person is not None else f"工作人员 {value}"
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if key == "plan":
        return CHECKIN_PLAN_NAMES.get(value, str(value))
    return str(value)
