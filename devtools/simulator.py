"""The WeChat simulator at /dev/simulator (development only): chat as any persona through the real
/wechat endpoint, see the pushes the WeChat stand-in received, and move time to watch escalations."""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta
from urllib.parse import urlencode

import requests
from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from bot.deps import db_session, services
from config import policy
from devtools import sim_media, sim_places, sim_sms, wechat_side
from devtools.wechat_side import WeChatSide, reply_fields
from handlers.menu import MENU
from models import Beneficiary, Region, Staff, WeChatUser
from models.enums import StaffRole
from runtime.audio import AudioError
from runtime.clock import ShiftedClock
from runtime.dispatch import dispatch_outbox
from runtime.media_jobs import fetch_due
from scheduler import calendar
from scheduler.jobs import context_for
from services import binding, roster
from workers.inbox import InboxWorker

logger = logging.getLogger(__name__)

bp = Blueprint(
    "simulator", __name__, url_prefix="/dev/simulator",
    template_folder="templates", static_folder="static", static_url_path="/static",
)

ROLE_LABELS = {"assistant": "协理员", "town_officer": "乡镇民政助理员", "city_supervisor": "市级督办", "admin": "管理员"}
# Each template's title and its fields as (key, label), in the template's order (config/policy.py TEMPLATES).
TEMPLATE_LABELS = {kind: (spec.title, tuple((f.key, f.label) for f in spec.fields))
                   for kind, spec in policy.TEMPLATES.items()}
CARDS_SHOWN = 12
# What the scheduler panel calls each job (ids as in scheduler/calendar.py); unknown ids show as they are.
JOB_NAMES = {
    "outbox_dispatch": "发送推送",
    "escalation_scan": "超时督办检查",
    "media_retention": "清理过期语音图片",
    "message_retention": "清理过期消息",
    "archive": "归档一年前的记录",
    "figures": "更新统计数据",
    "visit_reminders": "每日08:00走访提醒",
    "town_digest": "每日08:30乡镇汇总",
    "city_summary": "每周一09:00市级汇总",
    "monthly_report": "每月1日09:00月报",
    "checkin_reminders": "每日10:00报平安提醒家属",
    "checkin_silences": "每日16:00未报平安转协理员",
}
CALENDAR_OUTCOMES = {"ran": "已运行", "already": "已运行过", "skipped": "错过（超过补跑时限）", "not_due": "未到时间"}
# Polls may overlap (the page's timer, a send, another tab): one at a time runs the media pass and
# the dispatch, so nothing is fetched or sent twice by the simulator itself.
INBOX_LOCK_SECONDS = 30
LOCATION = (29.8268, 113.4853, "东湾村村委会旁")
# WeChat's media_ids (and the stand-in's) are URL-safe base64.
MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


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
    people, chosen = _cast(session)
    personas = [{"openid": "sim-visitor", "label": "新访客（未绑定）", "kind": "visitor"}]
    personas += [{"openid": f"sim-family-{b.id}", "label": f"{b.name}的家属", "kind": "family"} for b in people[:4]]
    personas += [{"openid": f"sim-self-{b.id}", "label": f"{b.name}（本人）", "kind": "self"} for b in people[4:6]]
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


def _cast(session) -> tuple[list, list]:
    """The beneficiaries on the printed cards (the first six have personas) and the staff personas."""
    villages = session.scalars(
        select(Region).where(Region.level == "village").order_by(Region.code).limit(1)
    ).all()
    people = session.scalars(
        select(Beneficiary).where(Beneficiary.active.is_(True)).order_by(Beneficiary.id).limit(CARDS_SHOWN)
        .options(selectinload(Beneficiary.village))
    ).all()
    staff = session.scalars(
        select(Staff).where(Staff.active.is_(True)).order_by(Staff.role, Staff.id).options(selectinload(Staff.region))
    ).all()
    village_ids = {v.id for v in villages}
    chosen = [s for s in staff if s.role == StaffRole.ASSISTANT.value and s.region_id in village_ids]
    for role in (StaffRole.TOWN_OFFICER, StaffRole.CITY_SUPERVISOR):
        chosen += [s for s in staff if s.role == role.value][:1]
    return people, chosen


