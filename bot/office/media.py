"""`/office/media/<id>`: a voice, photo or video of a case, for a signed-in member of staff whose
scope holds the case; every fetch is audited. `?playable=1` gives a voice's MP3."""

from __future__ import annotations

import logging

from flask import abort, g, request

from bot import media_files
from bot.deps import db_session
from bot.office.common import bp, record_audit, signed_in
from services import case_media

logger = logging.getLogger(__name__)


@bp.get("/media/<id:item_id>")
@signed_in()
def media_file(item_id: int):
    """One stored file of a case in scope, with Range support and private, no-store headers."""
    db = db_session()
    item = case_media.item_in_scope(db, g.scope, item_id)
    if item is None:
        logger.info("office=media_refused staff=%s item=%s", g.staff.id, item_id)
        abort(404, description="没有这个文件，或不在您的范围内")
    playable = request.args.get("playable") == "1"
    if media_files.opens_the_file():
        record_audit("office.media", ("media_item", item.id), {"request": item.request_id, "playable": playable})
        db.commit()
    return media_files.answer(item, playable=playable)
