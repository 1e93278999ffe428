"""What a beneficiary says reaches the assistant: real voice through the real /wechat endpoint, the WeChat
stand-in (media/get, media/upload, its 3-day expiry) and the FunASR stand-in, then the media job,
the escalation scan and the outbox, as the worker, the scheduler and the dispatcher run them."""

from __future__ import annotations

import hashlib
import random
import time
from datetime import timedelta

import pytest
import requests as http
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from devtools.speech import speak_amr
from models import MediaItem, OutboxMessage, RequestEvent, ServiceRequest
from runtime import audio
from runtime.dispatch import dispatch_outbox
from runtime.media_jobs import fetch_due, transcribe_due
from scheduler import jobs
from services import texts
from tests.support.factories import fresh, make_beneficiary, make_town
from tests.support.wechat import reply_content

FELL = "我摔倒了起不来"


@pytest.fixture(scope="module")
def fell_amr() -> bytes:
    """Real Mandarin speech, as AMR-NB like a WeChat voice message (espeak-ng, ffmpeg)."""
    return speak_amr(FELL)



@pytest.fixture
def app(make_app, fake_asr):
    """The app with speech recognition on (queued replies are covered elsewhere; passive here)."""
    return make_app(asr_url=fake_asr.url, asr_timeout=3.0)


@pytest.fixture
def svc(app):
    """The app's services, as the media worker and the dispatcher get them."""
    return app.extensions["sanzhida"]


class World:
    """A family member, an elder and her assistant on WeChat, and the two stand-ins."""

    def __init__(self, client, sender, fake_wechat, fake_asr, clock, svc):
        self.client, self.sender, self.fake, self.asr, self.clock, self.svc = (
            client, sender, fake_wechat, fake_asr, clock, svc)
        self.wechat_url = f"http://{fake_wechat.host}:{fake_wechat.port}"

    def say(self, openid: str, text: str) -> str:
        """Send text; the passive reply's text."""
        return self._reply(self.sender.text(openid, text))

    def voice(self, openid: str, media_id: str) -> str:
        """Send a voice message without WeChat's recognition."""
        return self._reply(self.sender.voice(openid, media_id))

    def _reply(self, xml: str) -> str:
        response, _ = self.sender.post(self.client, xml)
        assert response.status_code == 200
        self.clock.advance(seconds=2)
        return reply_content(response.data)["Content"] if response.data != b"success" else ""

    def put_media(self, data: bytes, kind: str) -> str:
        """Put a file in the WeChat stand-in, as WeChat holds what a user sent; its MediaId."""
        answer = http.post(f"{self.wechat_url}/_media", files={"media": (f"file.{kind}", data)},
                           data={"type": kind}, timeout=5)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()["media_id"]

    def register_words(self, amr: bytes, words: str) -> None:
        """Tell the ASR stand-in what this audio says."""
        digest = hashlib.sha256(audio.to_pcm16k(amr)).hexdigest()
        answer = http.post(f"{self.asr.http_url}/_transcripts", json={"sha256": digest, "text": words}, timeout=5)
        assert answer.status_code in (200, 201), answer.text

    def dispatch(self):
        """Send what is due in the outbox, as the scheduler's dispatcher does."""
        svc = self.svc
        return dispatch_outbox(svc.session_factory, svc.wechat, svc.clock, rng=random.Random(7), store=svc.media_store)

    def calls(self, path: str | None = None) -> list[dict]:
        """Calls the WeChat stand-in recorded (of one path)."""
        calls = http.get(f"{self.wechat_url}/_calls", timeout=5).json()
        return [c for c in calls if path is None or c["path"] == path]

    def texts_to(self, openid: str) -> list[str]:
        """Customer-service texts and template fields delivered to `openid`."""
        found = []
        for call in self.calls():
            body = call.get("body") or {}
            if call["outcome"] != "delivered" or body.get("touser") != openid:
                continue
            if call["path"] == "message/custom/send" and body.get("msgtype") == "text":
                found.append(body["text"]["content"])
            elif call["path"] == "message/template/send":
                found.append(" | ".join(v["value"] for v in body["data"].values()))
        return found


@pytest.fixture
def world(client, sender, fake_wechat, fake_asr, clock, svc):
    """Everyone's phone and the stand-ins."""
    return World(client, sender, fake_wechat, fake_asr, clock, svc)


@pytest.fixture
def town(session, clock):
    """A town with bound staff."""
    return make_town(session, clock())