def _persona_phones(session) -> dict[str, str]:
    """Each persona's phone -> its openid: a member of staff's own, or the phone of the beneficiary a
    family or self persona stands for (an SMS to them is what that household reads)."""
    people, chosen = _cast(session)
    phones = {b.phone: f"sim-{'family' if i < 4 else 'self'}-{b.id}" for i, b in enumerate(people[:6]) if b.phone}
    phones.update({s.phone: f"sim-staff-{s.id}" for s in chosen if s.phone})
    return phones


def _deliver(openid: str, msg_type: str, inner: str) -> str:
    """Post one message through the real /wechat endpoint as WeChat would; return the reply text."""
    svc = services()
    now = svc.clock()
    xml = wechat_side.message_xml(openid, msg_type, int(now.timestamp()), inner, account="gh_sanzhida")
    _tell_standin(xml)
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


def _tell_standin(xml: str) -> None:
    """Tell the local WeChat stand-in what the persona did, as WeChat knows it: that is what lets the
    account answer with customer-service messages. A real WeChat API learns it by itself."""
    base = services().settings.wechat_api_base_url
    if not base.startswith(("http://127.0.0.1", "http://localhost")):
        return
    try:
        wechat_side.tell_standin(base.removesuffix("cgi-bin/"), xml)
    except requests.RequestException:
        abort(409, description="模拟器连不上本地的微信接口替身：请用 make run 启动，或先运行 sanzhida fake-wechat")


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


def _words(data: dict) -> str:
    """The words typed for a voice or a photo (required)."""
    words = str(data.get("text") or "").strip()
    if not words:
        abort(400, description="请输入文字")
    return words[:200]


def _put_voice(said: str) -> str:
    """Speak the words into a real AMR voice, hand it to the stand-in, and tell the ASR stand-in what it says."""
    amr = sim_media.voice_amr(said)
    media_id = sim_media.put_media(_standin_base(), amr, "voice", "voice.amr")
    sim_media.register_transcript(services().settings.asr_url, amr, said)
    return media_id


def _put_photo(words: str) -> str:
    """Draw a card photo with the words and hand it to the stand-in."""
    return sim_media.put_media(_standin_base(), sim_media.photo_png(words), "image", "photo.png")


def _media_or_fail(make, words: str) -> str:
    """The media_id of a simulated file, or a 503 saying what is missing."""
    try:
        return make(words)
    except sim_media.SimMediaError as exc:
        abort(503, description=str(exc))


def _media_src(media_id: str) -> str:
    """Where the page loads a file the stand-in holds (same origin, so no cross-origin access)."""
    return url_for("simulator.media_file", media_id=media_id)


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
        said = _words(data)
        media_id = _media_or_fail(_put_voice, said)
        # WeChat's own Recognition only on request: by default the product's speech recogniser hears it.
        inner = wechat_side.voice_inner(media_id, said if data.get("recognition") else "")
        shown = {"kind": "voice", "text": f"[语音] {said}", "src": _media_src(media_id)}
        reply = _deliver(openid, "voice", inner)
    elif kind == "image":
        words = _words(data)
        media_id = _media_or_fail(_put_photo, words)
        inner = wechat_side.image_inner(f"{_standin_base()}_media/{media_id}", media_id)
        shown = {"kind": "image", "text": f"[图片] {words}", "src": _media_src(media_id)}
        reply = _deliver(openid, "image", inner)
    elif kind == "location":
        shown = _place_bubble(LOCATION[2])
        reply = _deliver(openid, "location", wechat_side.location_inner(*LOCATION))
    elif kind == "location_select":
        shown, replies = _pick_place(openid, data)
        return jsonify(messages=[*notes, {"from": "me", **shown}] + [{"from": "account", "text": r} for r in replies])
    elif kind == "view":
        # WeChat opens the page itself and tells the account with a VIEW event (no answer shown).
        url = str(data.get("url") or "")
        if url not in [button.get("url") for button in sim_places.buttons("view")]:
            abort(400, description="菜单里没有这个按钮")
        reply = _deliver(openid, "event", wechat_side.event_inner("VIEW", url))
        return jsonify(messages=[*notes] + ([{"from": "account", "text": reply}] if reply else []))
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
    mine = {"from": "me", **(shown if isinstance(shown, dict) else {"text": shown})}
    return jsonify(messages=[*notes, mine] + ([{"from": "account", "text": reply}] if reply else []))


