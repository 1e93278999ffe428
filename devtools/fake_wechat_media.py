"""Temporary media for the WeChat API stand-in: the store, WeChat's upload rules, and the routes.

WeChat keeps a temporary media file (one a follower sent, or one the account uploaded) for three
days, then answers 40007 for its media_id. The store dates every file on the stand-in's own clock
(`FakeWeChatState.now`), which `POST /_clock` moves forward, so a test can let media expire.

WeChat's routes: `GET /cgi-bin/media/get` (the bytes, or `{"video_url": …}` for video) and
`POST /cgi-bin/media/upload?type=…` (multipart field `media`). Test controls: `POST /_media`
(what a follower "sent"; `app_id`: the account it went to), `GET /_media`, `GET /_media/<id>` and
`GET /_media/<id>/download`. A media_id is its account's only (devtools/fake_wechat_accounts.py).
"""

from __future__ import annotations

import mimetypes
import secrets
import threading
from dataclasses import dataclass

import filetype
from flask import Flask, Response, abort, jsonify, request

# WeChat deletes temporary media three days after upload or receipt.
MEDIA_LIFETIME_SECONDS = 3 * 24 * 3600

# The kinds a follower's message carries; `thumb` only comes from uploads.
MEDIA_TYPES = ("voice", "image", "video", "shortvideo", "thumb")
UPLOAD_TYPES = ("image", "voice", "video", "thumb")
VIDEO_TYPES = ("video", "shortvideo")

MB = 1024 * 1024
# WeChat's rules for temporary media (新增临时素材): the largest size and the accepted formats.
UPLOAD_RULES = {
    "voice": (2 * MB, ("audio/amr", "audio/mpeg")),
    "image": (10 * MB, ("image/jpeg", "image/png", "image/gif", "image/bmp")),
    "video": (10 * MB, ("video/mp4",)),
    "thumb": (64 * 1024, ("image/jpeg",)),
}

MEDIA_ERRMSG = {
    40001: "invalid credential",
    40004: "invalid media type",
    40005: "invalid file type",
    40006: "invalid media size",
    40007: "invalid media_id",
    41005: "media data missing",
}

EXTENSIONS = {
    "audio/amr": "amr",
    "audio/mpeg": "mp3",
    "audio/speex": "speex",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "video/mp4": "mp4",
}


def _is_mp3(data: bytes) -> bool:
    """An ID3 tag or an MPEG audio frame sync (eleven set bits) at the start."""
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def _is_mp4(data: bytes) -> bool:
    """An ISO media file whose brands say MP4 (a QuickTime or 3GP file is not one)."""
    kind = filetype.guess(data[:512])
    return kind is not None and kind.mime == "video/mp4"


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves show, by their magic numbers (None when unknown)."""
    if data.startswith(b"#!AMR\n"):
        return "audio/amr"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data.startswith(b"BM") and len(data) > 14:
        return "image/bmp"
    if _is_mp4(data):
        return "video/mp4"
    if _is_mp3(data):
        return "audio/mpeg"
    kind = filetype.guess(data[:8192])
    return kind.mime if kind else None


def extension(content_type: str) -> str:
    """The file extension WeChat names a download with, for a content type."""
    known = EXTENSIONS.get(content_type)
    if known:
        return known
    guessed = mimetypes.guess_extension(content_type) or ".bin"
    return guessed.lstrip(".")


def upload_errcode(media_type: str | None, data: bytes | None) -> int | None:
    """WeChat's errcode refusing this upload as temporary media, or None when it is accepted."""
    if media_type not in UPLOAD_RULES:
        return 40004
    if not data:
        return 41005
    limit, formats = UPLOAD_RULES[media_type]
    if sniff(data) not in formats:
        return 40005
    if len(data) > limit:
        return 40006
    return None


def guess_media_type(content_type: str) -> str | None:
    """The message kind a file of this content type would arrive as."""
    major = content_type.split("/", 1)[0]
    return {"audio": "voice", "image": "image", "video": "video"}.get(major)


@dataclass
class MediaItem:
    """One temporary media file as WeChat holds it."""

    media_id: str
    type: str
    content_type: str
    data: bytes
    created_at: int
    # The official account the file is on (its media_id means nothing to another); None: any.
    app_id: str | None = None

    def summary(self, now: float) -> dict:
        """What the listing shows (without the bytes)."""
        return {"media_id": self.media_id, "type": self.type, "content_type": self.content_type,
                "size": len(self.data), "created_at": self.created_at, "expired": self.expired(now)}

    def expired(self, now: float) -> bool:
        """True once WeChat would have deleted the file."""
        return now - self.created_at >= MEDIA_LIFETIME_SECONDS


