"""Media fetch and conversion throughput (voice messages per second per worker) beside the outbox's pushes/s.

    .venv/bin/python bench/media.py [--items 200] [--runs 3] [--processes 1 --processes 2]
    .venv/bin/python bench/media.py --smoke      # 10 voice messages, one run, 1 worker: seconds

A throwaway database is created next to --admin-url, migrated with `models.migrate.upgrade`, and
dropped afterwards. The WeChat stand-in runs as a subprocess (`python -m cli fake-wechat`), and so
does the FunASR stand-in (`devtools.fake_asr.FakeAsrServer`), so neither shares this process's GIL.

Setup, once: espeak-ng speaks a few Mandarin phrases, ffmpeg encodes them as AMR-NB (what a WeChat
voice message carries); each of the N items puts one of them into the stand-in (`POST /_media`) and
gets a media_id of its own; the ASR stand-in learns each phrase's words. Each run then measures,
interleaved so that all figures share the machine's noise:

1. the baseline: `bench/outbox.py`'s `time_dispatch` (pushes/s) on the same database and stand-in;
2. N pending voice MediaItems fetched by one worker, `runtime.media_jobs.fetch_due` in a loop
   until it claims nothing, speech recognition off; then again with the ASR stand-in on (voice/s);
   with --processes 2, two worker processes at once (claims use SKIP LOCKED; PostgreSQL);
3. ffmpeg alone: `runtime.audio.to_playable` (and `to_pcm16k`, what recognition adds) over the
   items' AMR, so the reader sees how much of a voice message's time is ffmpeg.

The items belong to no case (request_id NULL): the media job keeps and transcribes them exactly as
for a case, but queues no forwarding push and puts no transcript on a timeline. Checked after each
run: every item ended `stored` after one claim, and the stand-in recorded one media/get per item
(and, with ASR on, one recognition per item, every transcript as registered). Medians of --runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import delete, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import outbox as outbox_bench  # noqa: E402
from config.settings import Settings  # noqa: E402
from models import MediaItem  # noqa: E402
from models.db import normalize_url  # noqa: E402
from models.enums import MediaKind, MediaStatus, TranscriptStatus  # noqa: E402
from runtime import audio  # noqa: E402
from runtime.container import build_services  # noqa: E402
from runtime.media_jobs import MediaEnv, MediaReport, fetch_due  # noqa: E402

DEFAULT_ADMIN = outbox_bench.DEFAULT_ADMIN
NOW = outbox_bench.NOW
# What the media worker claims at a time (workers/media.py).
BATCH = 10
PHRASES = ("我家停电了，很冷", "我摔倒了起不来", "老人今天没吃饭", "水管冻裂了", "请帮我买点药",
           "我腿疼走不了路", "家里没有米了", "谢谢你们来看我", "电视坏了", "什么时候来走访")


def bench_clock() -> datetime:
    """The bench's fixed instant (the outbox bench's): every item is due, every claim still ours."""
    return NOW


def speak_phrases(count: int) -> list[tuple[str, bytes]]:
    """`count` distinct Mandarin phrases and their AMR-NB, as WeChat voice messages carry them."""
    from devtools.speech import speak_amr

    return [(text, speak_amr(text)) for text in PHRASES[:count]]


def put_voices(wechat_root: str, voices: list[tuple[str, bytes]], items: int) -> list[tuple[str, str]]:
    """Put `items` voice messages into the WeChat stand-in (the phrases in turn); (media_id, words) each."""
    out = []
    with requests.Session() as http:
        for i in range(items):
            words, amr = voices[i % len(voices)]
            answer = http.post(f"{wechat_root}/_media", files={"media": ("voice.amr", amr)},
                               data={"type": "voice"}, timeout=10)
            answer.raise_for_status()
            out.append((answer.json()["media_id"], words))
    return out


def teach_asr(asr_http: str, voices: list[tuple[str, bytes]]) -> None:
    """Tell the ASR stand-in what each phrase says (keyed by the SHA-256 of its 16 kHz PCM)."""
    for words, amr in voices:
        digest = hashlib.sha256(audio.to_pcm16k(amr)).hexdigest()
        requests.post(f"{asr_http}/_transcripts", json={"sha256": digest, "text": words}, timeout=10).raise_for_status()


def calls(root: str) -> list[dict]:
    """A stand-in's recorded calls (both stand-ins list them at /_calls)."""
    return requests.get(f"{root}/_calls", timeout=30).json()


