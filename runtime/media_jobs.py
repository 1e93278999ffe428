"""The media job: fetch what beneficiaries sent from WeChat, keep it, make voice playable, transcribe it,
and upload it again to send it on to staff.

Never inside a webhook request: the media worker (`sanzhida media run`) and `sanzhida media fetch`
run `fetch_due`. Like the outbox dispatcher it talks to WeChat, the store, ffmpeg and the speech
recogniser outside any database transaction, and records each outcome in a short one.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import filetype
import requests
from sqlalchemy.orm import Session, sessionmaker
from wechatpy.exceptions import WeChatClientException

from config import policy
from models import MediaItem
from models.enums import MediaKind, MediaStatus
from runtime import audio, metrics
from runtime.asr import AsrError, SpeechRecognizer
from runtime.media_store import MediaStore, MediaStoreError
from runtime.wechat_accounts import client_for
from services import media
from services.requests import RequestEnv
from services.transcripts import apply_transcript

logger = logging.getLogger(__name__)

# What each kind may be, read from the bytes (never from WeChat's headers or the file name).
ALLOWED_TYPES = {
    MediaKind.VOICE.value: {"audio/amr", "audio/ogg", "audio/mpeg", "audio/x-speex", "audio/speex"},
    MediaKind.IMAGE.value: {"image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp"},
    MediaKind.VIDEO.value: {"video/mp4", "video/quicktime", "video/3gpp"},
    MediaKind.SHORTVIDEO.value: {"video/mp4", "video/quicktime", "video/3gpp"},
}
EXTENSIONS = {"audio/amr": "amr", "audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/speex": "spx",
              "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/bmp": "bmp", "image/webp": "webp",
              "video/mp4": "mp4", "video/quicktime": "mov", "video/3gpp": "3gp"}


class MediaRejected(Exception):
    """The bytes are not what a message of this kind may carry (too large, or not its type)."""


@dataclass
class MediaEnv:
    """What the media job needs: sessions, WeChat, the store, the recogniser, the clock, the limits."""

    session_factory: sessionmaker[Session]
    wechat: object
    store: MediaStore
    recognizer: SpeechRecognizer | None
    clock: Callable[[], datetime]
    request_env: RequestEnv
    max_bytes: int = 10 * 1024 * 1024


@dataclass
class MediaReport:
    """What one run did."""

    claimed: int = 0
    stored: int = 0
    retried: int = 0
    dead: int = 0
    transcribed: int = 0


def sniff(kind: str, data: bytes) -> str:
    """The content type of `data`, read from its first bytes; MediaRejected when it is not one `kind` may be."""
    if data.startswith(b"#!AMR"):
        found = "audio/amr"
    else:
        guess = filetype.guess(data)
        found = guess.mime if guess else None
    if found == "audio/x-speex":
        found = "audio/speex"
    if found not in ALLOWED_TYPES.get(kind, ()):
        raise MediaRejected(f"{kind} message carried {found or 'unknown data'}")
    return found


def download(client, media_id: str, max_bytes: int, timeout: float = 30.0) -> bytes:
    """The bytes of a WeChat media_id (media/get; a video's answer names a URL to fetch it from)."""
    answer = client.download_media(media_id)
    if isinstance(answer, dict):
        url = answer.get("video_url")
        if not url:
            raise MediaRejected("media/get answered without bytes or a video_url")
        answer = requests.get(url, timeout=timeout, stream=True)
        answer.raise_for_status()
    if answer.headers.get("Content-Type", "").startswith("text/"):
        # A proxy's or gateway's page, not WeChat's answer: worth another try later.
        raise requests.RequestException(f"media/get answered {answer.headers['Content-Type'].split(';')[0]}")
    declared = int(answer.headers.get("Content-Length") or 0)
    if declared > max_bytes:
        raise MediaRejected(f"{declared} bytes, more than the {max_bytes} allowed")
    data = bytearray()
    for chunk in answer.iter_content(64 * 1024):
        data += chunk
        if len(data) > max_bytes:
            raise MediaRejected(f"more than the {max_bytes} bytes allowed")
    return bytes(data)


def keep(store: MediaStore, row: media.Claimed, data: bytes, now: datetime) -> media.Stored:
    """Check and keep the original; for voice also a playable MP3 beside it."""
    content_type = sniff(row.kind, data)
    folder = now.strftime("%Y/%m/%d")
    key = f"{folder}/{row.id}.{EXTENSIONS.get(content_type, 'bin')}"
    playable_key = playable_type = duration_ms = None
    if row.kind == MediaKind.VOICE.value:
        converted = audio.to_playable(data)
        playable_key, playable_type = f"{folder}/{row.id}.play.{audio.PLAYABLE_EXTENSION}", converted.content_type
        duration_ms = int(converted.duration_seconds * 1000)
    store.put(key, data, content_type)
    if playable_key is not None:
        store.put(playable_key, converted.data, playable_type)
    return media.Stored(content_type=content_type, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                        store_key=key, playable_key=playable_key, playable_type=playable_type, duration_ms=duration_ms)


def fetch_due(env: MediaEnv, *, batch: int = 10, rng: random.Random | None = None) -> MediaReport:
    """Fetch, keep and convert the due media, then transcribe what waits for the recogniser."""
    rng = rng or random.Random()  # nosec B311  # backoff jitter, not a secret
    report = MediaReport()
    with env.session_factory() as session:
        rows = media.claim_due(session, env.clock(), batch)
        accounts = media.accounts_of(session, rows)
        session.commit()
    report.claimed = len(rows)
    for row in rows:
        error, permanent, stored = None, False, None
        try:
            client = client_for(env.wechat, accounts.get(row.id))
            stored = keep(env.store, row, download(client, row.wechat_media_id, env.max_bytes), env.clock())
        except WeChatClientException as exc:
            error = f"{exc.errcode}: {exc.errmsg}"
        except MediaRejected as exc:
            # The same bytes would come again: no retry can mend it.
            error, permanent = f"rejected: {exc}", True
        except (requests.RequestException, MediaStoreError, audio.AudioError) as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        with env.session_factory() as session:
            now = env.clock()
            if stored is not None:
                if media.record_stored(session, row, stored, now, tz=env.request_env.tz):
                    report.stored += 1
                    metrics.media_fetched(row.kind)
                    logger.info("media=stored id=%s kind=%s bytes=%s", row.id, row.kind, stored.size_bytes)
            else:
                status = media.record_failure(session, row, error, now, rng, permanent=permanent)
                metrics.media_failed(row.kind, dead=status == MediaStatus.DEAD.value)
                if status == MediaStatus.DEAD.value:
                    report.dead += 1
                    logger.warning("media=dead id=%s attempts=%s error=%s", row.id, row.attempts, error)
                else:
                    report.retried += 1
                    logger.info("media=retry id=%s attempts=%s error=%s", row.id, row.attempts, error)
            session.commit()
    report.transcribed = transcribe_due(env)
    return report


def transcribe_due(env: MediaEnv, *, batch: int = 10) -> int:
    """Ask the recogniser what the waiting voice messages say; stop at its first failure (it is down)."""
    if env.recognizer is None:
        return 0
    with env.session_factory() as session:
        waiting = [(item.id, item.store_key) for item in media.due_transcripts(session, env.clock(), batch)]
    done = 0
    for item_id, key in waiting:
        try:
            words = env.recognizer.transcribe(audio.to_pcm16k(env.store.get(key)), name=f"media-{item_id}")
        except (AsrError, audio.AudioError, MediaStoreError) as exc:
            with env.session_factory() as session:
                item = session.get(MediaItem, item_id)
                status = media.record_transcript_failure(session, item, env.clock())
                session.commit()
            logger.warning("asr=failed id=%s status=%s error=%s", item_id, status, type(exc).__name__)
            metrics.speech_transcribed(ok=False)
            break
        with env.session_factory() as session:
            item = session.get(MediaItem, item_id)
            if item.transcript_status == "pending":
                apply_transcript(session, env.request_env, item, words, env.clock())
                done += 1
                metrics.speech_transcribed(ok=True)
            session.commit()
        logger.info("asr=done id=%s heard=%s", item_id, bool(words))
    return done


def purge_past_retention(env: MediaEnv, days: int) -> int:
    """Delete the files of media whose case closed more than `days` ago (the retention job)."""
    now = env.clock()
    deleted = 0
    with env.session_factory() as session:
        for item in media.past_retention(session, now, days):
            for key in (item.store_key, item.playable_key):
                if key:
                    env.store.delete(key)
            media.mark_deleted(item, now)
            deleted += 1
        session.commit()
    if deleted:
        logger.info("media=purged count=%s retention_days=%s", deleted, days)
    return deleted


# --- sending it on to staff ----------------------------------------------------------------------

def wechat_media_id(env_session_factory, store: MediaStore, client, item_id: int, now: datetime, *,
                    renew: bool = False) -> str:
    """A media_id WeChat still holds for this item: our last upload, or a new one (media/upload) when
    it is older than WeChat's 3 days (less a margin) or WeChat refused it."""
    with env_session_factory() as session:
        item = session.get(MediaItem, item_id)
        if item is None or item.status != MediaStatus.STORED.value:
            raise MediaStoreError(f"media item {item_id} is not stored")
        fresh = (item.wechat_upload_id and item.wechat_uploaded_at
                 and now - item.wechat_uploaded_at < policy.WECHAT_MEDIA_TTL - policy.WECHAT_MEDIA_RENEW_BEFORE)
        if fresh and not renew:
            return item.wechat_upload_id
        kind, key = item.kind, item.store_key
        # WeChat's voice messages take AMR or MP3: the original AMR, else the playable MP3.
        if kind == MediaKind.VOICE.value and item.content_type != "audio/amr":
            key = item.playable_key
    data = store.get(key)
    answer = client.media.upload(kind, (key.rsplit("/", 1)[-1], io.BytesIO(data)))
    with env_session_factory() as session:
        item = session.get(MediaItem, item_id)
        item.wechat_upload_id, item.wechat_uploaded_at = answer["media_id"], now
        session.commit()
    return answer["media_id"]


def send_media(session_factory, store: MediaStore | None, client, openid: str, payload: dict, now: datetime) -> None:
    """Send the voice or photo itself as a customer-service message (uploading it again when needed)."""
    if store is None:
        raise MediaStoreError("no media store in this process")
    spec = payload["media"]
    for renew in (False, True):
        media_id = wechat_media_id(session_factory, store, client, spec["item"], now, renew=renew)
        try:
            client.post("message/custom/send", data={"touser": openid, "msgtype": spec["type"],
                                                    spec["type"]: {"media_id": media_id}})
            return
        except WeChatClientException as exc:
            # WeChat forgot our upload early: upload once more and send again.
            if exc.errcode != 40007 or renew:
                raise
