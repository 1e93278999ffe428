"""Signing in and out of the office dashboard."""

from __future__ import annotations

import logging

from flask import redirect, render_template, request, session, url_for

from bot.deps import db_session, services
from bot.office.common import bp, signed_in, signed_in_staff
from services import accounts, audit
from services.errors import DomainError

logger = logging.getLogger(__name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form (CSRF-protected); wrong passwords count towards a lock-out."""
    error = None
    if request.method == "POST":
        db = db_session()
        now = services().clock()
        try:
            staff = accounts.authenticate(db, request.form.get("staff_no", ""), request.form.get("password", ""), now)
        except DomainError as refused:
            db.commit()  # keep the failure count
            error = refused.message
            logger.info("office=login_failed remote=%s", request.remote_addr)
        else:
            audit.record(db, now, "login", staff=staff, ip=request.remote_addr)
            db.commit()
            session.clear()
            session["staff_id"], session["signed_at"] = staff.id, now.timestamp()
            session["session_version"] = staff.session_version
            target = request.args.get("next", "")
            # Only local paths: never an open redirect.
            return redirect(target if target.startswith("/office") else url_for("office.home"))
    # A wrong password keeps the staff number typed, so only the password needs typing again.
    staff_no = request.form.get("staff_no", "").strip()[:32] if error else ""
    return render_template("office/login.html", error=error, staff_no=staff_no), 401 if error else 200


@bp.post("/logout")
def logout():
    """Sign out: this sign-in, and every other of the same member of staff, ends on the server too."""
    staff = signed_in_staff()
    if staff is not None:
        # A copy of the cookie (another browser, or one taken) must not outlive the sign-out.
        db = db_session()
        accounts.end_sessions(db, staff.id)
        audit.record(db, services().clock(), "logout", staff=staff, ip=request.remote_addr)
        db.commit()
    session.clear()
    return redirect(url_for("office.login"))


@bp.get("/")
@signed_in()
def home():
    """The start page: the service map."""
    return redirect(url_for("office.service_map"))
