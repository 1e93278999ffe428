"""A case with real media, kept as the media job keeps it: a spoken AMR voice with its MP3, a PNG
photo and a shared location, for the case-page and media-route tests."""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from devtools.speech import speak_amr
from models import MediaItem, ServiceRequest
from models.enums import EventKind, MediaKind, MediaStatus, RequestCategory, TranscriptStatus, Urgency
from runtime import audio
from services import requests as service
from services.policy.classify import Classification
from tests.support.factories import make_wechat_user

WORDS = "我摔倒了起不来"
# A place in the demo county (latitude, longitude), as WeChat's Location_X and Location_Y give it.
PLACE = (30.650001, 113.160002)


def png(width: int = 240, height: int = 160) -> bytes:
    """A small real PNG drawn by hand: sky, a hill and a house, so a browser decodes a picture."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            if 90 <= x <= 150 and 70 <= y <= 120:
                pixel = (196, 22, 28) if y < 85 else (240, 230, 210)
            elif y > 110 + 12 * ((x - 120) / 120) ** 2:
                pixel = (60, 140, 70)
            else:
                pixel = (150, 200, 240 - y // 2)
            row += bytes(pixel)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


@dataclass
class CaseWithMedia:
    """The case and its media items."""

    request: ServiceRequest
    voice: MediaItem
    photo: MediaItem


def _item(session, request, kind: MediaKind, now: datetime, **fields) -> MediaItem:
    item = MediaItem(wechat_media_id=f"m-{request.id}-{kind.value}-{now.timestamp():.0f}", request_id=request.id,
                     kind=kind.value, status=MediaStatus.STORED.value, attempts=1, next_attempt_at=now,
                     transcript_attempts=0, created_at=now, fetched_at=now, **fields)
    session.add(item)
    session.flush()
    return item


def keep(store, key: str, data: bytes, content_type: str) -> dict:
    """Put a file in the store; the MediaItem fields describing it."""
    store.put(key, data, content_type)
    return {"store_key": key, "content_type": content_type, "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def make_case_with_media(session, env, store, beneficiary, now: datetime, *, urgent: bool = True) -> CaseWithMedia:
    """An open case for `beneficiary` with a spoken voice (AMR + MP3), a photo and a location."""
    requester = make_wechat_user(session, f"o-requester-{beneficiary.id}", now - timedelta(days=30))
    request = service.open_request(
        session, env, beneficiary=beneficiary, summary=WORDS, now=now - timedelta(minutes=20), user=requester,
        classification=Classification(RequestCategory.MEDICAL, Urgency.URGENT if urgent else Urgency.NORMAL),
    )
    amr = speak_amr(WORDS)
    playable = audio.to_playable(amr)
    folder = now.strftime("%Y/%m/%d")
    voice = _item(session, request, MediaKind.VOICE, now - timedelta(minutes=19), wechat_format="amr",
                  transcript=WORDS, transcript_status=TranscriptStatus.DONE.value,
                  duration_ms=int(playable.duration_seconds * 1000))
    voice_fields = keep(store, f"{folder}/{voice.id}.amr", amr, "audio/amr")
    store.put(f"{folder}/{voice.id}.play.mp3", playable.data, playable.content_type)
    for name, value in {**voice_fields, "playable_key": f"{folder}/{voice.id}.play.mp3",
                        "playable_type": playable.content_type}.items():
        setattr(voice, name, value)
    photo = _item(session, request, MediaKind.IMAGE, now - timedelta(minutes=18))
    for name, value in keep(store, f"{folder}/{photo.id}.png", png(), "image/png").items():
        setattr(photo, name, value)
    place = {"x": str(PLACE[0]), "y": str(PLACE[1]), "scale": "15", "label": "东湾村村口"}
    service.record_event(session, env, request, EventKind.MESSAGE, now - timedelta(minutes=17), user=requester,
                         body="[位置] 东湾村村口", data={"msg_type": "location", "location": place})
    session.flush()
    return CaseWithMedia(request=request, voice=voice, photo=photo)
