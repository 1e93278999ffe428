"""The WeChat webhook at /wechat (the settings' account) and /wechat/<slug> (each added account): verify
with that account's token, decrypt with its key, store once, then queue or route and reply (encrypted
when asked)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import struct
import time
from xml.parsers.expat import ExpatError

from flask import Blueprint, Response, abort, g, request
from redis.exceptions import RedisError
from wechatpy import parse_message
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from bot.deps import db_session, services
from handlers import inbox
from handlers.inbox import REDIS_OUTAGE
from runtime import metrics
from runtime.wechat_accounts import Account
from services import inbound
from services.wechat_accounts import SLUG_PATTERN

logger = logging.getLogger(__name__)

bp = Blueprint("wechat", __name__)

# The URL configured in WeChat's console; it never carries a browser session.
WEBHOOK_PATH = "/wechat"
# Unix seconds as WeChat sends them; a longer "timestamp" is not one (and would overflow a float).
TIMESTAMP_DIGITS = 11
# Answered while Redis is unreachable: WeChat tries again, and nothing has been stored.
UNAVAILABLE = "服务暂时不可用，请稍后再试"
NO_SUCH_ACCOUNT = "没有这个公众号：地址有误，或这个公众号尚未添加"


@bp.before_request
def _start_clock() -> None:
    g.webhook_started = time.perf_counter()


@bp.after_request
def _count(response: Response) -> Response:
    """Count the request by outcome (and why it was refused or failed) with how long it took.

    Runs for refusals (abort) and for errors answered by the app's error handler as well.
    """
    status = response.status_code
    if status >= 500:
        outcome, reason = "error", g.get("webhook_reason", "exception")
    elif status >= 400:
        outcome, reason = "refused", g.get("webhook_reason", "too_large" if status == 413 else None)
    else:
        outcome, reason = g.get("webhook_outcome", "verified" if request.method == "GET" else "stored"), None
    metrics.webhook_request(outcome, reason, time.perf_counter() - g.get("webhook_started", time.perf_counter()))
    return response


def _reason(reason: str) -> str:
    """Note why this request is refused or fails, for the metrics; the reason itself."""
    g.webhook_reason = reason
    return reason


def _refuse(status: int, reason: str, description: str, **fields) -> None:
    """Log why a request is refused (names and reasons only, never what it carried) and abort."""
    extra = "".join(f" {name}={value}" for name, value in fields.items())
    logger.warning("wechat=refused status=%s reason=%s remote=%s%s", status, _reason(reason), request.remote_addr, extra)
    abort(status, description=description)


def _account_or_404(slug: str) -> Account:
    """The added account whose webhook this is; 404 when there is none (checked before anything else)."""
    account = services().accounts.by_slug(slug) if SLUG_PATTERN.fullmatch(slug) else None
    if account is None:
        _refuse(404, "unknown_account", NO_SUCH_ACCOUNT)
    return account


def _check_signature_or_403(account: Account) -> None:
    """Refuse requests not signed with the account's token, and replays outside the time window."""
    settings = services().settings
    signature = request.args.get("signature", "")
    timestamp = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    signer = WeChatSigner()
    signer.add_data(account.token, timestamp, nonce)
    # Constant-time: wechatpy's own check compares with `!=`.
    if not hmac.compare_digest(signer.signature.encode(), signature.encode()):
        logger.warning("wechat=bad_signature remote=%s", request.remote_addr)
        _reason("bad_signature")
        abort(403, description="签名不正确")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= TIMESTAMP_DIGITS):
        _refuse(403, "bad_timestamp", "时间戳不正确")
    sent = int(timestamp)
    now = services().clock().timestamp()
    if abs(now - sent) > settings.wechat_timestamp_tolerance:
        logger.warning("wechat=stale_timestamp remote=%s skew=%s", request.remote_addr, int(now - sent))
        _reason("stale_timestamp")
        abort(403, description="请求已过期")


