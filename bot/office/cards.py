"""Printable care cards with the bind QR code, for a village or one beneficiary."""

from __future__ import annotations

import logging

from flask import abort, flash, g, redirect, render_template, url_for

from bot.deps import db_session, services
from bot.office.common import bp, record_audit, require_writer, signed_in
from services import cards, dashboard

logger = logging.getLogger(__name__)


# --- care cards ------------------------------------------------------------------------------------


def _print(people, title: str):
    db = db_session()
    svc = services()
    try:
        # A card's QR code makes its scanner follow the account of the beneficiary's city.
        views = cards.print_cards(db, svc.accounts.client_for_city(_city_id(people), db), people, svc.clock())
    except cards.CardError as failed:
        db.rollback()
        flash(failed.message, "error")
        return None
    record_audit("cards.print", None, {"count": len(views), "title": title})
    db.commit()
    return render_template("cards.html", cards=views, title=title)


def _city_id(people) -> int | None:
    """The city of the beneficiaries' village (all of them are in one), None when there is none."""
    town = people[0].village.parent if people else None
    return town.parent_id if town is not None else None


@bp.get("/villages/<id:village_id>/cards")
@signed_in()
def village_cards(village_id: int):
    """Print-ready care cards for every beneficiary of a village (A4, print from the browser)."""
    require_writer()
    detail = dashboard.village_detail(db_session(), g.scope, village_id)
    if detail is None:
        abort(404, description="没有这个村（社区），或不在您的范围内")
    page = _print(cards.village_beneficiaries(db_session(), village_id), f"{detail.village.name} 关爱服务电话卡")
    return page or redirect(url_for("office.village", village_id=village_id))


@bp.get("/beneficiaries/<id:beneficiary_id>/card")
@signed_in()
def beneficiary_card(beneficiary_id: int):
    """The care card of one beneficiary."""
    require_writer()
    person = dashboard.beneficiary_detail(db_session(), g.scope, beneficiary_id)
    if person is None:
        abort(404, description="没有这位服务对象，或不在您的范围内")
    page = _print([person], f"{person.name} 关爱服务电话卡")
    return page or redirect(url_for("office.beneficiary", beneficiary_id=beneficiary_id))