def clear_calls(root: str) -> None:
    """Forget a stand-in's recorded calls."""
    requests.delete(f"{root}/_calls", timeout=30)


def insert_pending(session_factory, media: list[tuple[str, str]], *, asr_on: bool) -> None:
    """One pending voice item per media_id, due now, with no case."""
    status = (TranscriptStatus.PENDING if asr_on else TranscriptStatus.OFF).value
    rows = [{"wechat_media_id": media_id, "kind": MediaKind.VOICE.value, "wechat_format": "amr",
             "status": MediaStatus.PENDING.value, "attempts": 0, "next_attempt_at": NOW,
             "transcript_status": status, "transcript_attempts": 0, "created_at": NOW} for media_id, _ in media]
    with session_factory() as session:
        session.execute(MediaItem.__table__.insert(), rows)
        session.commit()


def outcome(session_factory, media: list[tuple[str, str]]) -> dict[str, int]:
    """The run's items by status, claims and transcript (`stored/1 claim/done` …)."""
    ids = [media_id for media_id, _ in media]
    words = dict(media)
    with session_factory() as session:
        rows = session.execute(select(MediaItem.wechat_media_id, MediaItem.status, MediaItem.attempts,
                                      MediaItem.transcript_status, MediaItem.transcript)
                               .where(MediaItem.wechat_media_id.in_(ids))).all()
    counts: dict[str, int] = {}
    for media_id, status, attempts, transcript_status, transcript in rows:
        if transcript_status == TranscriptStatus.DONE.value and transcript != words[media_id]:
            transcript_status = "wrong words"
        key = f"{status}/{attempts} claim{'s' if attempts != 1 else ''}/{transcript_status}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def cleanup(session_factory, media: list[tuple[str, str]]) -> None:
    """Remove the run's items, so the same media_ids can be queued again."""
    with session_factory() as session:
        session.execute(delete(MediaItem).where(MediaItem.wechat_media_id.in_([m for m, _ in media])))
        session.commit()


