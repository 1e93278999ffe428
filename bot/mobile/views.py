"""The mobile list page and its kind error pages."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request
from werkzeug.exceptions import HTTPException

from bot.deps import db_session, services
from config import policy
from models import Staff
from services import audit, summary_lists
from services.summary_links import CASES, CITY_DIGEST, TOWN_DIGEST, VISITS, LinkExpired, LinkInvalid

logger = logging.getLogger(__name__)

# Templates and static files sit beside the package, in bot/templates and bot/static.
bp = Blueprint("mobile", __name__, url_prefix="/m", template_folder="../templates",
               static_folder="../static", static_url_path="/static")

# The page holds names and case details and its address is the key: never cached by a proxy,
# stored by the browser, indexed, or sent on as a Referer; nothing is loaded from elsewhere.
PRIVATE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
}
TITLES = {CASES: "求助清单", VISITS: "走访清单", TOWN_DIGEST: "民政日报", CITY_DIGEST: "全市民政周报"}
OVERDUE_VISITS_TITLE = "超期未走访"


def _answer(template: str, status: int, **context):
    """A rendered page with the private headers."""
    return render_template(template, **context), status, PRIVATE_HEADERS


def _refused(status: int):
    """The kind page for a link that does not work: 404 unknown or changed, 410 expired."""
    return _answer("mobile/refused.html", status, expired=status == 410, days=policy.MOBILE_LIST_DAYS)


@bp.get("/list/<path:token>")
def summary_list(token: str):
    """A summary's whole list for the recipient its token names, as it stands now."""
    svc = services()
    links = svc.request_env.links
    now = svc.clock()
    if links is None:
        return _refused(404)
    try:
        listed = links.read(token, now)
    except LinkExpired:
        # The token is never logged: it is the key to the page.
        logger.info("mobile=list_refused reason=expired")
        return _refused(410)
    except LinkInvalid:
        logger.info("mobile=list_refused reason=invalid")
        return _refused(404)
    db = db_session()
    staff = db.get(Staff, listed.staff_id)
    if staff is None or not staff.active:
        logger.info("mobile=list_refused reason=staff_inactive staff=%s", listed.staff_id)
        return _refused(404)
    page = summary_lists.list_page(db, staff, listed, now, svc.settings.tz)
    audit.record(db, now, "mobile.list", staff=staff, detail={"kind": listed.kind, "items": page.items},
                 ip=request.remote_addr)
    db.commit()
    logger.info("mobile=list kind=%s staff=%s items=%s", listed.kind, staff.id, page.items)
    title = OVERDUE_VISITS_TITLE if listed.kind == VISITS and listed.ids else TITLES[listed.kind]
    if listed.kind == TOWN_DIGEST and staff.region is not None:
        title = f"{staff.region.name}{title}"
    return _answer("mobile/list.html", 200, page=page, title=title, staff=staff, days=links.days)


@bp.errorhandler(Exception)
def failed(exc: Exception):
    """Never a stack trace or JSON to a phone: a short kind page (the log has the error, not the path)."""
    if isinstance(exc, HTTPException):
        return _refused(exc.code or 500)
    logger.exception("mobile=failed")
    return _answer("mobile/failed.html", 500)
