"""Staff sign-in on the phone pages through WeChat web authorisation (网页授权, snsapi_base).

A page that needs a member of staff sends a browser without a sign-in to WeChat's authorise
page; WeChat sends it back to `/m/oauth` with a code and our signed state; the code gives the
openid, the openid the bound, active member of staff. A link sent through an added official
account names it (`?account=`) and the sign-in goes through that account: the reader's openid
there is the one we know them by. The sign-in is kept in the Flask session under a key of its own
for a few hours, apart from the office's password sign-in: signing in to one never signs anyone in
to the other.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from urllib.parse import urlencode

from flask import g, redirect, render_template, request, session

from bot.deps import db_session, services
from bot.mobile.views import PRIVATE_HEADERS, bp
from models import Staff
from runtime.wechat_oauth import MAX_NEXT_PATH, OAuthError, StateInvalid, WebAuth
from services import audit, identity
from services.policy.account_links import ACCOUNT_PARAM
from services.scope import scope_for

logger = logging.getLogger(__name__)

SESSION_KEY = "mobile_sign_in"
# A working day: a phone left on a desk stops showing cases by the next morning.
SIGN_IN_HOURS = 8


def notice(status: int, title: str, *lines: str):
    """A kind page in place of what was asked for."""
    return render_template("mobile/notice.html", title=title, lines=lines), status, PRIVATE_HEADERS


def signed_in_staff() -> Staff | None:
    """The member of staff signed in on this phone, while the sign-in is fresh and they are active."""
    mark = session.get(SESSION_KEY)
    if not isinstance(mark, dict):
        return None
    age = services().clock().timestamp() - float(mark.get("at", 0))
    staff = db_session().get(Staff, mark.get("staff")) if 0 <= age < SIGN_IN_HOURS * 3600 else None
    if staff is None or not staff.active:
        session.pop(SESSION_KEY, None)
        return None
    return staff


def staff_only(*, sign_in: bool = True):
    """Require a mobile sign-in; sets g.staff and g.scope. Without one, go to WeChat (or 401 for files)."""

    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            staff = signed_in_staff()
            if staff is None:
                if not sign_in or request.method != "GET":
                    return notice(401, "请先登录", "请回到微信，从提醒里重新打开这个页面。")
                web_auth = account_web_auth(request.args.get(ACCOUNT_PARAM))
                if web_auth is None:
                    return notice(404, "链接已失效", "请回到微信，从提醒里重新打开这个页面。")
                return redirect(web_auth.sign_in_url(_back_to(), services().clock()))
            g.staff, g.scope = staff, scope_for(staff)
            return view(*args, **kwargs)

        return inner

    return wrap


def account_web_auth(slug: str | None) -> WebAuth | None:
    """Web authorisation through the account a link names (`?account=`; none: the default one), whose
    openids are the reader's there; None for an account this deployment does not have."""
    svc = services()
    if not slug:
        return svc.web_auth
    accounts = svc.wechat.accounts
    account = accounts.by_slug(slug) if accounts is not None else None
    if account is None:
        return None
    client = accounts.client(account.id)
    # Back to /m/oauth with the account named, so the code is exchanged with the same AppID.
    callback = f"{svc.web_auth.redirect_uri}?{urlencode({ACCOUNT_PARAM: slug})}"
    return replace(svc.web_auth, app_id=client.appid, app_secret=client.secret, redirect_uri=callback)


def _back_to() -> str:
    """The page to come back to after signing in: with its query (`/m/log?beneficiary=12`) when that fits the state."""
    query = request.query_string
    # Browsers send a query percent-encoded; anything else, or a long one, is left behind.
    if query and query.isascii() and len(request.path) + 1 + len(query) <= MAX_NEXT_PATH:
        return f"{request.path}?{query.decode('ascii')}"
    return request.path


@bp.get("/oauth")
def oauth():
    """WeChat sends the browser back here: exchange the code, sign the member of staff in, go on."""
    svc = services()
    now = svc.clock()
    web_auth = account_web_auth(request.args.get(ACCOUNT_PARAM))
    if web_auth is None:
        logger.info("mobile=sign_in_refused reason=unknown_account")
        return notice(400, "链接已失效", "请回到微信，从提醒里重新打开。")
    try:
        next_path = web_auth.next_path(request.args.get("state", ""), now)
    except StateInvalid as exc:
        logger.info("mobile=sign_in_refused reason=state_%s", exc)
        return notice(400, "链接已失效", "请回到微信，从提醒里重新打开。")
    code = request.args.get("code", "")
    if not code:
        # The user declined, or WeChat sent no code: nothing to exchange.
        return notice(400, "没有登录成功", "请回到微信，从提醒里重新打开。")
    try:
        openid = web_auth.openid_for(code)
    except OAuthError as exc:
        logger.warning("mobile=sign_in_failed errcode=%s", exc.errcode)
        if signed_in_staff() is not None:
            # Back or reload on this address re-sends a used code; the sign-in is already here.
            return redirect(next_path)
        if exc.errcode is None:
            return notice(502, "暂时连不上微信", "请稍等一会儿，再从提醒里重新打开。")
        return notice(400, "没有登录成功", "请回到微信，从提醒里重新打开。")
    db = db_session()
    staff = identity.staff_for_openid(db, openid)
    if staff is None:
        logger.info("mobile=sign_in_refused reason=not_staff")
        return notice(403, "这个页面只给工作人员使用",
                      "您的微信还没有绑定工作人员账号。",
                      "工作人员请在公众号里发送“绑定 邀请码”，绑定后再打开。")
    session[SESSION_KEY] = {"staff": staff.id, "at": now.timestamp()}
    audit.record(db, now, "mobile.sign_in", staff=staff, ip=request.remote_addr)
    db.commit()
    logger.info("mobile=sign_in staff=%s", staff.id)
    return redirect(next_path)
