"""The media store (a folder, or S3-compatible object storage through a local S3 server), what the
media job accepts from WeChat, and how long media are kept."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import requests as http
from sqlalchemy import select

from config.settings import Settings
from devtools.speech import speak_amr
from models import MediaItem, ServiceRequest
from runtime import media_jobs
from runtime.media_jobs import MediaRejected, fetch_due, sniff
from runtime.media_store import EncryptedStore, FileStore, MediaStoreError, S3Store, make_media_store
from scheduler import jobs
from services import media
from tests.support.s3 import start_s3_server
from tests.support.factories import fresh, make_beneficiary, make_town


PII = "test-pii-key-0000000000000000000000000"


def test_a_folder_store_keeps_reads_and_deletes_and_refuses_keys_it_did_not_make(tmp_path):
    """Atomic, encrypted writes under the root; `..`, absolute and empty parts are refused."""
    store = make_media_store(Settings(media_store_url=(tmp_path / "m").as_uri(), pii_key=PII))
    assert isinstance(store, EncryptedStore) and isinstance(store.inner, FileStore)
    secret_photo = b"\xff\xd8\xff\xe0 ID 420683195101011234"
    store.put("2026/12/01/1.jpg", secret_photo, "image/jpeg")
    assert store.get("2026/12/01/1.jpg") == secret_photo
    on_disk = (tmp_path / "m" / "2026/12/01/1.jpg").read_bytes()
    assert b"420683" not in on_disk and on_disk.startswith(b"SZM1")
    # Another PII_KEY, or the file moved under another key, does not decrypt.
    with pytest.raises(MediaStoreError):
        make_media_store(Settings(media_store_url=(tmp_path / "m").as_uri(), pii_key=PII + "x")).get("2026/12/01/1.jpg")
    (tmp_path / "m" / "2026/12/01/2.jpg").write_bytes(on_disk)
    with pytest.raises(MediaStoreError):
        store.get("2026/12/01/2.jpg")
    store.put("2026/12/01/1.amr", b"#!AMR\n123", "audio/amr")
    assert store.get("2026/12/01/1.amr") == b"#!AMR\n123"
    assert not [p for p in (tmp_path / "m" / "2026/12/01").iterdir() if p.name.startswith(".part-")]
    store.delete("2026/12/01/1.amr")
    store.delete("2026/12/01/1.amr")
    with pytest.raises(MediaStoreError):
        store.get("2026/12/01/1.amr")
    for bad in ("../x", "/etc/passwd", "a//b", "a/./b", ""):
        with pytest.raises(MediaStoreError):
            store.put(bad, b"x", "text/plain")


@pytest.fixture(scope="module")
def s3_server():
    """A local S3 server (moto) speaking S3's real HTTP API, as MinIO, OSS and COS do."""
    url, server = start_s3_server()
    yield url
    server.stop()


def test_an_s3_store_keeps_objects_under_its_prefix(s3_server):
    """s3://bucket/prefix with an endpoint and keys: put, get, delete; a missing object is an error."""
    settings = Settings(media_store_url="s3://sanzhida-media/honghu", s3_endpoint_url=s3_server,
                        s3_access_key_id="test-key", s3_secret_access_key="test-secret", pii_key=PII)
    store = make_media_store(settings)
    assert isinstance(store.inner, S3Store)
    store.inner.client.create_bucket(Bucket="sanzhida-media")
    store.put("2026/12/01/7.jpg", b"\xff\xd8\xff\xe0jpeg", "image/jpeg")
    assert store.get("2026/12/01/7.jpg") == b"\xff\xd8\xff\xe0jpeg"
    kept = store.inner.client.get_object(Bucket="sanzhida-media", Key="honghu/2026/12/01/7.jpg")
    assert kept["Body"].read().startswith(b"SZM1")
    store.delete("2026/12/01/7.jpg")
    with pytest.raises(MediaStoreError):
        store.get("2026/12/01/7.jpg")
    assert store.inner.client.meta.config.s3["addressing_style"] == "path"
    oss = make_media_store(settings.with_overrides(s3_addressing_style="virtual"))
    assert oss.inner.client.meta.config.s3["addressing_style"] == "virtual"
    wrong = make_media_store(settings.with_overrides(media_store_url="s3://no-such-bucket"))
    with pytest.raises(MediaStoreError):
        wrong.put("x.amr", b"#!AMR\n", "audio/amr")


def test_the_type_comes_from_the_bytes_not_from_what_the_message_says():
    """AMR is voice, a PNG is no voice, a script is nothing at all."""
    assert sniff("voice", speak_amr("你好")) == "audio/amr"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    assert sniff("image", png) == "image/png"
    with pytest.raises(MediaRejected):
        sniff("voice", png)
    with pytest.raises(MediaRejected):
        sniff("image", b"<script>alert(1)</script>")


