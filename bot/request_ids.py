"""One id per web request, on every log line of that request and in the response's `X-Request-Id`.

Behind the reverse proxy (TRUSTED_PROXIES > 0) the proxy's own id is kept, so its access log and
ours can be matched; an id that is missing or not plainly safe to log is replaced by a fresh one.
"""

from __future__ import annotations

import re

from flask import Flask, g, request

from config.logging import bind_ids, new_id, unbind_ids
from config.settings import Settings

HEADER = "X-Request-Id"
# What a proxy sends (nginx's $request_id is 32 hex digits, others use UUIDs): nothing that could
# break a log line or pass for another field.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def request_id_from(header: str | None, *, trust_header: bool) -> str:
    """The proxy's id when it is trusted and safe, else a fresh one."""
    if trust_header and header and _SAFE.fullmatch(header):
        return header
    return new_id()


def init_request_ids(app: Flask, settings: Settings) -> None:
    """Give each request its id, echo it in the response and forget it at the end.

    Called before any other hook is registered, so every other hook's lines carry the id too.
    """
    trust_header = settings.trusted_proxies > 0

    @app.before_request
    def _bind_request_id() -> None:
        g.request_id = request_id_from(request.headers.get(HEADER), trust_header=trust_header)
        g.request_id_token = bind_ids(request_id=g.request_id)

    @app.after_request
    def _echo_request_id(response):
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response

    @app.teardown_request
    def _unbind_request_id(_exc) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            unbind_ids(token)
