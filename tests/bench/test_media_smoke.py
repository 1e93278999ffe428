"""Smoke version of bench/media.py: a few real voice messages through the media job, with speech
recognition off and on, beside the outbox baseline, on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

import bench.media as media_bench
from devtools.fake_asr import FakeAsrServer
from models import MediaItem
from tests.conftest import using_postgres


@pytest.fixture(scope="module")
def voices():
    """Two real Mandarin recordings as AMR-NB (espeak-ng, ffmpeg), reused by every item."""
    return media_bench.speak_phrases(2)


@pytest.fixture
def fake_asr():
    """The FunASR stand-in on a real local port."""
    server = FakeAsrServer().start()
    yield server
    server.stop()


def _root(fake_wechat) -> str:
    return f"http://{fake_wechat.host}:{fake_wechat.port}"


def test_a_run_stores_converts_and_transcribes_every_voice_once(settings, db, session, fake_wechat, fake_asr, voices):
    """One worker with ASR off and on, ffmpeg alone and the outbox baseline; every check holds, nothing is left."""
    media = media_bench.put_voices(_root(fake_wechat), voices, 6)
    assert len({media_id for media_id, _ in media}) == 6
    media_bench.teach_asr(fake_asr.http_url, voices)

    run = media_bench.run_once(settings, voices, media, asr_url=fake_asr.url, outbox_rows=20, processes=[1],
                               ffmpeg_samples=2)

    off, on = run.media["asr off"], run.media["asr on"]
    assert off.statuses == {"stored/1 claim/off": 6} and off.media_gets == 6 and off.transcribed == 0
    assert on.statuses == {"stored/1 claim/done": 6} and on.media_gets == 6 and on.recognitions == 6
    assert run.ok() and off.per_second > 0 and on.per_second > 0
    assert run.outbox_ok and run.outbox_per_s > 0
    assert run.playable_ms > 0 and run.pcm_ms > 0
    out = io.StringIO()
    figures = media_bench.report([run], out=out)
    assert figures["summary"]["checks_ok"] and "voice/s (asr on)" in out.getvalue()
    assert figures["summary"]["ratio_media_outbox"] > 0
    assert session.scalar(select(func.count()).select_from(MediaItem)) == 0


def test_a_lost_fetch_fails_the_check(settings, db, fake_wechat, voices, tmp_path):
    """A media_id WeChat does not know is retried, not stored: the run's check says so."""
    media = media_bench.put_voices(_root(fake_wechat), voices, 2) + [("no-such-media-id", "")]
    timing = media_bench.time_media(settings.with_overrides(media_store_url=(tmp_path / "m").as_uri()), media)
    assert timing.stored == 2 and not timing.ok()


@pytest.mark.skipif(not using_postgres(), reason="two media workers share the queue through FOR UPDATE SKIP LOCKED "
                    "claims, which only PostgreSQL has (set TEST_DATABASE_URL)")
def test_two_worker_processes_share_the_queue(settings, db, fake_wechat, voices, tmp_path):
    """Two spawned workers drain one queue: each item is claimed and fetched once."""
    media = media_bench.put_voices(_root(fake_wechat), voices, 8)
    timing = media_bench.time_media(settings.with_overrides(media_store_url=(tmp_path / "m").as_uri()), media,
                                    processes=2)
    assert timing.ok() and timing.stored == 8 and timing.media_gets == 8


def test_the_bench_script_has_help(capsys):
    with pytest.raises(SystemExit) as exc:
        media_bench.main(["--help"])
    assert exc.value.code == 0
    assert "--smoke" in capsys.readouterr().out