@pytest.fixture
def town(session, clock):
    """A town with bound staff."""
    return make_town(session, clock())


def _case_with_media(session, clock, town, media_id: str, kind: str = "voice") -> MediaItem:
    """A case of the town's elder with one queued media item."""
    from models import InboundMessage

    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.flush()
    case = ServiceRequest(beneficiary=elder, village_id=town.village.id, town_id=town.town.id, category="其他",
                          urgency="normal", status="open", summary="[语音留言]", assignee=town.assistant,
                          escalation_level=0, escalation_repeats=0, created_at=clock(), updated_at=clock())
    session.add(case)
    session.flush()
    inbound = InboundMessage(dedupe_key=f"msg:{media_id}", openid="o-son", msg_type=kind, sent_at=clock(),
                             received_at=clock(), payload={"MediaId": media_id, "Format": "amr"})
    session.add(inbound)
    session.flush()
    item = media.queue_for_message(session, inbound, case, clock(), asr_on=False)
    session.commit()
    return item


def _put(fake_wechat, data: bytes, kind: str) -> str:
    """Put a file in the WeChat stand-in; its MediaId."""
    answer = http.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_media",
                       files={"media": ("f", data)}, data={"type": kind}, timeout=5)
    return answer.json()["media_id"]


def test_too_large_or_the_wrong_kind_is_refused_at_once_and_kept_as_a_dead_letter(
        app, session, clock, town, fake_wechat):
    """More than MEDIA_MAX_BYTES, or an image where a voice was announced: no retry can mend it."""
    svc = app.extensions["sanzhida"]
    big = _case_with_media(session, clock, town, _put(fake_wechat, speak_amr("我家停电了，很冷"), "voice"))
    env = svc.media_env
    env.max_bytes = 1000
    assert fetch_due(env).dead == 1
    fresh(session)
    big = session.get(MediaItem, big.id)
    assert big.status == "dead" and "allowed" in big.last_error and big.attempts == 1

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    wrong = _case_with_media(session, clock, town, _put(fake_wechat, png, "image"), kind="voice")
    env.max_bytes = 10 * 1024 * 1024
    assert fetch_due(env).dead == 1
    fresh(session)
    wrong = session.get(MediaItem, wrong.id)
    assert wrong.status == "dead" and "image/png" in wrong.last_error


def test_media_are_deleted_a_retention_period_after_their_case_closed(app, session, clock, town, fake_wechat):
    """Files and words go MEDIA_RETENTION_DAYS after the case closed; an open case keeps them."""
    svc = app.extensions["sanzhida"]
    old = _case_with_media(session, clock, town, _put(fake_wechat, speak_amr("谢谢"), "voice"))
    kept = _case_with_media(session, clock, town, _put(fake_wechat, speak_amr("在吗"), "voice"))
    assert fetch_due(svc.media_env).stored == 2
    fresh(session)
    closed = session.get(ServiceRequest, old.request_id)
    closed.status, closed.closed_at = "closed", clock()
    session.commit()
    keys = session.get(MediaItem, old.id).store_key, session.get(MediaItem, old.id).playable_key
    ctx = jobs.context_for(svc)
    assert jobs.media_retention_job(ctx, clock() + timedelta(days=364)) == 0
    assert jobs.media_retention_job(ctx, clock() + timedelta(days=366)) == 1
    fresh(session)
    gone = session.get(MediaItem, old.id)
    assert (gone.status, gone.store_key, gone.transcript) == ("deleted", None, None)
    for key in keys:
        with pytest.raises(MediaStoreError):
            svc.media_store.get(key)
    assert session.get(MediaItem, kept.id).status == "stored"


def test_an_upload_older_than_wechats_three_days_is_uploaded_again(app, session, clock, town, fake_wechat):
    """Our media_id is reused inside WeChat's 3 days and renewed after (media/upload once more)."""
    svc = app.extensions["sanzhida"]
    item = _case_with_media(session, clock, town, _put(fake_wechat, speak_amr("我腿疼"), "voice"))
    fetch_due(svc.media_env, rng=random.Random(3))
    first = media_jobs.wechat_media_id(svc.session_factory, svc.media_store, svc.wechat, item.id, clock())
    again = media_jobs.wechat_media_id(svc.session_factory, svc.media_store, svc.wechat, item.id,
                                       clock() + timedelta(days=2))
    assert again == first
    http.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_clock", json={"advance_seconds": 3 * 86400}, timeout=5)
    later = media_jobs.wechat_media_id(svc.session_factory, svc.media_store, svc.wechat, item.id,
                                       clock() + timedelta(days=3))
    assert later != first
    fresh(session)
    assert session.get(MediaItem, item.id).wechat_upload_id == later
    uploads = [c for c in http.get(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5).json()
               if c["path"] == "media/upload"]
    assert len(uploads) == 2
