"""WeChat API client glue: wechatpy's WeChatClient made safe for several processes, several
threads and a stand-in."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

import requests
import urllib3
from redis.exceptions import LockError, RedisError
from wechatpy import WeChatClient
from wechatpy.constants import WeChatErrorCode
from wechatpy.exceptions import APILimitedException, WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from config.settings import Settings
from runtime.http import HttpEnvironment
from runtime.sms import make_sms_sender
from services.kv import Keys
from services.policy.push import REQUEST_FAILED, NoticeRoute, UnfitValue, notice_data

logger = logging.getLogger(__name__)

# invalid credential, invalid token, expired token: the token must be fetched again.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})

# Refresh a little before WeChat's expiry so no call goes out with a dying token.
TOKEN_EARLY_REFRESH = 300
# Connections kept open for JSON POSTs: about one per sending thread (runtime.dispatch.SEND_THREADS).
JSON_POOL_CONNECTIONS = 16


class SanzhidaWeChatClient(WeChatClient):
    """A WeChatClient whose every call, token fetch included, honours the base URL and a timeout,
    whose token lives in Redis for every process (and in memory until it expires), whose
    refetch-and-retry is bounded, and which may be shared by threads (one HTTP session each)."""

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base_url: str,
        redis,
        keys: Keys,
        timeout: float = 5.0,
        max_token_refreshes: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        # Set before wechatpy's constructor, which assigns `_http`.
        self._local = threading.local()
        # (token, monotonic expiry): saves a Redis round trip per call. One tuple, so a thread
        # never sees a token with another token's expiry.
        self._memo: tuple[str, float] | None = None
        self._monotonic = monotonic
        # auto_retry=False: wechatpy's own retry recurses without limit; ours is a bounded loop.
        super().__init__(
            appid,
            secret,
            session=RedisStorage(redis, prefix=keys.token_storage_prefix()),
            timeout=timeout,
            auto_retry=False,
        )
        self.API_BASE_URL = base_url
        # Read once for every thread's session: a plain session reads the environment on every call.
        self._http_environment = HttpEnvironment.read(base_url)
        self._local.http = self._http_environment.session()
        # JSON POSTs (every push) go through one pool shared by the threads; the rest through a session.
        self._pool = self._http_environment.pool(base_url, maxsize=JSON_POOL_CONNECTIONS)
        self._redis = redis
        self._keys = keys
        self.max_token_refreshes = max_token_refreshes
        # Template id -> where its pushes go as subscription notices instead (make_wechat_client fills it).
        self.notices: dict[str, NoticeRoute] = {}
        # The SMS sender (runtime.sms) for outbox rows of kind `sms`; make_wechat_client sets it.
        self.sms = None
        # The deployment's accounts (runtime.wechat_accounts), on the default account's client: a push
        # goes out through the account its recipient follows. The composition root sets it.
        self.accounts = None
        # The settings' template id -> this account's own id of that template (an added account's).
        self.template_ids: dict[str, str] = {}
        # An added account's slug: the phone-page links it sends name it (services.policy.account_links).
        self.account_slug: str | None = None

    def __repr__(self) -> str:
        return f"<SanzhidaWeChatClient appid={self.appid} base={self.API_BASE_URL}>"

    @property
    def _http(self) -> requests.Session:
        """This thread's HTTP session: connections are pooled per thread, never shared by two."""
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = self._http_environment.session()
        return http

    @_http.setter
    def _http(self, value: requests.Session) -> None:
        # wechatpy's constructor assigns one session; it becomes the constructing thread's.
        self._local.http = value

    @property
    def access_token(self) -> str:
        """The token kept in memory until it expires; else the shared one from Redis, fetched
        (once, under a lock) when there is none."""
        memo = self._memo
        if memo is not None and self._monotonic() < memo[1]:
            return memo[0]
        return self._shared_token() or self.refresh_token()

    def _shared_token(self) -> str | None:
        """The token in Redis, remembered in memory for as long as Redis keeps it."""
        token = self.session.get(self.access_token_key)
        if token:
            self._remember(token, self._redis.ttl(self.session.key_name(self.access_token_key)))
        return token

    def _remember(self, token: str, ttl_seconds: int | None) -> None:
        # A key without a TTL (-1) or gone (-2) is not cached: the next call asks Redis again.
        if ttl_seconds is not None and ttl_seconds > 0:
            self._memo = (token, self._monotonic() + ttl_seconds)
        else:
            self._memo = None

    def fetch_access_token(self) -> dict:
        """Fetch a token from `{base}token` with a timeout and store it in Redis for everyone."""
        try:
            res = self._http.get(
                url=f"{self.API_BASE_URL}token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
                timeout=self.timeout,
            )
            res.raise_for_status()
            result = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatClientException(errcode=None, errmsg=f"token fetch failed: {type(exc).__name__}") from exc
        if not isinstance(result, dict) or result.get("errcode") or not result.get("access_token"):
            errcode = result.get("errcode") if isinstance(result, dict) else None
            # WeChat's own message names what is wrong (40164 names the address it saw); it holds no secret.
            said = str(result.get("errmsg") or "")[:200] if isinstance(result, dict) else ""
            raise WeChatClientException(errcode, f"token fetch returned no access_token: {said}".rstrip(": "),
                                        client=self)
        expires_in = int(result.get("expires_in", 7200))
        ttl = max(expires_in - TOKEN_EARLY_REFRESH, 60)
        self.session.set(self.access_token_key, result["access_token"], ttl)
        self._remember(result["access_token"], ttl)
        logger.info("wechat_token=fetched appid=%s ttl=%s", self.appid, ttl)
        return result

    def refresh_token(self, stale: str | None = None) -> str:
        """Fetch a new token unless another process already replaced `stale`; one fetch at a time."""
        wait = self.timeout * 2 + 5
        try:
            with self._redis.lock(self._keys.token_lock(self.appid), timeout=wait, blocking_timeout=wait):
                current = self.session.get(self.access_token_key)
                if current and current != stale:
                    # Another process (or thread) fetched it meanwhile: use theirs.
                    self._remember(current, self._redis.ttl(self.session.key_name(self.access_token_key)))
                    return current
                return self.fetch_access_token()["access_token"]
        except (RedisError, LockError) as exc:
            raise _store_unavailable(exc) from exc

    def download_media(self, media_id: str):
        """media/get: the raw response holding a media file's bytes, or a dict (a video's `video_url`)."""
        return self._request("get", "media/get", params={"media_id": media_id}, raw_allowed=True)

    def send_subscription_notice(self, touser: str, template_id: str, data: dict, *, page: str | None = None,
                                 miniprogram: dict | None = None) -> dict:
        """发送订阅通知 (message/subscribe/bizsend), each value fitted to its keyword's type first.

        https://developers.weixin.qq.com/doc/service/api/notify/notify/api_sendnewsubscribemsg.html:
        touser, template_id and data ({key: {"value": …}}) are required; page is a web page to open,
        miniprogram ({"appid", "pagepath"}) a mini program. A value that cannot be fitted without
        changing what it says is refused here with the errcode WeChat would answer (47003), unsent.
        """
        try:
            fitted = notice_data(data)
        except UnfitValue as exc:
            raise WeChatClientException(47003, f"argument invalid, not sent: {exc}", client=self) from exc
        body: dict = {"touser": touser, "template_id": template_id, "data": fitted}
        if page:
            body["page"] = page
        if miniprogram:
            body["miniprogram"] = {"appid": miniprogram["appid"], "pagepath": miniprogram.get("pagepath", "")}
        return self.post("message/subscribe/bizsend", data=body)

    def _request(self, method, url_or_endpoint, *, raw_allowed: bool = False, **kwargs):
        """Send one API call; on a token error, refresh and retry at most `max_token_refreshes` times.

        Only `raw_allowed` calls (a file download) may answer with something other than JSON.
        """
        attempt = 0
        token: str | None = None
        while True:
            if token is None:
                try:
                    token = self.access_token
                except RedisError as exc:
                    raise _store_unavailable(exc) from exc
            call = dict(kwargs, params={**(kwargs.get("params") or {}), "access_token": token})
            try:
                if method == "post" and isinstance(call.get("data"), dict) and set(call) == {"params", "data"}:
                    result = self._post_json(url_or_endpoint, call["params"], call["data"])
                else:
                    result = super()._request(method, url_or_endpoint, **call)
            except WeChatClientException as exc:
                if exc.errcode not in TOKEN_ERRORS or attempt >= self.max_token_refreshes:
                    raise
                attempt += 1
                logger.warning("wechat_token=rejected errcode=%s attempt=%s", exc.errcode, attempt)
                if self._memo is not None and self._memo[0] == token:
                    # Never reuse a rejected token from memory, even if the refresh below fails.
                    self._memo = None
                # Retry with the token the refresh handed back: re-reading memory could meet a thread
                # that put the rejected token back there a moment before.
                token = self.refresh_token(stale=token)
                continue
            except requests.RequestException as exc:
                # Timeouts and connection errors surface as the one exception callers handle.
                raise WeChatClientException(errcode=None, errmsg=f"{REQUEST_FAILED}: {type(exc).__name__}") from exc
            if not isinstance(result, dict) and not raw_allowed:
                # wechatpy hands back the raw response when it is not JSON (a proxy's HTML page,
                # a wrong base URL): that is a failure, never a success.
                raise WeChatClientException(errcode=None, errmsg="answer was not JSON")
            return result


    def _post_json(self, endpoint: str, params: dict, data: dict):
        """POST `data` as JSON, as wechatpy would, through the shared pool: the same request, answer
        handling and errors, at under half the CPU of a requests session (docs/bench-webhook.md)."""
        url = endpoint if endpoint.startswith(("http://", "https://")) else f"{self.API_BASE_URL}{endpoint}"
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        try:
            res = self._pool.request("POST", f"{url}?{urlencode(params)}", body=body, retries=False,
                                     timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout))
        except urllib3.exceptions.HTTPError as exc:
            # Timeouts and connection errors surface as the one exception callers handle.
            raise WeChatClientException(errcode=None, errmsg=f"{REQUEST_FAILED}: {type(exc).__name__}") from exc
        if res.status >= 400:
            raise WeChatClientException(errcode=None, errmsg=f"HTTP {res.status}", client=self)
        try:
            result = json.loads(res.data.decode("utf-8", "ignore"), strict=False)
        except ValueError:
            result = None
        if not isinstance(result, dict):
            # A proxy's HTML page, a wrong base URL: a failure, never a success.
            raise WeChatClientException(errcode=None, errmsg="answer was not JSON")
        # As wechatpy reads an answer: a non-zero errcode raises, 45009 (calls over the limit) as APILimitedException.
        if "errcode" in result:
            result["errcode"] = int(result["errcode"])
        errcode = result.get("errcode") or 0
        if errcode:
            limited = errcode == WeChatErrorCode.OUT_OF_API_FREQ_LIMIT.value
            raise (APILimitedException if limited else WeChatClientException)(
                errcode, result.get("errmsg", errcode), client=self)
        return result


