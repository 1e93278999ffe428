"""Answering a browser with one stored voice, photo or video, for the office and the mobile pages.

The views check who is asking and that the item's case is in their scope, and audit the fetch;
this module only turns a MediaItem into a response: the stored bytes with their content type,
HTTP Range (browsers seek audio and video with it), and headers that keep the file out of caches
and stop a browser from guessing another type. It is a layer of its own in the web package so
that both blueprints can use it without importing each other.
"""

from __future__ import annotations

import io
import logging

from flask import Response, request, send_file

from bot.deps import services
from models import MediaItem
from runtime.media_store import MediaStoreError
from services.case_media import GONE, NOT_YET, READY

logger = logging.getLogger(__name__)

FILE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": "inline",
    # Opened on its own, a file runs nothing and loads nothing.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
}
NOT_FETCHED = "这条内容还在从微信取回，请稍后再看。"
NOT_KEPT = "这条内容没能从微信取回。"
DELETED = "这条内容已按保存期限删除。"
MISSING = "文件暂时找不到，请稍后再试。"


def opens_the_file() -> bool:
    """Whether this request opens the file, rather than continuing it (a Range from a later byte,
    as a browser sends while playing or seeking): only openings are audited, once each."""
    wanted = request.headers.get("Range", "")
    return not wanted or wanted.replace(" ", "").startswith("bytes=0-")


def notice(status: int, message: str) -> Response:
    """A short plain-text answer in place of a file (an audio or image element shows nothing else)."""
    return Response(message, status=status, mimetype="text/plain", headers=FILE_HEADERS)


def answer(item: MediaItem, *, playable: bool) -> Response:
    """The item's original (or, for voice, its MP3 with `playable`) as stored, with Range support."""
    if item.status in NOT_YET:
        return notice(404, NOT_FETCHED)
    if item.status == GONE:
        return notice(410, DELETED)
    if item.status != READY:
        return notice(404, NOT_KEPT)
    key, content_type = (item.playable_key, item.playable_type) if playable else (item.store_key, item.content_type)
    if not key:
        return notice(404, MISSING)
    try:
        data = services().media_store.get(key)
    except MediaStoreError as exc:
        logger.error("media=unreadable item=%s error=%s", item.id, exc)
        return notice(404, MISSING)
    etag = f"{item.sha256 or item.id}{'-play' if playable else ''}"
    # `request` is read by send_file: Range gives 206 with the asked-for bytes, If-Range is honoured.
    response = send_file(io.BytesIO(data), mimetype=content_type or "application/octet-stream",
                         conditional=True, etag=etag, max_age=None)
    response.headers.update(FILE_HEADERS)
    return response