def _place_bubble(name: str, label: str = "") -> dict:
    """How the chat shows a place the persona sent (the 位置 control's and the place picker's alike)."""
    return {"kind": "location", "text": f"[位置] {name}", "label": label}


@bp.get("/api/places")
def places():
    """The places the menu's place picker offers the persona."""
    openid = request.args.get("openid", "")
    if not openid.startswith("sim-"):
        abort(400, description="未知的身份")
    return jsonify(places=[place.as_dict() for place in sim_places.places_for(db_session(), openid)])


def _pick_place(openid: str, data: dict) -> tuple[dict, list[str]]:
    """A place picked in a location_select button's picker, sent as WeChat sends it: the
    location_select event carrying the place, then the place as a location message."""
    key = str(data.get("key") or "")
    if key not in [button.get("key") for button in sim_places.buttons("location_select")]:
        abort(400, description="菜单里没有这个按钮")
    offered = sim_places.places_for(db_session(), openid)
    chosen = data.get("place")
    if not isinstance(chosen, int) or isinstance(chosen, bool) or not 0 <= chosen < len(offered):
        abort(400, description="请选择一个位置")
    place = offered[chosen]
    replies = [
        _deliver(openid, "event", wechat_side.location_select_inner(
            key, place.lat, place.lng, place.label, place.poiname, sim_places.SCALE)),
        _deliver(openid, "location", wechat_side.location_inner(place.lat, place.lng, place.label, sim_places.SCALE)),
    ]
    return _place_bubble(place.poiname, place.label), [reply for reply in replies if reply]


@bp.get("/api/inbox")
def inbox():
    """Pushes the WeChat stand-in delivered and text messages the SMS stand-in delivered to a persona's
    phone (after sending what is due), as chat items per persona, in the order they arrived."""
    svc = services()
    base = _standin_base()
    lock = current_app.extensions["simulator_inbox_lock"]
    if lock.acquire(timeout=INBOX_LOCK_SECONDS):
        try:
            _media_pass_and_dispatch(svc)
        finally:
            lock.release()
    after = request.args.get("after", default=-1, type=int)
    sms_after = request.args.get("sms_after", default=-1, type=int)
    calls = requests.get(f"{base}_calls", timeout=5).json()
    templates = {svc.settings.wechat_template_task: "task", svc.settings.wechat_template_progress: "progress"}
    # Subscription notices show as the cards of the templates they stand for.
    templates.update({notice_id: kind for kind, (notice_id, _) in svc.settings.subscribe_templates.items()})
    items = []
    for index, call in enumerate(calls):
        body = call.get("body") or {}
        if index <= after or call.get("outcome") != "delivered" or not str(body.get("touser", "")).startswith("sim-"):
            continue
        if call["path"] == "message/custom/send":
            msgtype = body.get("msgtype", "text")
            if msgtype in ("voice", "image"):
                # The voice or photo itself, as the persona's WeChat plays or shows it.
                items.append({"i": index, "openid": body["touser"], "kind": msgtype, "at": call.get("at", 0),
                              "src": _media_src(body[msgtype]["media_id"])})
            elif msgtype == "text":
                items.append({"i": index, "openid": body["touser"], "kind": "text", "at": call.get("at", 0),
                              "text": body["text"]["content"]})
        elif call["path"] in ("message/template/send", "message/subscribe/bizsend"):
            title, labels = TEMPLATE_LABELS.get(templates.get(body.get("template_id")), ("模板消息", ()))
            data = body.get("data", {})
            # By key, as WeChat fills a template: the JSON on the way may not keep the keys' order.
            fields = [[label, data[key]["value"]] for key, label in labels if key in data]
            fields += [["", field["value"]] for key, field in data.items() if key not in dict(labels)]
            items.append({"i": index, "openid": body["touser"], "kind": "template", "title": title, "fields": fields,
                          "url": body.get("url") or body.get("page"), "at": call.get("at", 0)})
    texted, sms_last = sim_sms.sms_items(svc.settings, _persona_phones(db_session()), sms_after)
    # Both stand-ins stamp what they deliver: WeChat messages and SMS interleave as they arrived.
    items = sorted(items + texted, key=lambda item: item["at"])
    return jsonify(items=items, last=len(calls) - 1, sms_last=sms_last)


