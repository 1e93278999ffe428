"""GET /metrics: the web processes' Prometheus metrics and the queue gauges, for a scraper holding METRICS_TOKEN.

Not public: without METRICS_TOKEN set it answers 404, as if it were not there; with it, only a request
carrying `Authorization: Bearer <METRICS_TOKEN>` gets the metrics (401 otherwise).
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.deps import services
from runtime import metrics

bp = Blueprint("metrics", __name__)

METRICS_PATH = "/metrics"


@bp.get(METRICS_PATH)
def scrape():
    """Every web worker's metrics (multiprocess mode under gunicorn) and the queue gauges, read now."""
    svc = services()
    token = svc.settings.metrics_token
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response("需要有效的访问令牌\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    registry = metrics.registry(metrics.QueueCollector(svc.session_factory, svc.redis, svc.clock))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
