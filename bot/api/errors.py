"""The admin API's refusals: the ApiError exception and every Chinese message a caller can read."""

from __future__ import annotations

# What the caller reads, in one place.
MSG_UNAUTHORIZED = "缺少或错误的访问令牌"
MSG_BODY_NOT_JSON = "请求体应为 JSON 对象"
MSG_REQUIRED = "{field} 不能为空"
MSG_NOT_TEXT = "{field} 应为文字"
MSG_TOO_LONG = "{field} 不能超过 {max_len} 个字符"
MSG_UNREADABLE = "{field} 含有无法识别的字符（如空字符），请检查后再试"
MSG_NOT_BOOL = "{field} 应为 true 或 false"
MSG_NOT_ONE_OF = "{field} 应为以下之一：{choices}"
MSG_BAD_PHONE = "{field} 应为11位手机号或带区号的座机号（如 0716-1234567）"
MSG_BAD_REGION_CODE = "区域代码应为数字（行政区划代码）"
MSG_BAD_STAFF_NO = "工号只能包含字母、数字和连字符，最长32位"
MSG_CITY_HAS_NO_PARENT = "省级区域不能填写上级区域"
MSG_PARENT_REQUIRED = "乡镇和村（社区）必须填写上级区域代码"
MSG_PARENT_UNKNOWN = "没有找到这个上级区域"
MSG_REGION_UNKNOWN = "没有找到这个区域"
MSG_VILLAGE_UNKNOWN = "没有找到这个村（社区）"
MSG_NOT_A_VILLAGE = "服务对象应属于村或社区"
MSG_CATEGORIES = "categories 应为非空列表，每项为：{choices}"
MSG_ASSISTANT_UNKNOWN = "没有找到这个工号"
MSG_PAGE = "page 应为1到{max}之间的整数"
MSG_PER_PAGE = "per_page 应为1到{max}之间的整数"
MSG_CODE_TAKEN = "区域代码已存在"
MSG_STAFF_NO_TAKEN = "工号已存在"
MSG_ID_NUMBER_TAKEN = "该身份证号已登记在其他服务对象名下"
MSG_STAFF_INACTIVE = "该工作人员已停用，不能发放邀请码"
MSG_STAFF_NOT_FOUND = "没有找到编号 {id} 的工作人员"
MSG_BENEFICIARY_NOT_FOUND = "没有找到编号 {id} 的服务对象"
MSG_REQUEST_NOT_FOUND = "没有找到编号 {id} 的求助"
MSG_CONFLICT = "{field} 与已有记录重复"
MSG_BAD_TIME = "{field} 应为带时区的 ISO 8601 时间，如 2026-12-01T17:30:00+08:00"
MSG_VILLAGE_NOT_FOUND = "没有找到代码为 {code} 的村（社区）"
MSG_DEPARTMENT_NOT_FOUND = "没有找到代码为 {code} 的部门"
MSG_SHIFT_NOT_FOUND = "没有找到编号 {id} 的值班"
MSG_STAFF_NO_UNKNOWN = "没有找到这个工号"
MSG_NOT_TOWN_OFFICER = "该工作人员不是{town}在岗的乡镇民政助理员"
MSG_NOT_LIAISON = "该工作人员不是本市在岗的市级民政联络员"
MSG_SAME_PERSON = "{field} 不能与 {other} 是同一人"
MSG_NOT_A_CITY = "city_code 应为市级区域的代码"
MSG_CITY_REQUIRED = "有多个市，请填写 city_code"
MSG_WINDOW = "until 应晚于 since，且相隔不超过 {days} 天"
MSG_SERVER_ERROR = "服务暂时出错，请稍后再试"
# Only for a pydantic error no rule of ours raised (a safety net: every field has its own rule).
MSG_INVALID = "{field} 的值不正确"


class ApiError(Exception):
    """A refused API call: HTTP status, machine-readable error, Chinese message, the field at fault."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None):
        """Keep the parts the error handler turns into the response."""
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field


def invalid(field: str, message: str) -> ApiError:
    """A 422 naming the field that failed validation."""
    return ApiError(422, "invalid", message, field)


def conflict(field: str, message: str) -> ApiError:
    """A 409: the field's value is already taken."""
    return ApiError(409, "conflict", message, field)


def not_found(message: str) -> ApiError:
    """A 404 for an unknown id in the path."""
    return ApiError(404, "not_found", message)


def bad_body() -> ApiError:
    """A 400: the body is not a JSON object."""
    return ApiError(400, "invalid", MSG_BODY_NOT_JSON, "body")
