"""Staff sign-in for the office dashboard: hashed passwords, a lock-out after failures, and a session
version that signing out or a new password moves on, so copies of older sign-ins stop working."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import inspect, or_, select, update
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
    """Store a new password (scrypt hash), clear any lock-out and end every sign-in made before."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"密码至少{MIN_PASSWORD_LENGTH}位")
    staff.password_hash = generate_password_hash(password)
    staff.failed_logins = 0
    staff.locked_until = None
    if inspect(staff).has_identity:
        # Counted in SQL, so a sign-out at the same moment never lands on the same number.
        staff.session_version = Staff.session_version + 1
    else:
        staff.session_version = (staff.session_version or 0) + 1
    staff.updated_at = now


def end_sessions(session: Session, staff_id: int) -> None:
    """End every dashboard sign-in of this member of staff (signing out, on any browser)."""
    session.execute(update(Staff).where(Staff.id == staff_id).values(session_version=Staff.session_version + 1)
                    .execution_options(synchronize_session="fetch"))


def authenticate(session: Session, staff_no: str, password: str, now: datetime) -> Staff:
    """The active staff member with these credentials; a DomainError otherwise (and failures counted).

    Each attempt is counted in one UPDATE before the password is checked, and that row stays locked
    until the caller commits: parallel guesses queue up one by one, and at most LOGIN_MAX_FAILURES
    passwords are ever checked before the lock-out, however many arrive at once.
    """
    staff = session.scalars(select(Staff).where(Staff.staff_no == (staff_no or "").strip().upper())).one_or_none()
    if staff is None or not staff.active or not staff.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")
        raise DomainError(WRONG)
    attempt = session.execute(
        update(Staff)
        .where(Staff.id == staff.id, or_(Staff.locked_until.is_(None), Staff.locked_until <= now))
        .values(failed_logins=Staff.failed_logins + 1)
        .returning(Staff.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if attempt is None:
        session.refresh(staff, ["locked_until"])
        raise DomainError(LOCKED.format(minutes=_minutes_left(staff.locked_until, now)))
    if attempt > policy.LOGIN_MAX_FAILURES:
        # Only when attempts overlapped a lock-out being set: refused unchecked all the same.
        raise DomainError(LOCKED.format(minutes=policy.LOGIN_LOCK_MINUTES))
    if not check_password_hash(staff.password_hash, password or ""):
        if attempt < policy.LOGIN_MAX_FAILURES:
            session.expire(staff, ["failed_logins"])
            raise DomainError(WRONG)
        _reset(session, staff, locked_until=now + timedelta(minutes=policy.LOGIN_LOCK_MINUTES))
        raise DomainError(LOCKED.format(minutes=policy.LOGIN_LOCK_MINUTES))
    _reset(session, staff, locked_until=None)
    return staff


def _reset(session: Session, staff: Staff, *, locked_until: datetime | None) -> None:
    """Start counting failures again, with the account locked until `locked_until` (or not)."""
    session.execute(update(Staff).where(Staff.id == staff.id).values(failed_logins=0, locked_until=locked_until)
                    .execution_options(synchronize_session=False))
    session.expire(staff, ["failed_logins", "locked_until"])


def _minutes_left(locked_until: datetime | None, now: datetime) -> int:
    """Whole minutes until a lock-out lapses, at least one."""
    if locked_until is None:
        return 1
    return max(int((locked_until - now).total_seconds() // 60) + 1, 1)
