"""Security headers on every answer: no framing, no type sniffing, no address leaking, HTTPS only in
production, and on the office dashboard a Content-Security-Policy its pages satisfy.

Headers a view sets itself win: the mobile pages and the media files carry stricter policies of
their own, and keep them.
"""

from __future__ import annotations

from flask import Flask, Response, request

from config.settings import Settings

# The dashboard loads only its own scripts (ECharts is vendored under bot/static/vendor, page code in
# bot/static/*.js, data in JSON script blocks), styles, images and media; no inline script runs.
# Style attributes are allowed because ECharts' tooltips are HTML with inline styles; a <style>
# element or a stylesheet from elsewhere is still refused.
OFFICE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self'; media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Elsewhere (webhook, API, health, the development simulator) only framing is refused by CSP.
DEFAULT_CSP = "frame-ancestors 'none'"
COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Our own pages may see where a click came from; other sites never get our paths or queries.
    "Referrer-Policy": "same-origin",
}
# A year; not includeSubDomains: other services may share the office's domain.
HSTS = "max-age=31536000"


def init_security_headers(app: Flask, settings: Settings) -> None:
    """Add the headers to every response of `app` (HSTS only when running in production)."""
    common = {**COMMON, "Strict-Transport-Security": HSTS} if settings.is_production else dict(COMMON)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        for name, value in common.items():
            headers.setdefault(name, value)
        headers.setdefault("Content-Security-Policy",
                           OFFICE_CSP if request.path.startswith("/office") else DEFAULT_CSP)
        return response