def _media_pass_and_dispatch(svc) -> None:
    """One media pass and one outbox run now, so a poll shows what is due without waiting."""
    # The simulator does not wait for the media worker or the scheduler's next outbox run: one
    # media pass (fetch, keep, transcribe) first, so a voice reaches its assignee in this poll.
    try:
        fetch_due(svc.media_env)
    except SQLAlchemyError:
        # `make run`'s own media worker may hold SQLite's write lock; it does the work then.
        logger.info("simulator=media_pass_skipped", exc_info=True)
    dispatch_outbox(svc.session_factory, svc.wechat, svc.clock, store=svc.media_store)


@bp.get("/api/media/<media_id>")
def media_file(media_id: str):
    """A file the WeChat stand-in holds, made playable (AMR to MP3), for the page's audio and images."""
    if not MEDIA_ID.fullmatch(media_id):
        abort(404)
    try:
        found = sim_media.fetch_playable(_standin_base(), media_id)
    except (sim_media.SimMediaError, requests.RequestException, AudioError) as exc:
        abort(502, description=f"读取文件失败：{exc}")
    if found is None:
        abort(404)
    data, content_type = found
    # A media_id never changes its bytes: the page may keep them.
    return send_file(io.BytesIO(data), mimetype=content_type, conditional=True, max_age=3600)


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
    tz, ctx = svc.settings.tz, context_for(svc)
    grace = timedelta(minutes=svc.settings.scheduler_catchup_grace_minutes)
    # A day's step passes 08:00: the scheduler would have run each daily job then, so tick at every
    # instant a calendar job fell due on the way (before the clock moves, so the scheduler process
    # never sees the new time first and writes the reminders off as missed), then at the new time.
    start = svc.clock()
    ticks = [(at, calendar.tick(ctx, tz, at, grace)) for at in _calendar_instants(tz, start, start + delta)]
    now = svc.clock.advance(delta)
    ticks.append((now, calendar.tick(ctx, tz, now, grace)))
    return jsonify(now=now.astimezone(tz).strftime("%Y-%m-%d %H:%M"), results=ticks[-1][1],
                   lines=_tick_lines(ticks, tz))


def _calendar_instants(tz, start, end) -> list:
    """Every instant in (start, end) at which a daily or weekly job fell due, in order."""
    instants = set()
    for job in calendar.calendar_jobs(tz):
        fire = job.trigger.get_next_fire_time(None, start + timedelta(seconds=1))
        while fire is not None and fire < end:
            instants.add(fire)
            fire = job.trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return sorted(instants)


def _tick_lines(ticks: list, tz) -> list[str]:
    """One line per job, in Chinese: how much each interval job did, and when each calendar job ran."""
    lines = []
    for job_id in ticks[-1][1]:
        results = [(at, outcome[job_id]) for at, outcome in ticks]
        name = JOB_NAMES.get(job_id, job_id)
        if all(isinstance(value, int) for _, value in results):
            lines.append(f"{name}：{sum(value for _, value in results)}")
            continue
        ran = [at for at, value in results if value == "ran"]
        if ran:
            lines.append(f"{name}：{ran[-1].astimezone(tz):%m-%d %H:%M} 已运行")
        else:
            outcome = next((v for v in ("skipped", "already", "not_due") if any(r == v for _, r in results)), None)
            lines.append(f"{name}：{CALENDAR_OUTCOMES.get(outcome, outcome)}")
    return lines
