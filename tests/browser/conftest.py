"""A live app on a real port (the small demo loaded, a shifted clock at 09:00 Shanghai) and a
headless Chromium page driving it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from devtools import demo, devstack
from devtools.app import create_dev_app
from runtime.clock import ShiftedClock
from runtime.container import request_env
from services.pii import PiiCipher
from tests.support.artifacts import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def live_base(request, settings, db, redis_client, session, tmp_path) -> str:
    """The app's root URL; the demo is seeded as of 60 days ago, with dashboard passwords.

    Tests may ask for a reply mode (`inline` unless parametrized indirectly with `queued`).
    """
    reply_mode = getattr(request, "param", "inline")
    settings = settings.with_overrides(dev_clock_file=str(tmp_path / "clock-offset"), wechat_reply_mode=reply_mode)
    clock = ShiftedClock(settings.dev_clock_file)
    local_now = clock().astimezone(settings.tz)
    nine = datetime.combine(local_now.date() + timedelta(days=1), datetime.min.time().replace(hour=9), settings.tz)
    clock.advance(nine - local_now)
    # Seeded as `dev run` seeds it, before the stack's SMS settings: its history queues no SMS.
    demo.seed_small(session, PiiCipher(settings.pii_key), clock() - timedelta(days=60), seed=3,
                    env=request_env(settings.with_overrides(sms_provider="")), password=demo.DEMO_PASSWORD)
    session.commit()
    yield from _serve(create_dev_app(settings, engine=db, redis=redis_client))


@pytest.fixture
def fresh_demo_base(settings, db, redis_client, session, tmp_path) -> str:
    """The app as a fresh `make run` has it: queued replies, the clock started as `dev run` starts a
    fresh demo's, and the demo seeded then as `sanzhida seed demo` seeds it (seed 1)."""
    settings = settings.with_overrides(dev_clock_file=str(tmp_path / "clock-offset"), wechat_reply_mode="queued")
    clock = ShiftedClock(settings.dev_clock_file)
    devstack.start_walk_clock(clock, settings.tz)
    demo.seed_small(session, PiiCipher(settings.pii_key), clock(), seed=1, env=request_env(settings),
                    password=demo.DEMO_PASSWORD)
    session.commit()
    yield from _serve(create_dev_app(settings, engine=db, redis=redis_client))


def _serve(app):
    """Serve `app` on a free local port in a thread; yield its root URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def browser():
    """Headless Debian Chromium."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def signed_in_page(browser, base: str, staff_no: str, width: int = 1280, **options):
    """A new page at `width` signed in to the dashboard as `staff_no` (the demo's password), and the
    list that collects what the console reported: script errors and refused scripts, not a missing favicon."""
    page = browser.new_page(viewport={"width": width, "height": 900}, locale="zh-CN", **options)
    reported: list[str] = []
    page.on("console", lambda message: reported.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text else None)
    page.on("pageerror", lambda error: reported.append(str(error)))
    page.goto(f"{base}/office/")
    page.fill("input[name=staff_no]", staff_no)
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    page.click("button[type=submit]")
    return page, reported