@pytest.fixture
def elder(session, clock, town, world):
    """An elder whose son is bound on WeChat; the assistant has written lately (her 48-hour window is open)."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰")
    session.commit()
    world.sender.post(world.client, world.sender.event("o-son", "subscribe", key=f"qrscene_bind:{elder.bind_code}"))
    assert "绑定成功" in world.say("o-son", "2")
    world.say("o-assistant", "任务")
    return elder


def latest_case(session) -> ServiceRequest:
    """The newest request."""
    fresh(session)
    return session.get(ServiceRequest, session.scalar(select(func.max(ServiceRequest.id))))


def test_a_spoken_fall_is_heard_made_urgent_and_reaches_the_assistant_as_voice(
        world, elder, town, session, clock, svc, fell_amr):
    """Voice without Recognition → fetched, kept, transcribed → urgent, 120 advice, task then the voice
    itself (uploaded with media/upload); three days later WeChat has forgotten it and it still plays."""
    media_id = world.put_media(fell_amr, "voice")
    world.register_words(fell_amr, FELL)

    reply = world.voice("o-son", media_id)
    case = latest_case(session)
    # Nobody has heard it yet: treated as urgent at once, and the sender is told whom to call.
    assert "120" in reply and f"编号 {case.id}" in reply
    assert (case.urgency, case.urgency_reason, case.assignee_staff_id) == ("urgent", "unheard", town.assistant.id)
    world.dispatch()
    assert any(t.startswith(f"新求助 {case.id}号（紧急）") for t in world.texts_to("o-assistant"))

    # Never inside the webhook request: nothing was fetched until the media job ran.
    assert world.calls("media/get") == []
    report = fetch_due(svc.media_env)
    assert (report.stored, report.transcribed, report.dead) == (1, 1, 0)
    case = latest_case(session)
    item = session.scalars(select(MediaItem).where(MediaItem.request_id == case.id)).one()
    assert (item.status, item.transcript, item.transcript_status) == ("stored", FELL, "done")
    assert item.content_type == "audio/amr" and item.size_bytes == len(fell_amr)
    assert item.sha256 == hashlib.sha256(fell_amr).hexdigest()
    assert (case.urgency, case.urgency_reason, case.summary, case.category) == ("urgent", None, FELL, "医")
    transcript = session.scalars(select(RequestEvent).where(RequestEvent.request_id == case.id,
                                                            RequestEvent.kind == "transcript")).one()
    assert transcript.body == FELL and transcript.data["source"] == "asr"

    world.dispatch()
    son = world.texts_to("o-son")
    assert any("120" in t and FELL in t for t in son), son
    to_assistant = [c for c in world.calls() if (c.get("body") or {}).get("touser") == "o-assistant"
                    and c["outcome"] == "delivered"]
    kinds = [(c["path"], (c["body"] or {}).get("msgtype")) for c in to_assistant]
    task_at = next(i for i, c in enumerate(to_assistant) if "新求助" in str(c["body"]))
    voice_at = kinds.index(("message/custom/send", "voice"))
    assert task_at < voice_at
    uploads = [c for c in world.calls("media/upload") if c["outcome"] == "delivered"]
    assert len(uploads) == 1 and uploads[0]["params"]["type"] == "voice"
    fresh(session)
    item = session.get(MediaItem, item.id)
    assert to_assistant[voice_at]["body"]["voice"]["media_id"] == item.wechat_upload_id
    assert any("紧急" in t and FELL in t for t in world.texts_to("o-assistant"))

    # The admin API shows the words, the urgency and what was sent, never where it is kept.
    detail = world.client.get(f"/api/v1/requests/{case.id}",
                              headers={"Authorization": f"Bearer {svc.settings.admin_api_token}"}).get_json()
    assert (detail["urgency"], detail["urgency_reason"], detail["summary"]) == ("urgent", None, FELL)
    assert [(m["kind"], m["content_type"], m["size_bytes"], m["transcript"], m["transcript_status"])
            for m in detail["media"]] == [("voice", "audio/amr", len(fell_amr), FELL, "done")]
    assert detail["media"][0]["duration_seconds"] > 1
    assert not any(key in str(detail["media"]) for key in ("store_key", "http", item.store_key, media_id))

    # Three days on WeChat's clock: its copy is gone, ours still plays.
    http.post(f"{world.wechat_url}/_clock", json={"advance_seconds": 3 * 24 * 3600 + 60}, timeout=5)
    listed = {m["media_id"]: m for m in http.get(f"{world.wechat_url}/_media", timeout=5).json()}
    assert listed[media_id]["expired"] is True
    played = svc.media_store.get(item.playable_key)
    assert item.playable_type == "audio/mpeg" and audio.duration_seconds(played) > 1.0


def test_voice_without_a_recogniser_climbs_the_urgent_ladder_and_is_transcribed_when_it_returns(
        world, elder, town, session, clock, svc, fell_amr):
    """ASR down: the case follows the urgent ladder (the town officer 15 minutes later); the words are
    added once the recogniser answers again."""
    media_id = world.put_media(fell_amr, "voice")
    world.register_words(fell_amr, FELL)
    http.post(f"{world.asr.http_url}/_faults", json={"mode": "refuse", "times": 1000}, timeout=5)
    world.voice("o-son", media_id)
    case = latest_case(session)
    report = fetch_due(svc.media_env)
    assert (report.stored, report.transcribed) == (1, 0)
    fresh(session)
    item = session.scalars(select(MediaItem).where(MediaItem.request_id == case.id)).one()
    assert item.transcript_status == "pending" and item.transcript_attempts == 1

    clock.advance(minutes=16)
    ctx = jobs.context_for(svc)
    jobs.escalation_job(ctx, clock())
    fresh(session)
    keys = set(session.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.request_id == case.id)))
    assert f"escalate:{case.id}:1:{town.officer.id}" in keys
    assert latest_case(session).escalation_level == 1

    http.delete(f"{world.asr.http_url}/_faults", timeout=5)
    assert transcribe_due(svc.media_env) == 1
    fresh(session)
    assert session.get(MediaItem, item.id).transcript == FELL
    assert latest_case(session).urgency_reason is None


def test_a_voice_nobody_can_transcribe_stays_urgent_until_a_member_of_staff_accepts_it(
        world, elder, town, session, clock, svc, fell_amr):
    """Heard nothing: still urgent; 接单 puts it back on the normal ladder."""
    media_id = world.put_media(fell_amr, "voice")
    world.voice("o-son", media_id)
    fetch_due(svc.media_env)
    case = latest_case(session)
    assert session.scalars(select(MediaItem.transcript_status).where(MediaItem.request_id == case.id)).one() == "empty"
    assert (case.urgency, case.urgency_reason) == ("urgent", "unheard")
    world.say("o-assistant", f"接单 {case.id}")
    assert (latest_case(session).urgency, latest_case(session).urgency_reason) == ("normal", None)


def test_a_voice_added_to_a_case_nobody_took_makes_it_urgent_until_its_words_are_known(
        world, elder, town, session, clock, svc):
    """A follow-up voice on an untaken normal case: urgent while unheard, back to normal once its
    words turn out harmless."""
    world.say("o-son", "我妈想问问低保怎么申请")
    case = latest_case(session)
    assert case.urgency == "normal"
    thanks = speak_amr("没事了，谢谢你们")
    world.register_words(thanks, "没事了，谢谢你们")
    assert "已补充到求助" in world.voice("o-son", world.put_media(thanks, "voice"))
    case = latest_case(session)
    assert (case.id, case.urgency, case.urgency_reason) == (case.id, "urgent", "unheard")
    fetch_due(svc.media_env)
    case = latest_case(session)
    assert (case.urgency, case.urgency_reason) == ("normal", None)


def test_a_photo_is_kept_and_sent_on_and_a_closed_window_leaves_the_case_link(
        world, elder, town, session, clock, svc, fell_amr):
    """A photo goes to the assistant as an image; with her window closed only the task (with its
    link to the case page) goes, and the photo waits on that page."""
    png = _tiny_png()
    media_id = world.put_media(png, "image")
    xml = world.sender.raw("o-son", "image", f"<PicUrl><![CDATA[http://mmbiz/{media_id}]]></PicUrl>"
                                             f"<MediaId><![CDATA[{media_id}]]></MediaId>")
    world._reply(xml)
    case = latest_case(session)
    fetch_due(svc.media_env)
    world.dispatch()
    fresh(session)
    images = [c for c in world.calls("message/custom/send") if (c["body"] or {}).get("msgtype") == "image"]
    assert len(images) == 1 and images[0]["body"]["touser"] == "o-assistant"
    item = session.scalars(select(MediaItem).where(MediaItem.request_id == case.id)).one()
    assert item.content_type == "image/png"

    # Two days later the assistant has not written: a second photo cannot go as itself. WeChat's
    # clock moves too, so that a photo sent as itself anyway would meet 45015 there.
    clock.advance(days=2)
    http.post(f"{world.wechat_url}/_clock", json={"advance_seconds": 2 * 24 * 3600}, timeout=5)
    second = world.put_media(png, "image")
    world._reply(world.sender.raw("o-son", "image", f"<PicUrl><![CDATA[http://mmbiz/{second}]]></PicUrl>"
                                                    f"<MediaId><![CDATA[{second}]]></MediaId>"))
    new_case = latest_case(session)
    fetch_due(svc.media_env)
    world.dispatch()
    fresh(session)
    rows = {r.idempotency_key: r for r in session.scalars(
        select(OutboxMessage).where(OutboxMessage.request_id == new_case.id))}
    media_row = next(r for k, r in rows.items() if k.startswith("media:"))
    assert (media_row.status, media_row.kind) == ("sent", "skipped")
    task = next(r for k, r in rows.items() if k.startswith("task:"))
    assert task.kind == "template" and task.payload["template"]["url"].endswith(f"/m/cases/{new_case.id}")


def test_media_get_failures_are_retried_then_dead_lettered_and_nothing_is_fetched_twice(
        world, elder, session, clock, svc, fell_amr, database_url, tmp_path):
    """500, a timeout and 40007 are retried with backoff; the same MediaId is kept once; after the
    retry limit the item is a dead letter listed by `sanzhida media list --failed` and retried by id."""
    media_id = world.put_media(fell_amr, "voice")
    for fault in ({"http_status": 500}, {"delay": 2.5}, {"errcode": 40007}):
        http.post(f"{world.wechat_url}/_faults", json={"path": "media/get", "times": 1, **fault}, timeout=5)
    world.voice("o-son", media_id)
    # WeChat delivers the same message again, and the family sends the same MediaId once more.
    world.sender.post(world.client, world.sender.voice("o-son", media_id, msg_id=424242))
    world.sender.post(world.client, world.sender.voice("o-son", media_id, msg_id=424242))
    outcomes = []
    for _ in range(4):
        outcomes.append(fetch_due(svc.media_env, rng=random.Random(1)))
        clock.advance(hours=1)
    assert [o.retried for o in outcomes] == [1, 1, 1, 0] and outcomes[3].stored == 1
    # The stand-in records the timed-out call once its delay is over.
    deadline = time.monotonic() + 5
    while len(world.calls("media/get")) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(world.calls("media/get")) == 4
    assert session.scalar(select(func.count()).select_from(MediaItem)) == 1
    assert fetch_due(svc.media_env).claimed == 0 and len(world.calls("media/get")) == 4

    gone = world.put_media(fell_amr, "voice")
    http.post(f"{world.wechat_url}/_faults", json={"path": "media/get", "times": 100, "errcode": 40007}, timeout=5)
    world.say("o-son", "还有一件事")
    world.voice("o-son", gone)
    for _ in range(12):
        fetch_due(svc.media_env, rng=random.Random(2))
        clock.advance(hours=1)
    fresh(session)
    dead = session.scalars(select(MediaItem).where(MediaItem.wechat_media_id == gone)).one()
    assert dead.status == "dead" and dead.attempts == 8 and "40007" in dead.last_error

    env = {"DATABASE_URL": database_url, "SANZHIDA_ENV": "development",
           "MEDIA_STORE_URL": svc.settings.media_store_url}
    listed = CliRunner().invoke(main, ["media", "list", "--failed"], env=env)
    assert listed.exit_code == 0 and listed.output.startswith(f"{dead.id}\t")
    assert "40007" in listed.output
    http.delete(f"{world.wechat_url}/_faults", timeout=5)
    again = CliRunner().invoke(main, ["media", "retry", str(dead.id)], env=env)
    assert again.exit_code == 0, again.output
    assert CliRunner().invoke(main, ["media", "retry", str(dead.id)], env=env).exit_code != 0
    # The command ran on the wall clock: the item is due from then, which may be past the test's clock.
    fresh(session)
    due = session.get(MediaItem, dead.id).next_attempt_at
    if due > clock():
        clock.advance(seconds=(due - clock()).total_seconds() + 1)
    fetch_due(svc.media_env)
    fresh(session)
    assert session.get(MediaItem, dead.id).status == "stored"


def _tiny_png() -> bytes:
    """A real 2×2 PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
