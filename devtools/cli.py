"""Development commands, added to `sanzhida` through the `sanzhida.commands` entry points:
`serve` (the development server), `dev run` (the whole stack), `fake-wechat`, `fake-asr`, `fake-sms`
and `seed demo`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cli.common import app_services, load
from cli.database import db_upgrade


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--debug/--no-debug", default=False, help="Flask debugger and reloader (never in production).")
def serve(host: str, port: int, debug: bool) -> None:
    """Run the development server, with the simulator outside production (production runs gunicorn)."""
    from bot.app import create_app
    from devtools.app import create_dev_app

    settings = load()
    if settings.is_production and debug:
        raise click.ClickException("--debug is refused when SANZHIDA_ENV=production")
    app = create_app(settings) if settings.is_production else create_dev_app(settings)
    base = f"http://{host}:{port}"
    click.echo(
        f"三直达 is running ({settings.env}).\n"
        f"  Health:   {base}/healthz\n"
        f"  Ready:    {base}/readyz\n"
        f"  WeChat:   {base}/wechat   (set this URL and WECHAT_TOKEN in the WeChat console)\n"
        "Press Ctrl-C to stop."
    )
    app.run(host=host, port=port, debug=debug, use_reloader=debug)


@click.group("dev")
def dev_group() -> None:
    """Development tools."""


@dev_group.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web service listens on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Web service port.")
@click.option("--standin-port", default=8900, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the local WeChat API stand-in (make run: STANDIN_PORT).")
@click.option("--asr-port", default=10095, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the local speech-recognition (FunASR) stand-in (make run: ASR_PORT).")
@click.option("--sms-port", default=8902, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the local Aliyun SMS stand-in (make run: SMS_PORT).")
@click.option("--seed", "seed_value", default=1, show_default=True, type=int, help="Demo seed when the database is empty.")
@click.pass_context
def dev_run(ctx: click.Context, host: str, port: int, standin_port: int, asr_port: int, sms_port: int,
            seed_value: int) -> None:
    """Migrate, seed the small demo if the database is empty, then run together: the web service with
    the simulator, the inbox worker, the media worker, the scheduler, and the stand-ins for the WeChat
    API, the FunASR speech recogniser and Aliyun SMS (text messages show in the simulator).

    A fresh demo's simulated clock starts in working hours (the next 09:00 outside 08:00-17:00).
    Ctrl-C, SIGTERM or SIGHUP stops them all, and so does the end of the command that started this
    (make run stopped alone).
    """
    from devtools import devstack
    from runtime.clock import ShiftedClock

    if load().is_production:
        raise click.ClickException("dev run is for development; SANZHIDA_ENV is production")
    # The demo, the web service and the scheduler share one simulated clock.
    os.environ["SANZHIDA_DEV_CLOCK_FILE"] = str(devstack.clock_file(Path.cwd() / "instance"))
    settings = load()
    ctx.invoke(db_upgrade, revision="head")
    if _database_is_empty():
        devstack.start_walk_clock(ShiftedClock(settings.dev_clock_file), settings.tz)
    ctx.invoke(seed_demo, scale="small", seed_value=seed_value, if_empty=True)
    sys.exit(devstack.run_stack(host, port, standin_port, click.echo, asr_port=asr_port, sms_port=sms_port,
                                tz=settings.tz))


def _database_is_empty() -> bool:
    """True when no region is loaded yet: the demo is about to be seeded."""
    from sqlalchemy import func, select

    from models import Region

    with app_services(read_only=True) as svc, svc.session_factory() as session:
        return not session.scalar(select(func.count()).select_from(Region))


@click.command("fake-wechat")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8900, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0, 10_000),
              help="Delay added to every API call, as across the internet.")
@click.option("--error-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of API calls that fail as WeChat's do: errcode -1, HTTP 5xx, timeouts, late answers.")
@click.option("--seed", "chaos_seed", default=None, type=int, help="Seed for which calls fail (default: random).")
@click.option("--with-accounts", is_flag=True,
              help="Also play every official account added with `sanzhida wechat accounts add` (read from the database).")
def fake_wechat(host: str, port: int, latency_ms: float, error_rate: float, chaos_seed: int | None,
                with_accounts: bool) -> None:
    """Run the local stand-in for the WeChat API (point WECHAT_API_BASE_URL at it).

    It gives tokens only to the app of the settings' WECHAT_APP_ID / WECHAT_APP_SECRET (by default
    the development ones), and with --with-accounts to the deployment's other accounts, as WeChat does;
    secrets come from the settings and the database, never from argv. More accounts can be added
    while it runs: POST /_accounts {"app_id", "app_secret"}.
    """
    from devtools.fake_wechat import FakeWeChatServer
    from devtools.fake_wechat_chaos import Chaos

    settings = load()
    server = FakeWeChatServer(host, port, app_id=settings.wechat_app_id, app_secret=settings.wechat_app_secret,
                              chaos=Chaos(latency_ms / 1000, error_rate, chaos_seed),
                              accounts=_deployment_accounts() if with_accounts else None)
    click.echo(
        f"WeChat API stand-in on http://{host}:{server.port}\n"
        f"  WECHAT_API_BASE_URL={server.base_url}\n"
        f"  WECHAT_OAUTH_URL={server.oauth_url}\n"
        f"  Sign a browser in to WeChat: http://{host}:{server.port}/_oauth/login?openid=OPENID&next=URL\n"
        f"  Recorded calls: http://{host}:{server.port}/_calls\n"
        "Press Ctrl-C to stop."
    )
    server.serve_forever()


def _deployment_accounts() -> dict[str, str]:
    """AppID -> AppSecret of every account added to the deployment's database."""
    from services.wechat_accounts import load_accounts

    with app_services(read_only=True) as svc, svc.session_factory() as session:
        return {row.app_id: row.app_secret for row in load_accounts(session, svc.pii)}


