"""The WeChat simulator at /dev/simulator (development only): chat as any persona through the real
/wechat endpoint, see the pushes the WeChat stand-in received, and move time to watch escalations."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

import requests
from flask import Blueprint, abort, current_app, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.deps import db_session, services
from config import policy
from devtools import wechat_side
from devtools.wechat_side import WeChatSide, reply_fields
from handlers.menu import MENU
from models import Beneficiary, Region, Staff, WeChatUser
from models.enums import StaffRole
from runtime.clock import ShiftedClock
from runtime.dispatch import dispatch_outbox
from scheduler import calendar
from scheduler.jobs import JobContext
from services import binding, roster
from workers.inbox import InboxWorker

logger = logging.getLogger(__name__)

bp = Blueprint(
    "simulator", __name__, url_prefix="/dev/simulator",
    template_folder="templates", static_folder="static", static_url_path="/static",
)

ROLE_LABELS = {"assistant": "协理员", "town_officer": "乡镇民政助理员", "city_supervisor": "市级督办", "admin": "管理员"}
# Each template's title and its fields' labels, in order (config/policy.py TEMPLATES).
TEMPLATE_LABELS = {kind: (spec.title, tuple(f.label for f in spec.fields)) for kind, spec in policy.TEMPLATES.items()}
CARDS_SHOWN = 12
LOCATION = (29.8268, 113.4853, "东湾村村委会旁")


def _side() -> WeChatSide:
    settings = services().settings
    return WeChatSide(settings.wechat_token, settings.wechat_app_id, settings.wechat_encoding_aes_key)


def _standin_base() -> str:
    """The WeChat stand-in's root URL; the simulator only works against the local stand-in."""
    base = services().settings.wechat_api_base_url
    if not base.startswith(("http://127.0.0.1", "http://localhost")):
        abort(409, description="模拟器需要本地的微信接口替身：请用 make run 启动，或设置 WECHAT_API_BASE_URL")
    return base.removesuffix("cgi-bin/")


@bp.get("/")
def page():
    """The simulator page."""
    return render_template("simulator.html", menu=MENU)


@bp.get("/api/state")
def state():
    """Personas, printed cards and the simulated time."""
    session = db_session()
    svc = services()
    villages = session.scalars(
        select(Region).where(Region.level == "village").order_by(Region.code).limit(1)
    ).all()
    people = session.scalars(
        select(Beneficiary).where(Beneficiary.active.is_(True)).order_by(Beneficiary.id).limit(CARDS_SHOWN)
        .options(selectinload(Beneficiary.village))
    ).all()
    personas = [{"openid": "sim-visitor", "label": "新访客（未绑定）", "kind": "visitor"}]
    personas += [{"openid": f"sim-family-{b.id}", "label": f"{b.name}的家属", "kind": "family"} for b in people[:4]]
    personas += [{"openid": f"sim-self-{b.id}", "label": f"{b.name}（本人）", "kind": "self"} for b in people[4:6]]
    staff = session.scalars(
        select(Staff).where(Staff.active.is_(True)).order_by(Staff.role, Staff.id).options(selectinload(Staff.region))
    ).all()
    village_ids = {v.id for v in villages}
    chosen = [s for s in staff if s.role == StaffRole.ASSISTANT.value and s.region_id in village_ids]
    for role in (StaffRole.TOWN_OFFICER, StaffRole.CITY_SUPERVISOR):
        chosen += [s for s in staff if s.role == role.value][:1]
    personas += [
        {"openid": f"sim-staff-{s.id}", "label": f"{s.name}（{ROLE_LABELS[s.role]}·{s.region.name}）", "kind": "staff"}
        for s in chosen
    ]
    # Staff personas bind (through the real invite flow) up front, so they receive their tasks.
    for s in chosen:
        _ensure_staff_bound(f"sim-staff-{s.id}")
    cards = []
    for b in people:
        assignment = roster.current_assignment(session, b)
        cards.append({
            "id": b.id, "name": b.name, "village": b.village.name, "bind_code": b.bind_code,
            "assistant": assignment.staff.name if assignment else None,
        })
    now = svc.clock()
    return jsonify(
        personas=personas, cards=cards,
        now=now.astimezone(svc.settings.tz).strftime("%Y-%m-%d %H:%M"),
        clock_movable=isinstance(svc.clock, ShiftedClock),
    )


def _deliver(openid: str, msg_type: str, inner: str) -> str:
    """Post one message through the real /wechat endpoint as WeChat would; return the reply text."""
    svc = services()
    now = svc.clock()
    xml = wechat_side.message_xml(openid, msg_type, int(now.timestamp()), inner, account="gh_sanzhida")
    side = _side()
    params, body = side.envelope(xml, now, mode="aes" if svc.settings.safe_mode else "plain")
    # End this request's own transaction first: on SQLite it holds the write lock the webhook needs.
    db_session().commit()
    # The Flask test client runs the real view through WSGI, in any server, without a network hop.
    response = current_app.test_client().post("/wechat?" + urlencode(params), data=body.encode(), content_type="text/xml")
    if response.status_code != 200:
        return f"（公众号返回 HTTP {response.status_code}）"
    if response.data == b"success":
        # Queued: the simulator does not wait for the inbox worker. It handles what is waiting
        # itself, and the reply shows up with the pushes, as the customer-service message it is.
        InboxWorker(svc).drain()
        return ""
    return reply_fields(side.open_reply(response.data)).get("Content") or ""


