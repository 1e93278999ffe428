"""Baseline WSGI apps for the webhook benchmark (`bench/webhook.py`), served by the same gunicorn.

- `bare_app()`: Flask + wechatpy echo — check the signature, parse the XML, reply with the text.
- `durable_app()`: the same plus what any durable webhook must pay — Redis SETNX on the MsgId and
  one INSERT into PostgreSQL (`bench_echo`) per message — then the reply.

Both read their settings from the environment, so gunicorn can build them with
`gunicorn 'bench.baselines:bare_app()'`: WECHAT_TOKEN (default: the development token),
DATABASE_URL and REDIS_URL / REDIS_KEY_PREFIX (durable echo only). Tests pass them as arguments.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, Response, abort, request
from sqlalchemy import Engine, text
from wechatpy import create_reply, parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from config.settings import DEV_DEFAULTS
from models.db import make_engine

ECHO_TABLE = "bench_echo"
DEDUPE_TTL_SECONDS = 600


def _token(token: str | None) -> str:
    return token or os.environ.get("WECHAT_TOKEN") or DEV_DEFAULTS["WECHAT_TOKEN"]


def _check_and_parse(token: str):
    try:
        check_signature(token, request.args.get("signature", ""), request.args.get("timestamp", ""),
                        request.args.get("nonce", ""))
    except InvalidSignatureException:
        abort(403)
    msg = parse_message(request.get_data())
    if msg is None:
        abort(400)
    return msg


def _echo(msg) -> Response:
    content = getattr(msg, "content", None) or "收到"
    return Response(create_reply(content, msg).render(), mimetype="application/xml")


def bare_app(token: str | None = None) -> Flask:
    """Flask + wechatpy echo: check, parse, reply."""
    token = _token(token)
    app = Flask("bench_bare_echo")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/wechat")
    def wechat():
        return _echo(_check_and_parse(token))

    return app


def create_echo_table(engine: Engine, *, truncate: bool = False) -> None:
    """`bench_echo(msg_id bigint primary key, body text)`, emptied when asked."""
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE IF NOT EXISTS {ECHO_TABLE} (msg_id BIGINT PRIMARY KEY, body TEXT)"))
        if truncate:
            connection.execute(text(f"DELETE FROM {ECHO_TABLE}" if engine.dialect.name == "sqlite"
                                    else f"TRUNCATE {ECHO_TABLE}"))


def _dedupe_id(msg) -> int:
    """The MsgId; events carry none, so a negative number from sender + CreateTime + event."""
    if msg.id:
        return int(msg.id)
    key = f"{msg.source}:{msg._data.get('CreateTime', '')}:{getattr(msg, 'event', '')}"
    return -int.from_bytes(hashlib.blake2b(key.encode(), digest_size=7).digest(), "big") - 1


def durable_app(token: str | None = None, *, database_url: str | None = None, redis_url: str | None = None,
                redis_prefix: str | None = None, engine: Engine | None = None, redis=None) -> Flask:
    """Check, parse, Redis SETNX on the MsgId, one INSERT into `bench_echo`, reply."""
    token = _token(token)
    prefix = redis_prefix or os.environ.get("REDIS_KEY_PREFIX", "benchwh")
    if engine is None:
        engine = make_engine(database_url or os.environ["DATABASE_URL"])
    if redis is None:
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(redis_url or os.environ["REDIS_URL"])
    create_echo_table(engine)
    insert = text(f"INSERT INTO {ECHO_TABLE} (msg_id, body) VALUES (:msg_id, :body) ON CONFLICT DO NOTHING")
    app = Flask("bench_durable_echo")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/wechat")
    def wechat():
        msg = _check_and_parse(token)
        msg_id = _dedupe_id(msg)
        if redis.set(f"{prefix}:echo:seen:{msg_id}", b"1", nx=True, ex=DEDUPE_TTL_SECONDS):
            with engine.begin() as connection:
                connection.execute(insert, {"msg_id": msg_id, "body": request.get_data(as_text=True)})
        return _echo(msg)

    return app
