"""Staff sign-in for the office dashboard: hashed passwords and a lock-out after failures."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from config import policy
from models import Staff
from services.errors import DomainError

MIN_PASSWORD_LENGTH = 8
# Checked against when the staff number is unknown, so both paths cost the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")

WRONG = "工号或密码不对"
LOCKED = "登录失败次数太多，账号已锁定，请{minutes}分钟后再试"


def set_password(staff: Staff, password: str, now: datetime) -> None:
    """Store a new password (scrypt hash) and clear any lock-out."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"密码至少{MIN_PASSWORD_LENGTH}位")
    staff.password_hash = generate_password_hash(password)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.updated_at = now


def authenticate(session: Session, staff_no: str, password: str, now: datetime) -> Staff:
    """The active staff member with these credentials; a DomainError otherwise (and failures counted)."""
    staff = session.scalars(select(Staff).where(Staff.staff_no == (staff_no or "").strip().upper())).one_or_none()
    if staff is None or not staff.active or not staff.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")
        raise DomainError(WRONG)
    if staff.locked_until and staff.locked_until > now:
        minutes = max(int((staff.locked_until - now).total_seconds() // 60) + 1, 1)
        raise DomainError(LOCKED.format(minutes=minutes))
    if not check_password_hash(staff.password_hash, password or ""):
        staff.failed_logins = (staff.failed_logins or 0) + 1
        if staff.failed_logins >= policy.LOGIN_MAX_FAILURES:
            staff.locked_until = now + timedelta(minutes=policy.LOGIN_LOCK_MINUTES)
            staff.failed_logins = 0
            raise DomainError(LOCKED.format(minutes=policy.LOGIN_LOCK_MINUTES))
        raise DomainError(WRONG)
    staff.failed_logins = 0
    staff.locked_until = None
    return staff