class MediaStore:
    """Temporary media by media_id, safe for the stand-in's request threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: dict[str, MediaItem] = {}

    def add(self, data: bytes, media_type: str, content_type: str, now: float, app_id: str | None = None) -> MediaItem:
        """Keep a file on an account and give it a new media_id (64 characters, as WeChat's are)."""
        item = MediaItem(secrets.token_urlsafe(48), media_type, content_type, data, int(now), app_id)
        with self._lock:
            self._items[item.media_id] = item
        return item

    def get(self, media_id: str | None) -> MediaItem | None:
        """The file, expired or not (None when unknown)."""
        with self._lock:
            return self._items.get(media_id or "")

    def live(self, media_id: str | None, now: float, app_id: str | None = None) -> MediaItem | None:
        """The file while WeChat still has it, else None (also when it is another account's than `app_id`'s)."""
        item = self.get(media_id)
        if item is None or item.expired(now):
            return None
        return None if app_id is not None and item.app_id is not None and item.app_id != app_id else item

    def listing(self, now: float) -> list[dict]:
        """Every file's summary, oldest first."""
        with self._lock:
            items = list(self._items.values())
        return [item.summary(now) for item in items]


def _error(code: int):
    """WeChat's error answer: JSON with HTTP 200."""
    return jsonify(errcode=code, errmsg=MEDIA_ERRMSG[code])


def register_media_routes(app: Flask, state, record, apply_fault) -> None:
    """Add the media routes to the stand-in's app; `record` and `apply_fault` are the app's own."""

    def refused(path: str, body):
        """The answer to a call a queued fault or a dead token stops, recorded; None to go on."""
        failed, outcome = apply_fault(path)
        if failed is not None:
            record(path, body, outcome)
            return failed
        if request.args.get("access_token") not in state.tokens:
            record(path, body, "errcode 40001")
            return _error(40001)
        return None

    @app.get("/cgi-bin/media/get")
    def media_get():
        """获取临时素材: the bytes, or a video's download address; 40007 when unknown or expired."""
        refusal = refused("media/get", None)
        if refusal is not None:
            return refusal
        item = state.media.live(request.args.get("media_id"), state.now(),
                                state.tokens.get(request.args.get("access_token", "")))
        if item is None:
            record("media/get", None, "errcode 40007")
            return _error(40007)
        record("media/get", None, "delivered")
        if item.type in VIDEO_TYPES:
            # WeChat answers a video with a download address, not the bytes.
            return jsonify(video_url=f"{request.host_url}_media/{item.media_id}/download")
        return _file_response(item)

    @app.post("/cgi-bin/media/upload")
    def media_upload():
        """新增临时素材: store a file that keeps WeChat's type, format and size rules."""
        upload = request.files.get("media")
        data = upload.read() if upload is not None else None
        media_type = request.args.get("type")
        summary = {"type": media_type, "filename": upload.filename if upload else None,
                   "size": len(data) if data is not None else None}
        refusal = refused("media/upload", summary)
        if refusal is not None:
            return refusal
        code = upload_errcode(media_type, data)
        if code is not None:
            record("media/upload", summary, f"errcode {code}")
            return _error(code)
        item = state.media.add(data, media_type, sniff(data), state.now(),
                               state.tokens.get(request.args.get("access_token", "")))
        summary["media_id"] = item.media_id
        record("media/upload", summary, "delivered")
        return jsonify(type=item.type, media_id=item.media_id, created_at=item.created_at)

    @app.post("/_media")
    def media_receive():
        """Test control: store a file as if a follower had sent it."""
        upload = request.files.get("media")
        if upload is not None:
            data, declared = upload.read(), upload.mimetype
            media_type = request.form.get("type") or request.args.get("type")
        else:
            data, declared = request.get_data(), request.mimetype
            media_type = request.args.get("type")
        if not data:
            return jsonify(error="send the file as multipart field 'media' or as the raw body"), 400
        if declared in ("", "application/octet-stream", "multipart/form-data"):
            declared = None
        content_type = sniff(data) or declared or "application/octet-stream"
        media_type = media_type or guess_media_type(content_type)
        if media_type not in MEDIA_TYPES:
            return jsonify(error=f"'type' must be one of {', '.join(MEDIA_TYPES)} "
                                 f"(could not tell it from {content_type})"), 400
        # `app_id`: the account the follower sent it to (default: the stand-in's own).
        app_id = request.form.get("app_id") or request.args.get("app_id") or state.accounts.default
        item = state.media.add(data, media_type, content_type, state.now(), app_id)
        return jsonify(media_id=item.media_id, type=item.type, created_at=item.created_at), 201

    @app.get("/_media")
    def media_list():
        """Test control: every stored file, without its bytes."""
        return jsonify(state.media.listing(state.now()))

    @app.get("/_media/<media_id>")
    def media_bytes(media_id: str):
        """Test control: a stored file's bytes."""
        # For tests checking what was uploaded: served even after expiry.
        item = state.media.get(media_id)
        if item is None:
            abort(404)
        return _file_response(item)

    @app.get("/_media/<media_id>/download")
    def media_download(media_id: str):
        """Where a video's `video_url` points."""
        # Where `video_url` points; like WeChat's link it stops working when the media expires.
        item = state.media.live(media_id, state.now())
        if item is None:
            abort(404)
        return _file_response(item)


def _file_response(item: MediaItem) -> Response:
    """The bytes with their content type, named as WeChat names a download."""
    return Response(item.data, content_type=item.content_type, headers={
        "Content-Disposition": f'attachment; filename="{item.media_id}.{extension(item.content_type)}"',
        "Cache-Control": "no-cache, must-revalidate",
    })
