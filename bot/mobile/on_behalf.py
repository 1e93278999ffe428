"""代办 on the phone: `/m/log` logs a request a beneficiary made by phone, at home or at the office.

A member of staff signed in through WeChat (`bot.mobile.signin`) picks one of the beneficiaries
they may log for (`services.scope`, the dashboard's reach: an assistant their own people, a town
officer their town's), then the channel and the words. The form posts to the same
`services.on_behalf.log_on_behalf` as the chat command, the dashboard form and the admin API, so
permission, classification, routing and pushes are the same; the phone then opens the new case.
"""

from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.deps import db_session, services
from bot.inputs import id_arg, whole_number
from bot.mobile.cases import CASE_HEADERS, loggable_person
from bot.mobile.signin import notice, staff_only
from bot.mobile.views import bp
from models import Beneficiary
from models.enums import CHANNEL_NAMES, RequestChannel
from services import audit, on_behalf
from services import scope as scoping
from services.errors import DomainError
from services.scope import Scope

logger = logging.getLogger(__name__)

# As on the dashboard's form and in the admin API.
CONTENT_MAX = 500
# More than this and the page asks for a name or number instead of a long scroll.
LIST_MAX = 30
QUERY_MAX = 32
CHANNELS = {value: name for value, name in CHANNEL_NAMES.items() if value != RequestChannel.WECHAT.value}
NOT_IN_SCOPE = ("没有这位服务对象", "编号不对，或这位服务对象不归您负责。")
MSG_PICK = "请先选择要为谁登记。"
MSG_CHANNEL = "请选择渠道：电话、上门、来访或其他。"
MSG_CONTENT = "请写上求助内容，例如：家里停水三天了。"
MSG_TOO_LONG = f"求助内容最多{CONTENT_MAX}字，请写短一些。"


def choices(session: Session, scope: Scope, query: str) -> tuple[list[Beneficiary], int]:
    """Up to LIST_MAX active beneficiaries within reach whose name holds `query` or whose 对象编号 it is, and the count."""
    stmt = scoping.beneficiaries(scope, select(Beneficiary).where(Beneficiary.active.is_(True)))
    if query:
        named = Beneficiary.name.contains(query, autoescape=True)
        number = whole_number(query)
        stmt = stmt.where(or_(named, Beneficiary.id == number) if number else named)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    people = session.scalars(
        stmt.options(selectinload(Beneficiary.village)).order_by(Beneficiary.name, Beneficiary.id).limit(LIST_MAX)
    ).all()
    return list(people), int(total or 0)


def _form(person: Beneficiary, status: int, *, channel: str = on_behalf.DEFAULT_CHANNEL.value, text: str = "",
          error: str | None = None):
    """The channel-and-words form for one beneficiary."""
    page = render_template("mobile/log.html", person=person, channels=CHANNELS, channel=channel, text=text,
                           error=error, content_max=CONTENT_MAX)
    return page, status, CASE_HEADERS


def _picker(status: int, *, error: str | None = None):
    """The list of beneficiaries to log for, narrowed by `?q=`."""
    db = db_session()
    query = (request.args.get("q") or "").strip()[:QUERY_MAX]
    people, total = choices(db, g.scope, query)
    audit.record(db, services().clock(), "mobile.log", staff=g.staff,
                 detail={"items": len(people), "filter": bool(query)}, ip=request.remote_addr)
    db.commit()
    logger.info("mobile=log_picker staff=%s items=%s", g.staff.id, len(people))
    page = render_template("mobile/log.html", person=None, people=people, total=total, query=query,
                           searchable=bool(query) or total > LIST_MAX, error=error)
    return page, status, CASE_HEADERS


def _input_error(channel: RequestChannel | None, text: str) -> str | None:
    """What is wrong with the channel or the words, in Chinese; None when both will do."""
    if channel is None:
        return MSG_CHANNEL
    if not text:
        return MSG_CONTENT
    return MSG_TOO_LONG if len(text) > CONTENT_MAX else None


@bp.get("/log")
@staff_only()
def log_form():
    """Pick a beneficiary within reach, or (`?beneficiary=<n>`) the form for that one."""
    if "beneficiary" not in request.args:
        return _picker(200)
    db = db_session()
    person = loggable_person(db, g.staff, id_arg(request.args, "beneficiary"))
    if person is None:
        logger.info("mobile=log_refused staff=%s", g.staff.id)
        return notice(404, *NOT_IN_SCOPE)
    audit.record(db, services().clock(), "mobile.log", staff=g.staff, target=("beneficiary", person.id),
                 ip=request.remote_addr)
    db.commit()
    return _form(person, 200)


@bp.post("/log")
@staff_only()
def log_request():
    """Log the request through `services.on_behalf`, then open its case page."""
    db, svc = db_session(), services()
    beneficiary_id = id_arg(request.form, "beneficiary")
    if not (request.form.get("beneficiary") or "").strip():
        return _picker(400, error=MSG_PICK)
    person = loggable_person(db, g.staff, beneficiary_id)
    if person is None:
        logger.info("mobile=log_refused staff=%s", g.staff.id)
        return notice(404, *NOT_IN_SCOPE)
    value, text = request.form.get("channel") or "", (request.form.get("text") or "").strip()
    channel = on_behalf.channel_from_word(CHANNEL_NAMES.get(value, ""))
    shown = value if channel is not None else on_behalf.DEFAULT_CHANNEL.value
    error = _input_error(channel, text)
    if error is None:
        now = svc.clock()
        try:
            logged = on_behalf.log_on_behalf(db, svc.request_env, g.staff, beneficiary_id=person.id,
                                             channel=channel, content=text, now=now)
        except DomainError as refused:
            db.rollback()
            error = refused.message
    if error is not None:
        logger.info("mobile=log_refused staff=%s beneficiary=%s", g.staff.id, person.id)
        return _form(person, 400, channel=shown, text=text[:CONTENT_MAX * 2], error=error)
    audit.record(db, now, "mobile.case.log", staff=g.staff, target=("service_request", logged.id),
                 detail={"beneficiary_id": person.id, "channel": channel.value}, ip=request.remote_addr)
    message = on_behalf.logged_reply(logged)
    db.commit()
    logger.info("mobile=log staff=%s case=%s channel=%s", g.staff.id, logged.id, channel.value)
    flash(message, "ok")
    return redirect(url_for("mobile.case", number=logged.id), 303)