@click.command("fake-asr")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=10095, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (FunASR's own default).")
def fake_asr(host: str, port: int) -> None:
    """Run the local stand-in for a FunASR speech-recognition server (point ASR_URL at it).

    It speaks FunASR's offline WebSocket protocol and answers the transcripts registered at
    POST /_transcripts ({"sha256": "<hex of the PCM>", "text": "..."}); other audio answers "".
    """
    from devtools.fake_asr import FakeAsrServer

    server = FakeAsrServer(host, port)
    click.echo(
        f"FunASR stand-in on {server.http_url}\n"
        f"  ASR_URL={server.url}\n"
        f"  Transcripts: {server.http_url}/_transcripts   Recorded calls: {server.http_url}/_calls\n"
        "Press Ctrl-C to stop."
    )
    server.serve_forever()


@click.command("fake-sms")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8901, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--sign", "signs", multiple=True,
              help="A registered sign name (签名); repeatable. Default: the settings' SMS_SIGN_NAME, else 三直达.")
@click.option("--template", "templates", multiple=True, metavar="SMS_CODE[:var,var]",
              help="A registered template and the variables it needs; repeatable. Default: the settings' "
                   "SMS_TEMPLATES codes, taking any variables.")
@click.option("--reply-url", default=None, metavar="URL",
              help="Where POST /_reply pushes a person's reply, as Aliyun's SmsUp push does: the service's "
                   "http://HOST:PORT/sms/replies/<SMS_REPLY_TOKEN>.")
def fake_sms(host: str, port: int, signs: tuple[str, ...], templates: tuple[str, ...], reply_url: str | None) -> None:
    """Run the local stand-in for Aliyun SMS (SendSms); point SMS_ENDPOINT at it.

    It is as strict as Aliyun: it verifies the signature with the settings' SMS_ACCESS_KEY_ID and
    SMS_ACCESS_KEY_SECRET (by default the development ones; the secret never comes from argv), the
    timestamp, nonces, numbers, sign names, templates and their variables, and the per-number flow
    control (1 a minute, 5 an hour, 10 a day). GET /_calls lists what it was sent. POST /_reply
    {"phone", "content"} pushes a person's reply (回复TD退订) to --reply-url and checks our answer.
    """
    from config.sms import SMS_DEV_ACCESS_KEY_ID, SMS_DEV_ACCESS_KEY_SECRET
    from devtools.fake_sms import FakeSmsServer, parse_template_option

    settings = load()
    try:
        registered = dict(parse_template_option(t) for t in templates)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--template") from None
    if not registered:
        registered = {code: None for _, code in settings.sms_templates}
    if reply_url is not None and not reply_url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="--reply-url")
    server = FakeSmsServer(
        host, port,
        access_key_id=settings.sms_access_key_id or SMS_DEV_ACCESS_KEY_ID,
        access_key_secret=settings.sms_access_key_secret or SMS_DEV_ACCESS_KEY_SECRET,
        sign_names=signs or (settings.sms_sign_name or "三直达",),
        templates=registered,
        reply_url=reply_url,
    )
    click.echo(
        f"Aliyun SMS stand-in on {server.url}\n"
        f"  SMS_PROVIDER=aliyun  SMS_ENDPOINT={server.url}\n"
        f"  Sign names: {', '.join(sorted(server.state.sign_names))}\n"
        f"  Templates: {', '.join(sorted(registered)) or '(none: every send is isv.SMS_TEMPLATE_ILLEGAL)'}\n"
        f"  Recorded messages: {server.url}_calls   Replies: POST {server.url}_reply"
        f"{' (pushed to --reply-url)' if reply_url else ''}\n"
        "Press Ctrl-C to stop."
    )
    server.serve_forever()


