"""Web authorisation (网页授权) for the WeChat API stand-in.

`GET /connect/oauth2/authorize` is the page WeChat's browser opens (on open.weixin.qq.com): it
sends the signed-in WeChat user back to `redirect_uri` with a one-time `code`, valid 5 minutes on
the stand-in's clock. `GET /sns/oauth2/access_token` exchanges the code for the user's openid.

Which WeChat user "is signed in" is a cookie of this browser: `GET /_oauth/login?openid=X&next=URL`
sets it (and redirects to `next`), `GET /_oauth/logout` clears it. Without it the authorise page
answers as WeChat does outside its app: "请在微信客户端打开链接".
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, jsonify, redirect, request

LOGIN_COOKIE = "fake_wechat_openid"
CODE_LIFETIME_SECONDS = 300
SNS_TOKEN_LIFETIME_SECONDS = 7200
SCOPES = ("snsapi_base", "snsapi_userinfo")

OAUTH_ERRMSG = {
    40002: "invalid grant_type",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
}

ERROR_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>微信网页授权</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><p>{message}</p></body></html>
"""


def error_page(message: str) -> Response:
    """An error as WeChat shows it: a page, with HTTP 200."""
    return Response(ERROR_PAGE.format(message=message), content_type="text/html; charset=utf-8")


def with_params(url: str, **params: str) -> str:
    """The URL with these query parameters added (after any it already has)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _authorize_problem(state) -> str | None:
    """The message WeChat's page would show for this authorise request, or None when it is fine."""
    args = request.args
    if not args.get("appid") or state.accounts.token_errcode(args["appid"], None) == 40013:
        return "appid 参数错误"
    redirect_uri = args.get("redirect_uri", "")
    if urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
        return "redirect_uri 参数错误"
    if args.get("response_type") != "code":
        return "response_type 参数错误"
    if args.get("scope") not in SCOPES:
        return "scope 参数错误或没有 scope 权限"
    if not request.cookies.get(LOGIN_COOKIE):
        return "请在微信客户端打开链接"
    return None


def register_oauth_routes(app: Flask, state, record, apply_fault) -> None:
    """Add the web-authorisation routes to the stand-in's app; `record` and `apply_fault` are the app's own."""

    @app.get("/connect/oauth2/authorize")
    def oauth_authorize():
        """WeChat's authorise page: back to redirect_uri with a one-time code, or an error page."""
        problem = _authorize_problem(state)
        if problem is not None:
            record("connect/oauth2/authorize", None, f"page {problem}")
            return error_page(problem)
        code = secrets.token_urlsafe(24)
        with state.lock:
            state.oauth_codes[code] = {
                "openid": _openid_under(state, request.cookies[LOGIN_COOKIE], request.args["appid"]),
                "scope": request.args["scope"],
                "appid": request.args["appid"],
                "expires_at": state.now() + CODE_LIFETIME_SECONDS,
                "used": False,
            }
        record("connect/oauth2/authorize", None, "redirected")
        return redirect(with_params(request.args["redirect_uri"], code=code, state=request.args.get("state", "")))

    @app.get("/sns/oauth2/access_token")
    def oauth_access_token():
        """Exchange a code for the user's openid and a web-authorisation token."""
        path = "sns/oauth2/access_token"
        failed, outcome = apply_fault(path)
        if failed is not None:
            record(path, None, outcome)
            return failed
        code, grant = _redeem(state)
        if code is not None:
            record(path, None, f"errcode {code}")
            return jsonify(errcode=code, errmsg=OAUTH_ERRMSG[code])
        record(path, None, "delivered")
        return jsonify(
            access_token=f"fake-sns-token-{secrets.token_urlsafe(16)}",
            expires_in=SNS_TOKEN_LIFETIME_SECONDS,
            refresh_token=f"fake-sns-refresh-{secrets.token_urlsafe(16)}",
            openid=grant["openid"],
            scope=grant["scope"],
        )

    @app.get("/_oauth/login")
    def oauth_login():
        """Test control: sign this browser in to the stand-in's WeChat."""
        openid = request.args.get("openid", "").strip()
        if not openid:
            return jsonify(error="pass the WeChat user as ?openid=…"), 400
        target = request.args.get("next")
        response = redirect(target) if target else Response(f"signed in to WeChat as {openid}\n",
                                                            content_type="text/plain; charset=utf-8")
        response.set_cookie(LOGIN_COOKIE, openid, httponly=True, samesite="Lax")
        return response

    @app.get("/_oauth/logout")
    def oauth_logout():
        """Test control: sign this browser out."""
        target = request.args.get("next")
        response = redirect(target) if target else Response("signed out of WeChat\n", content_type="text/plain")
        response.delete_cookie(LOGIN_COOKIE)
        return response


def _openid_under(state, openid: str, app_id: str) -> str:
    """The signed-in person's openid under the account `app_id`: the cookie's own when it is that
    account's; another one, stable and made from both, when it is another account's, as WeChat gives
    one person a different openid under each account."""
    owner = state.accounts.owner(openid)
    return openid if owner is None or owner == app_id else f"{openid}.{app_id}"


def _redeem(state) -> tuple[int | None, dict | None]:
    """(errcode, None) when WeChat would refuse this code exchange, else (None, the grant), the code
    then used up; checked and used under one lock so that a code is never redeemed twice."""
    args = request.args
    if not args.get("appid") or not args.get("secret"):
        return (40013 if not args.get("appid") else 40125), None
    # Every account the stand-in knows (its default and those added), each with its own secret.
    refused = state.accounts.token_errcode(args["appid"], args["secret"])
    if refused is not None:
        return refused, None
    if args.get("grant_type") != "authorization_code":
        return 40002, None
    with state.lock:
        grant = state.oauth_codes.get(args.get("code") or "")
        if grant is None or grant["appid"] != args["appid"] or state.now() >= grant["expires_at"]:
            return 40029, None
        if grant["used"]:
            return 40163, None
        grant["used"] = True
        return None, dict(grant)
