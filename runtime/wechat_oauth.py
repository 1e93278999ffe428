"""WeChat web authorisation (网页授权, scope snsapi_base): who is opening our page in WeChat.

A page staff open from a push sends the browser to WeChat's authorise page (WECHAT_OAUTH_URL);
WeChat sends it back to PUBLIC_BASE_URL + `/m/oauth` with a one-time `code`, which we exchange
at `sns/oauth2/access_token` (beside WECHAT_API_BASE_URL's `cgi-bin/`) for the user's openid.
snsapi_base asks the user nothing: it only tells us the openid.

wechatpy's `WeChatOAuth` hard-codes WeChat's hosts, so the stand-in could not answer it; this
adapter takes both addresses from the settings and is a few lines of `requests`.

The `state` WeChat hands back names where to go next, signed with SECRET_KEY and dated, so
nobody can send a member of staff through our sign-in to somewhere else, and an old one is
refused. WeChat allows only letters and digits in it, up to 128 bytes: the path is hex-encoded.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import requests

from config.settings import Settings

CALLBACK_PATH = "/m/oauth"
SCOPE = "snsapi_base"
# Long enough to sign in on a slow phone, short enough that a copied link soon stops working.
STATE_SECONDS = 600
# hex(path) + two separators + a 10-digit time + the signature must stay within WeChat's 128 bytes.
MAX_NEXT_PATH = 40
_SIGNATURE_CHARS = 32
_SEPARATOR = "x"  # never a hex digit


class OAuthError(Exception):
    """WeChat refused the code (used, expired, wrong app) or could not be reached."""

    def __init__(self, message: str, errcode: int | None = None):
        super().__init__(message)
        self.errcode = errcode


class StateInvalid(Exception):
    """The state is not one we signed, was changed, or is too old."""


def sns_token_url(api_base_url: str) -> str:
    """Where the code is exchanged: WECHAT_API_BASE_URL with `cgi-bin/` replaced by `sns/oauth2/access_token`."""
    base = api_base_url.rstrip("/")
    if base.endswith("/cgi-bin"):
        base = base[: -len("/cgi-bin")]
    return f"{base}/sns/oauth2/access_token"


@dataclass(frozen=True)
class WebAuth:
    """Builds the authorise address and exchanges a code for an openid."""

    app_id: str
    app_secret: str
    authorize_url: str
    token_url: str
    redirect_uri: str
    secret_key: str
    timeout: float = 5.0

    def sign_in_url(self, next_path: str, now: datetime) -> str:
        """WeChat's authorise page, sending the browser back to us with a code and the signed `next_path`."""
        query = urlencode({
            "appid": self.app_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": self.state_for(next_path, now),
        })
        # WeChat requires the fragment; without it the page shows an error on some phones.
        return f"{self.authorize_url}?{query}#wechat_redirect"

    def state_for(self, next_path: str, now: datetime) -> str:
        """A signed, dated value naming a path of ours (only `/m/…` pages)."""
        if not next_path.startswith("/m/") or len(next_path) > MAX_NEXT_PATH:
            raise ValueError(f"not a mobile page path: {next_path!r}")
        body = f"{next_path.encode().hex()}{_SEPARATOR}{int(now.timestamp())}"
        return f"{body}{_SEPARATOR}{self._signature(body)}"

    def next_path(self, state: str, now: datetime) -> str:
        """The path a state names; StateInvalid when it was not signed by us or is too old."""
        body, _, signature = state.rpartition(_SEPARATOR)
        if not body or not hmac.compare_digest(signature, self._signature(body)):
            raise StateInvalid("bad signature")
        path_hex, _, signed_at = body.partition(_SEPARATOR)
        if not signed_at.isdigit() or not 0 <= now.timestamp() - int(signed_at) <= STATE_SECONDS:
            raise StateInvalid("expired")
        try:
            return bytes.fromhex(path_hex).decode()
        except ValueError:
            raise StateInvalid("bad path") from None

    def openid_for(self, code: str) -> str:
        """Exchange a one-time code for the WeChat user's openid (OAuthError when WeChat refuses)."""
        params = {"appid": self.app_id, "secret": self.app_secret, "code": code, "grant_type": "authorization_code"}
        try:
            answer = requests.get(self.token_url, params=params, timeout=self.timeout)
            answer.raise_for_status()
            body = answer.json()
        except (requests.RequestException, ValueError) as exc:
            # Never the URL: it carries the app secret.
            raise OAuthError(f"sns/oauth2/access_token failed: {type(exc).__name__}") from None
        if body.get("errcode") or not body.get("openid"):
            raise OAuthError(f"sns/oauth2/access_token errcode {body.get('errcode')}", body.get("errcode"))
        return str(body["openid"])

    def _signature(self, body: str) -> str:
        key = f"sanzhida.wechat-oauth-state:{self.secret_key}".encode()
        return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:_SIGNATURE_CHARS]


def make_web_auth(settings: Settings) -> WebAuth:
    """The adapter on the settings' app, addresses and secret key."""
    return WebAuth(
        app_id=settings.wechat_app_id,
        app_secret=settings.wechat_app_secret,
        authorize_url=settings.wechat_oauth_url,
        token_url=sns_token_url(settings.wechat_api_base_url),
        redirect_uri=settings.public_base_url.rstrip("/") + CALLBACK_PATH,
        secret_key=settings.secret_key,
        timeout=settings.wechat_http_timeout,
    )