@click.group()
def seed() -> None:
    """Load demonstration data."""


@seed.command("demo")
@click.option("--scale", type=click.Choice(["small", "city", "province"]), default="small", show_default=True,
              help="small: one town, 60 beneficiaries; city: the reference city, 110,000 beneficiaries; "
                   "province: 30 such cities under a province and its administrator P0001 (PostgreSQL only). "
                   "All with seven months of visits and cases, escalations and ratings.")
@click.option("--seed", "seed_value", default=1, show_default=True, type=int, help="Random seed; same seed, same data.")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when the database already has data.")
@click.option("--cities", default=30, hidden=True, type=click.IntRange(1, 99), help="Cities in the province.")
def seed_demo(scale: str, seed_value: int, if_empty: bool, cities: int = 30) -> None:
    """Create a generated demo with seven months of history: a small town, a city of the reference
    city's size, or a province of 30 such cities.

    The history ends at the clock's now: visits on each person's plan (a few find problems), cases
    accepted, resolved, escalated and rated at realistic times, and the daily figures behind the
    figures page, the trends and the monthly report. The city takes a minute or two on PostgreSQL;
    the province (the city, then 29 copies made inside PostgreSQL) under ten minutes and some 20 GB.
    """
    import time

    from devtools import demo, demo_city, demo_province

    # The demo gives every account, the administrator's included, the password the README publishes.
    if load().is_production:
        raise click.ClickException("seed demo is for development; SANZHIDA_ENV is production, nothing was written")
    started = time.monotonic()

    def progress(phase: str, rows: int) -> None:
        # The city takes a while: say what is being written, on stderr so stdout stays the summary.
        click.echo(f"[{time.monotonic() - started:6.1f}s] {phase}: {rows}", err=True)

    with app_services() as svc, svc.session_factory() as session:
        if scale == "province" and session.get_bind().dialect.name != "postgresql":
            raise click.ClickException(
                "--scale province needs PostgreSQL: 3.3 million beneficiaries and some 20 GB are too much for "
                "the embedded SQLite database. Set DATABASE_URL to an empty PostgreSQL database."
            )
        try:
            if scale == "province":
                summary = demo_province.seed_province(
                    session, svc.pii, svc.clock(), tz=svc.settings.tz, seed=seed_value, cities=cities,
                    progress=progress,
                )
            elif scale == "city":
                summary = demo_city.seed_city(
                    session, svc.pii, svc.clock(), tz=svc.settings.tz, seed=seed_value, progress=progress
                )
            else:
                summary = demo.seed_small(session, svc.pii, svc.clock(), seed=seed_value,
                                          env=svc.request_env, password=demo.DEMO_PASSWORD)
        except demo.AlreadySeeded:
            if if_empty:
                click.echo("The database already has data; demo not loaded.")
                return
            raise click.ClickException("The database already has regions; use an empty database for the demo.")
        session.commit()
        if scale != "small":
            click.echo(f"[{time.monotonic() - started:6.1f}s] committed", err=True)
    cities_loaded = f"{summary.cities} cities, " if scale == "province" else ""
    click.echo(
        f"Demo loaded ({scale}): {cities_loaded}{summary.regions} regions, {summary.staff} staff, "
        f"{summary.beneficiaries} beneficiaries, {summary.visits} visits, {summary.requests} requests."
    )
    if scale == "small":
        click.echo(f"Dashboard sign-in: staff numbers S0001 (admin), S0002 (city supervisor), T0003 (town officer), "
                   f"A0005 (assistant); password {demo.DEMO_PASSWORD}")