def _store_unavailable(exc: Exception) -> WeChatClientException:
    # Callers handle one exception type for "WeChat cannot be reached right now".
    return WeChatClientException(errcode=None, errmsg=f"token store unavailable: {type(exc).__name__}")


def make_wechat_client(settings: Settings, redis, *, app_id: str | None = None, app_secret: str | None = None,
                       like: SanzhidaWeChatClient | None = None) -> SanzhidaWeChatClient:
    """The client for the configured account (or the account `app_id`/`app_secret`) and API base URL.

    Each account's access token is its own: Redis keeps it under a key named by the AppID. `like`
    is a client whose subscription-notice routes and SMS sender this one shares.
    """
    client = SanzhidaWeChatClient(
        app_id or settings.wechat_app_id,
        app_secret or settings.wechat_app_secret,
        base_url=settings.wechat_api_base_url,
        redis=redis,
        keys=Keys(settings.redis_prefix),
        timeout=settings.wechat_http_timeout,
    )
    client.notices = like.notices if like is not None else notice_routes(settings)
    # The outbox's other channel: text messages, None when SMS_PROVIDER is unset.
    client.sms = like.sms if like is not None else make_sms_sender(settings)
    return client


def notice_routes(settings: Settings) -> dict[str, NoticeRoute]:
    """Template message id -> its subscription notice, for the kinds WECHAT_SUBSCRIBE_TEMPLATES names."""
    ids = {"task": settings.wechat_template_task, "progress": settings.wechat_template_progress}
    return {ids[kind]: NoticeRoute(notice_id, keys) for kind, (notice_id, keys) in settings.subscribe_templates.items()}