def drain(env: MediaEnv) -> MediaReport:
    """Run the media job until it claims and transcribes nothing more; what it did in total."""
    total = MediaReport()
    while True:
        report = fetch_due(env, batch=BATCH)
        for name in ("claimed", "stored", "retried", "dead", "transcribed"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if not report.claimed and not report.transcribed:
            return total


class FfmpegTimer:
    """Wall time the media job spends in `runtime.audio`'s ffmpeg conversions, while it runs in this process."""

    NAMES = ("to_playable", "to_pcm16k")

    def __init__(self):
        self.seconds = dict.fromkeys(self.NAMES, 0.0)

    def __enter__(self) -> "FfmpegTimer":
        self.saved = {name: getattr(audio, name) for name in self.NAMES}
        for name, original in self.saved.items():
            setattr(audio, name, self._timed(name, original))
        return self

    def _timed(self, name: str, original):
        def timed(data: bytes):
            started = time.perf_counter()
            try:
                return original(data)
            finally:
                self.seconds[name] += time.perf_counter() - started
        return timed

    def __exit__(self, *exc) -> None:
        for name, original in self.saved.items():
            setattr(audio, name, original)


@dataclass
class MediaTiming:
    """One timed drain of the media queue."""

    processes: int
    asr: bool
    items: int
    seconds: float
    stored: int
    transcribed: int
    statuses: dict[str, int]
    media_gets: int
    recognitions: int
    # ms per voice inside the drain (1 process only): to_playable, to_pcm16k.
    ffmpeg_ms: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        """Voice messages stored per second of wall time."""
        return self.stored / self.seconds if self.seconds else 0.0

    def ok(self) -> bool:
        """Every item stored after one claim, fetched once, and (with ASR) transcribed as registered."""
        want = TranscriptStatus.DONE.value if self.asr else TranscriptStatus.OFF.value
        return (self.stored == self.items == self.media_gets
                and self.statuses == {f"{MediaStatus.STORED.value}/1 claim/{want}": self.items}
                and (not self.asr or (self.transcribed == self.recognitions == self.items)))


def _worker(settings: Settings, ready, go, result) -> None:
    """One media worker process: wait for the start, drain the queue, report what it did."""
    svc = build_services(settings, clock=bench_clock)
    svc.wechat.access_token  # fetch/share the token before the clock starts  # noqa: B018
    ready.put(os.getpid())
    go.wait()
    report = drain(svc.media_env)
    result.put((report.stored, report.transcribed))
    svc.engine.dispose()


def time_media(settings: Settings, media: list[tuple[str, str]], *, processes: int = 1) -> MediaTiming:
    """Queue the items, drain them with `processes` media workers (1: in this process), check, clean up."""
    wechat_root = settings.wechat_api_base_url.split("/cgi-bin/")[0]
    asr_root = settings.asr_url.replace("ws://", "http://").rstrip("/") if settings.asr_url else None
    store = Path(settings.media_store_url.removeprefix("file://"))
    svc = build_services(settings, clock=bench_clock)
    insert_pending(svc.session_factory, media, asr_on=bool(asr_root))
    clear_calls(wechat_root)
    if asr_root:
        clear_calls(asr_root)
    try:
        if processes == 1:
            svc.wechat.access_token  # noqa: B018
            with FfmpegTimer() as timer:
                started = time.perf_counter()
                report = drain(svc.media_env)
                seconds = time.perf_counter() - started
            stored, transcribed = report.stored, report.transcribed
            ffmpeg_ms = {name: s * 1000 / max(stored, 1) for name, s in timer.seconds.items()}
        else:
            ctx = multiprocessing.get_context("spawn")
            ready, go, result = ctx.Queue(), ctx.Event(), ctx.Queue()
            workers = [ctx.Process(target=_worker, args=(settings, ready, go, result)) for _ in range(processes)]
            for w in workers:
                w.start()
            for _ in workers:
                ready.get(timeout=120)  # every worker imported and holds the token
            started = time.perf_counter()
            go.set()
            outcomes = [result.get(timeout=1800) for _ in workers]
            seconds = time.perf_counter() - started
            for w in workers:
                w.join()
            stored, transcribed = sum(o[0] for o in outcomes), sum(o[1] for o in outcomes)
            ffmpeg_ms = {}
        statuses = outcome(svc.session_factory, media)
        gets = sum(1 for c in calls(wechat_root) if c["path"] == "media/get" and c["outcome"] == "delivered")
        heard = sum(1 for c in calls(asr_root) if c["outcome"] == "answered") if asr_root else 0
    finally:
        cleanup(svc.session_factory, media)
        svc.engine.dispose()
        shutil.rmtree(store, ignore_errors=True)
    return MediaTiming(processes, bool(asr_root), len(media), seconds, stored, transcribed, statuses, gets, heard,
                       ffmpeg_ms)


def time_ffmpeg(voices: list[tuple[str, bytes]], samples: int) -> tuple[float, float]:
    """Mean ms per voice of ffmpeg alone: (to_playable, to_pcm16k), over `samples` items' AMR."""
    playable = pcm = 0.0
    for i in range(samples):
        amr = voices[i % len(voices)][1]
        started = time.perf_counter()
        audio.to_playable(amr)
        middle = time.perf_counter()
        audio.to_pcm16k(amr)
        playable, pcm = playable + middle - started, pcm + time.perf_counter() - middle
    return playable * 1000 / samples, pcm * 1000 / samples


@dataclass
class RunFigures:
    """One run's figures, all measured within a minute or two of each other."""

    outbox_per_s: float
    outbox_ok: bool
    media: dict[str, MediaTiming] = field(default_factory=dict)
    playable_ms: float = 0.0
    pcm_ms: float = 0.0

    @property
    def voice_ms(self) -> float:
        """Wall ms per voice message for one worker, ASR off."""
        return 1000 / self.media["asr off"].per_second

    @property
    def ratio(self) -> float:
        """Voice messages per second per worker over pushes per second."""
        return self.media["asr off"].per_second / self.outbox_per_s

    def ok(self) -> bool:
        """Every push sent once and every media check held."""
        return self.outbox_ok and all(t.ok() for t in self.media.values())


def run_once(settings: Settings, voices: list[tuple[str, bytes]], media: list[tuple[str, str]], *,
             asr_url: str | None, outbox_rows: int, processes: list[int], ffmpeg_samples: int) -> RunFigures:
    """One run: the outbox baseline, the media worker with ASR off and on (and more workers), ffmpeg alone."""
    wechat_root = settings.wechat_api_base_url.split("/cgi-bin/")[0]
    clear_calls(wechat_root)
    timing = outbox_bench.time_dispatch(settings.database_url, settings.wechat_api_base_url, outbox_rows,
                                        redis_url=settings.redis_url, prefix=settings.redis_prefix,
                                        app=(settings.wechat_app_id, settings.wechat_app_secret))
    sends = sum(n for k, n in outbox_bench.deliveries(calls(wechat_root)).items()
                if k.startswith("message/") and k.endswith("delivered"))
    figures = RunFigures(timing.per_second, timing.sent == outbox_rows == sends)
    store_root = Path(tempfile.mkdtemp(prefix="sz-bench-media-"))
    try:
        def with_store(name: str, **changes) -> Settings:
            return settings.with_overrides(media_store_url=(store_root / name).as_uri(), **changes)

        figures.media["asr off"] = time_media(with_store("off", asr_url=None), media)
        if asr_url:
            figures.media["asr on"] = time_media(with_store("asr", asr_url=asr_url), media)
        for count in processes:
            if count > 1:
                figures.media[f"{count} workers"] = time_media(with_store(f"x{count}", asr_url=None), media,
                                                               processes=count)
    finally:
        shutil.rmtree(store_root, ignore_errors=True)
    figures.playable_ms, figures.pcm_ms = time_ffmpeg(voices, ffmpeg_samples)
    return figures


class AsrStandIn:
    """The FunASR stand-in as a subprocess on a port it picks and prints."""

    def __init__(self):
        code = ("import sys\nfrom devtools.fake_asr import FakeAsrServer\nserver = FakeAsrServer()\n"
                "print(server.port, flush=True)\nserver.serve_forever()\n")
        self.process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError("the ASR stand-in did not start")
        self.port = int(line)

    @property
    def url(self) -> str:
        """What ASR_URL should be set to."""
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """End the subprocess."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def bench_settings(database_url: str, wechat_base_url: str, redis_url: str | None) -> Settings:
    """Settings as the media worker gets them, pointed at the bench's database and stand-ins."""
    return Settings(database_url=database_url, redis_url=redis_url, redis_prefix=f"bench-{uuid.uuid4().hex[:6]}",
                    wechat_app_id=outbox_bench.BENCH_APP_ID, wechat_app_secret=outbox_bench.BENCH_APP_SECRET,
                    wechat_api_base_url=wechat_base_url,
                    secret_key="bench-secret-key-0000000000000000000", pii_key="bench-pii-key-00000000000000000000",
                    asr_timeout=10.0)


def _median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def _ms(timing: MediaTiming) -> float:
    """Wall ms per voice message."""
    return 1000 / timing.per_second if timing.per_second else float("nan")


def report(runs: list[RunFigures], out=sys.stdout) -> dict:
    """Print the per-run figures and the medians as markdown tables; the same as a dict."""
    labels = list(runs[0].media)
    out.write("| run | outbox pushes/s | " + " | ".join(f"voice/s ({label})" for label in labels)
              + " | ms/voice | to_playable in job | to_playable alone | to_pcm16k alone | check |\n")
    out.write("|---:|---:|" + "---:|" * len(labels) + "---:|---:|---:|---:|---|\n")
    for i, run in enumerate(runs, 1):
        media = " | ".join(f"{run.media[label].per_second:.2f}" for label in labels)
        check = "ok" if run.ok() else "MISMATCH " + "; ".join(
            f"{label}: {asdict(t)}" for label, t in run.media.items() if not t.ok())
        out.write(f"| {i} | {run.outbox_per_s:.0f} | {media} | {run.voice_ms:.0f} | "
                  f"{run.media['asr off'].ffmpeg_ms['to_playable']:.0f} | {run.playable_ms:.0f} | {run.pcm_ms:.0f} "
                  f"| {check} |\n")
    with_asr = [r.media["asr on"] for r in runs if "asr on" in r.media]
    summary = {
        "voice_per_s_asr_off": _median(r.media["asr off"].per_second for r in runs),
        "voice_per_s_asr_on": _median(t.per_second for t in with_asr),
        "ms_per_voice_asr_off": _median(r.voice_ms for r in runs),
        "  of which to_playable (ffmpeg)": _median(r.media["asr off"].ffmpeg_ms["to_playable"] for r in runs),
        "  of which the rest (media/get, store, SQL)": _median(
            r.voice_ms - r.media["asr off"].ffmpeg_ms["to_playable"] for r in runs),
        "ms_per_voice_asr_on": _median(_ms(t) for t in with_asr),
        "  of which ffmpeg (to_playable + to_pcm16k)": _median(sum(t.ffmpeg_ms.values()) for t in with_asr),
        "to_playable alone ms": _median(r.playable_ms for r in runs),
        "to_pcm16k alone ms": _median(r.pcm_ms for r in runs),
        "outbox_per_s": _median(r.outbox_per_s for r in runs),
        "ratio_media_outbox": _median(r.ratio for r in runs),
        "checks_ok": all(r.ok() for r in runs),
    }
    for label in labels:
        if label.endswith("workers"):
            summary[f"voice_per_s_{label.replace(' ', '_')}"] = _median(r.media[label].per_second for r in runs)
    out.write("\n| figure (median of runs) | value |\n|---|---:|\n")
    for key, value in summary.items():
        out.write(f"| {key} | {value if isinstance(value, bool) else f'{value:.4g}'} |\n")
    return {"summary": summary, "runs": [{"outbox_per_s": r.outbox_per_s, "playable_ms": r.playable_ms,
                                          "pcm_ms": r.pcm_ms, "media": {k: {**asdict(t), "per_s": t.per_second}
                                                                        for k, t in r.media.items()}} for r in runs]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--admin-url", "--database-url", dest="admin_url", default=DEFAULT_ADMIN,
                        help="Server on which a throwaway database is created. Default: %(default)s")
    parser.add_argument("--items", type=int, default=200, help="Voice messages per run. Default: %(default)s")
    parser.add_argument("--phrases", type=int, default=len(PHRASES), help="Distinct recordings. Default: %(default)s")
    parser.add_argument("--runs", type=int, default=3, help="Runs; medians reported. Default: %(default)s")
    parser.add_argument("--processes", type=int, action="append",
                        help="Media worker processes (repeatable; default 1 and 2; 1 is always measured).")
    parser.add_argument("--outbox-rows", type=int, default=1000, help="Pushes per baseline run. Default: %(default)s")
    parser.add_argument("--ffmpeg-samples", type=int, default=50,
                        help="Conversions timed alone per run. Default: %(default)s")
    parser.add_argument("--no-asr", action="store_true", help="Skip the run with speech recognition on.")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                        help="Where the access token is kept (empty: in-process stand-in). Default: %(default)s")
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    parser.add_argument("--smoke", action="store_true", help="10 voice messages, 3 phrases, one run, 1 worker.")
    args = parser.parse_args(argv)
    if args.smoke:
        args.items, args.phrases, args.runs, args.processes = 10, 3, 1, [1]
        args.outbox_rows, args.ffmpeg_samples = 100, 5
    processes = args.processes or [1, 2]

    from bench.databases import admin_execute, drop_database
    from models.migrate import upgrade

    name = f"sz_bench_media_{os.getpid()}"
    admin_execute(args.admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(normalize_url(args.admin_url)).set(database=name).render_as_string(hide_password=False)
    standin = asr = None
    try:
        upgrade(url)
        standin = outbox_bench.StandIn()
        asr = None if args.no_asr else AsrStandIn()
        settings = bench_settings(url, standin.base_url, args.redis_url or None)
        voices = speak_phrases(args.phrases)
        media = put_voices(standin.base_url.split("/cgi-bin/")[0], voices, args.items)
        if asr:
            teach_asr(asr.http_url, voices)
        load = "/".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"machine: nproc={os.cpu_count()} load={load} date={datetime.now().isoformat(timespec='seconds')} "
              f"items={args.items} phrases={args.phrases} runs={args.runs} outbox_rows={args.outbox_rows} "
              f"processes={processes}", flush=True)
        runs = []
        for i in range(args.runs):
            runs.append(run_once(settings, voices, media, asr_url=asr.url if asr else None,
                                 outbox_rows=args.outbox_rows, processes=processes, ffmpeg_samples=args.ffmpeg_samples))
            print(f"run {i + 1}: outbox {runs[-1].outbox_per_s:.0f}/s, "
                  + ", ".join(f"{k} {t.per_second:.2f} voice/s" for k, t in runs[-1].media.items())
                  + f", to_playable {runs[-1].playable_ms:.0f} ms", flush=True)
        print()
        figures = report(runs)
        print(f"load after: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.json:
            args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))
        return 0 if figures["summary"]["checks_ok"] else 1
    finally:
        if asr:
            asr.stop()
        if standin:
            standin.stop()
        drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