def _check_nonce_or_403(body: bytes, account: Account) -> None:
    """One signed URL carries one body: the signature does not cover the body, so a captured
    URL reused with another body inside the time window is refused, and nothing at all is
    accepted (503) while Redis cannot tell."""
    svc = services()
    # Each account's nonces are its own (the default account's keys are as they always were).
    scope = f"{account.slug}:" if account.slug else ""
    key = f"{svc.keys.prefix}:wx:nonce:{scope}{request.args.get('timestamp', '')}:{request.args.get('nonce', '')}"
    digest = hashlib.sha256(body).hexdigest().encode()
    try:
        first = svc.redis.set(key, digest, nx=True, ex=2 * svc.settings.wechat_timestamp_tolerance)
        if first:
            return
        seen = svc.redis.get(key)
    except RedisError:
        # Fail closed: without this check a captured URL could carry any body as anyone for the whole
        # time window. WeChat tries again, and nothing has been stored.
        logger.warning("redis=unavailable during=nonce_check outcome=503")
        _reason("redis_unavailable")
        abort(503, description=UNAVAILABLE)
    if seen is not None and seen != digest:
        logger.warning("wechat=nonce_reused remote=%s", request.remote_addr)
        _reason("nonce_reused")
        abort(403, description="请求已被使用")


def _refuse_dtd(xml: bytes | str) -> None:
    """Refuse a DTD, and with it every entity declaration: WeChat never sends one.

    xmltodict, which parses the message, refuses entity declarations as well; this check keeps the
    refusal explicit and costs a substring search rather than a second parse of every message.
    (A lower-case or otherwise mangled DOCTYPE is not XML, and the parser refuses it as malformed.)
    """
    if (b"<!DOCTYPE" if isinstance(xml, bytes) else "<!DOCTYPE") in xml:
        logger.warning("wechat=xml_refused reason=dtd remote=%s", request.remote_addr)
        _reason("dtd")
        abort(400, description="不接受含 DTD 或实体的 XML")


@bp.get(WEBHOOK_PATH)
def verify():
    """WeChat's server verification for the default account."""
    return _verify(services().accounts.default)


@bp.get(f"{WEBHOOK_PATH}/<slug>")
def verify_account(slug: str):
    """WeChat's server verification for an added account."""
    return _verify(_account_or_404(slug))


@bp.post(WEBHOOK_PATH)
def receive():
    """A message or event to the default account."""
    return _receive(services().accounts.default)


@bp.post(f"{WEBHOOK_PATH}/<slug>")
def receive_account(slug: str):
    """A message or event to an added account."""
    return _receive(_account_or_404(slug))


def _verify(account: Account) -> Response:
    """Echo `echostr` when the signature is the account's."""
    _check_signature_or_403(account)
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