def _ensure_staff_bound(openid: str) -> str | None:
    """A staff persona binds through the real invite flow the first time it is used."""
    staff_id = int(openid.removeprefix("sim-staff-"))
    session = db_session()
    staff = session.get(Staff, staff_id)
    if staff is None:
        abort(404, description="没有这位工作人员")
    user = session.scalars(select(WeChatUser).where(WeChatUser.openid == openid)).one_or_none()
    if user is not None and staff.wechat_user_id == user.id:
        return None
    code, _ = binding.issue_invite(session, services().pii, staff, services().clock())
    session.commit()
    return _deliver(openid, "text", wechat_side.text_inner(f"绑定 {code}"))


@bp.post("/api/send")
def send():
    """Send a message or event as a persona; the reply comes back as the chat would show it."""
    data = request.get_json(silent=True) or {}
    openid = str(data.get("openid") or "")
    kind = data.get("kind")
    if not openid.startswith("sim-"):
        abort(400, description="未知的身份")
    notes = []
    if openid.startswith("sim-staff-"):
        bound = _ensure_staff_bound(openid)
        if bound is not None:
            notes.append({"from": "system", "text": "（已用邀请码绑定工作人员账号）"})
    if kind == "text":
        text = str(data.get("text") or "").strip()
        if not text:
            abort(400, description="请输入文字")
        shown, reply = text, _deliver(openid, "text", wechat_side.text_inner(text))
    elif kind == "voice":
        said = str(data.get("text") or "").strip()
        shown = f"[语音] {said}"
        reply = _deliver(openid, "voice", wechat_side.voice_inner(f"sim-media-{len(said)}", said))
    elif kind == "location":
        shown = f"[位置] {LOCATION[2]}"
        reply = _deliver(openid, "location", wechat_side.location_inner(*LOCATION))
    elif kind == "click":
        key = str(data.get("key") or "")
        shown, reply = f"【菜单】{data.get('label') or key}", _deliver(openid, "event", wechat_side.event_inner("CLICK", key))
    elif kind == "scan":
        code = str(data.get("bind_code") or "")
        scene = binding.scene_for(code)
        follows = db_session().scalars(select(WeChatUser).where(WeChatUser.openid == openid)).one_or_none()
        inner = (wechat_side.event_inner("SCAN", scene) if follows else
                 wechat_side.event_inner("subscribe", f"qrscene_{scene}"))
        shown, reply = f"[扫码] 关爱服务电话卡（绑定码 {code}）", _deliver(openid, "event", inner)
    else:
        abort(400, description="未知的消息类型")
    return jsonify(messages=[*notes, {"from": "me", "text": shown}] + ([{"from": "account", "text": reply}] if reply else []))


@bp.get("/api/inbox")
def inbox():
    """Pushes the WeChat stand-in delivered (after sending what is due), as chat items per persona."""
    svc = services()
    base = _standin_base()
    # The simulator does not wait for the scheduler's next outbox run.
    dispatch_outbox(svc.session_factory, svc.wechat, svc.clock)
    after = request.args.get("after", default=-1, type=int)
    calls = requests.get(f"{base}_calls", timeout=5).json()
    templates = {svc.settings.wechat_template_task: "task", svc.settings.wechat_template_progress: "progress"}
    items = []
    for index, call in enumerate(calls):
        body = call.get("body") or {}
        if index <= after or call.get("outcome") != "delivered" or not str(body.get("touser", "")).startswith("sim-"):
            continue
        if call["path"] == "message/custom/send":
            items.append({"i": index, "openid": body["touser"], "kind": "text", "text": body["text"]["content"]})
        elif call["path"] == "message/template/send":
            title, labels = TEMPLATE_LABELS.get(templates.get(body.get("template_id")), ("模板消息", ()))
            values = [field["value"] for field in body.get("data", {}).values()]
            fields = [[labels[i] if i < len(labels) else "", value] for i, value in enumerate(values)]
            items.append({"i": index, "openid": body["touser"], "kind": "template", "title": title, "fields": fields,
                          "url": body.get("url")})
    return jsonify(items=items, last=len(calls) - 1)


@bp.post("/api/clock")
def clock():
    """Move simulated time forward and run the scheduler's tick at the new time."""
    svc = services()
    if not isinstance(svc.clock, ShiftedClock):
        abort(409, description="时间不能调整：请用 make run 启动（设置了 SANZHIDA_DEV_CLOCK_FILE）")
    minutes = request.get_json(silent=True, force=True) or {}
    try:
        delta = timedelta(minutes=int(minutes.get("minutes", 0)))
    except (TypeError, ValueError):
        abort(400, description="minutes 应为整数")
    if not timedelta(0) < delta <= timedelta(days=7):
        abort(400, description="一次可前进1分钟到7天")
    now = svc.clock.advance(delta)
    ctx = JobContext(session_factory=svc.session_factory, wechat=svc.wechat, env=svc.request_env)
    grace = timedelta(minutes=svc.settings.scheduler_catchup_grace_minutes)
    results = calendar.tick(ctx, svc.settings.tz, now, grace)
    return jsonify(now=now.astimezone(svc.settings.tz).strftime("%Y-%m-%d %H:%M"), results=results)