def _receive(account: Account) -> Response:
    """Handle one message or event from WeChat and answer with a passive reply."""
    settings = services().settings
    # Checked before the body is read: an oversize body is refused without reading it all.
    request.max_content_length = settings.wechat_max_body_bytes
    _check_signature_or_403(account)
    body = request.get_data(cache=False)
    _check_nonce_or_403(body, account)
    _refuse_dtd(body)

    encrypted = request.args.get("encrypt_type", "raw").lower() == "aes"
    crypto = None
    if encrypted:
        if account.crypto is None:
            _refuse(400, "encrypted_without_key", "未配置 WECHAT_ENCODING_AES_KEY，无法解密")
        crypto = account.crypto
        try:
            xml = crypto.decrypt_message(
                body, request.args.get("msg_signature", ""), request.args["timestamp"], request.args["nonce"]
            )
        except (InvalidSignatureException, InvalidAppIdException):
            _refuse(403, "bad_msg_signature", "消息签名不正确")
        except (KeyError, ValueError, TypeError, AttributeError, IndexError, struct.error, ExpatError):
            # No Encrypt, not base64, not whole blocks, bad padding, a plaintext too short to hold
            # its length and app id, or not UTF-8: wechatpy checks none of these itself.
            _refuse(400, "bad_ciphertext", "加密消息格式不正确")
        _refuse_dtd(xml)
    elif account.crypto is not None:
        # In safe and compatible mode WeChat always sends encrypt_type=aes.
        _refuse(400, "plaintext_in_safe_mode", "应为加密消息")
    else:
        xml = body

    try:
        msg = parse_message(xml)
        if msg is None:
            raise inbound.MalformedMessage("xml")
        inbound.validate(msg)
    except ExpatError:
        _refuse(400, "malformed_xml", "XML 格式不正确")
    except inbound.MalformedMessage as exc:
        _refuse(400, "not_wechat", "不是微信消息", field=exc.args[0] if exc.args else "")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        _refuse(400, "not_wechat", "不是微信消息", error=type(exc).__name__)

    # Events are answered in the request even in queued mode: after a follow, scan or menu click
    # WeChat allows customer-service messages for one minute only, too short for a queue in a rush.
    if settings.queued_replies and msg.type != "event":
        accept(msg, account.id)
        return Response("success", mimetype="text/plain")
    reply_xml = answer(msg, account.id)
    if not reply_xml:
        # "success" stops WeChat's retries and shows the user nothing.
        return Response("success", mimetype="text/plain")
    if crypto is not None:
        reply_xml = crypto.encrypt_message(reply_xml, request.args["nonce"], request.args["timestamp"])
    return Response(reply_xml, mimetype="application/xml")


def accept(msg: BaseMessage, account_id: int | None = None) -> None:
    """Queued mode: store the message once (with the account it came through) for the inbox worker and wake it.

    The reply follows as a customer-service message. A retry of a stored message changes
    nothing: the database's unique dedupe key decides, in one statement and no other check.
    """
    svc = services()
    key = inbound.dedupe_key(msg)
    with svc.engine.begin() as connection:
        new_id = inbound.insert_inbound(connection, msg, key, svc.clock(), account_id=account_id)
    if new_id is None:
        g.webhook_outcome = "duplicate"
        logger.info("wechat=duplicate openid=%s key=%s", msg.source, key)
        return
    logger.info("wechat=queued openid=%s key=%s type=%s", msg.source, key, msg.type)


def answer(msg: BaseMessage, account_id: int | None = None) -> str:
    """Inline mode: store the message once (with the account it came through), route it, and return
    the passive reply XML ('' for none).

    A retry of a message already handled gets the very same reply, read back from the database:
    its unique dedupe key decides, and on PostgreSQL a retry that arrives while the first delivery
    is still being handled waits for it.
    """
    svc = services()
    key = inbound.dedupe_key(msg)
    session = db_session()
    now = svc.clock()
    stored = inbound.store_inbound(session, msg, key, now, account_id=account_id)
    if stored is None:
        existing = inbound.find_inbound(session, key)
        session.rollback()
        g.webhook_outcome = "duplicate"
        logger.info("wechat=duplicate openid=%s key=%s", msg.source, key)
        return (existing.reply_xml if existing else "") or ""

    # A database failure propagates: nothing is kept, and WeChat retries.
    try:
        text = inbox.handle(session, svc.inbox_env, stored, msg, now)
    except REDIS_OUTAGE:
        # Binding counts wrong codes in Redis: a blip must not cost the message. Nothing is kept,
        # and WeChat's retry handles it afresh.
        session.rollback()
        logger.warning("redis=unavailable during=handling openid=%s key=%s outcome=503", msg.source, key)
        _reason("redis_unavailable")
        abort(503, description=UNAVAILABLE)
    reply_xml = _render(msg, text, now)
    stored.reply_xml = reply_xml
    session.commit()
    logger.info("wechat=handled openid=%s key=%s type=%s", msg.source, key, msg.type)
    return reply_xml


def _render(msg: BaseMessage, text: str | None, now) -> str:
    """The passive reply XML for a reply text (empty for none)."""
    if not text:
        return ""
    return TextReply(source=msg.target, target=msg.source, content=text, time=int(now.timestamp())).render()
