"""Signing in to the office dashboard under attack: parallel guesses cannot outrun the lock-out, one
address (or everyone together) is throttled, and a copied cookie dies on sign-out and on a new password."""

from __future__ import annotations

import logging
import os
import re
import threading

import pytest
from click.testing import CliRunner

from cli import main
from config import policy
from models import Staff
from services import accounts
from tests.conftest import using_postgres
from tests.support.factories import make_town

PASSWORD = "correct-horse-1"
THROTTLED = "登录尝试太频繁"


@pytest.fixture
def town(session, clock):
    """A town whose officer and supervisor can sign in."""
    world = make_town(session, clock())
    for staff in (world.officer, world.supervisor):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, clock())
    session.commit()
    return world


def browser(app, address: str = "127.0.0.1", **headers):
    """A test client coming from `address` (and sending `headers`), with the sign-in form's CSRF token."""
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=address, **{f"HTTP_{k.upper()}": v for k, v in headers.items()})
    form = client.get("/office/login").get_data(as_text=True)
    client.token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return client


def attempt(client, staff_no: str, password: str = PASSWORD):
    """Post the sign-in form once."""
    return client.post("/office/login", data={"staff_no": staff_no, "password": password, "csrf_token": client.token})


# --- the lock-out cannot be outrun ----------------------------------------------------------------


@pytest.mark.skipif(not using_postgres(), reason="parallel part: SQLite's BEGIN IMMEDIATE already runs sign-ins "
                    "one at a time (the sequential lock-out is test_pages.py::test_wrong_passwords_lock_the_account)")
def test_parallel_wrong_passwords_are_checked_at_most_the_allowed_number_of_times(app, town, session):
    """Forty wrong passwords at once, from forty addresses, against one staff number: exactly four are
    told "wrong" (the fifth locks the account), every other one is refused unchecked, and the right
    password is then refused too."""
    clients = [browser(app, f"10.0.1.{i}") for i in range(40)]
    start = threading.Barrier(len(clients))
    answers: list[str] = []

    def guess(client, n):
        start.wait()
        answers.append(attempt(client, town.officer.staff_no, f"wrong-password-{n}").get_data(as_text=True))

    threads = [threading.Thread(target=guess, args=(client, n)) for n, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 40
    assert sum(accounts.WRONG in answer for answer in answers) == policy.LOGIN_MAX_FAILURES - 1
    assert sum("锁定" in answer for answer in answers) == 40 - (policy.LOGIN_MAX_FAILURES - 1)
    locked = attempt(browser(app, "10.0.2.1"), town.officer.staff_no)
    assert locked.status_code == 401 and "锁定" in locked.get_data(as_text=True)
    session.expire_all()
    officer = session.get(Staff, town.officer.id)
    assert officer.locked_until is not None and officer.failed_logins == 0


def test_a_right_password_after_a_few_wrong_ones_signs_in_and_starts_the_count_again(app, town, session):
    """Four wrong passwords, then the right one: signed in, and the next wrong ones count from zero."""
    client = browser(app, "10.0.3.1")
    for _ in range(policy.LOGIN_MAX_FAILURES - 1):
        assert accounts.WRONG in attempt(client, town.officer.staff_no, "wrong-password").get_data(as_text=True)
    assert attempt(client, town.officer.staff_no).status_code == 302
    session.expire_all()
    assert session.get(Staff, town.officer.id).failed_logins == 0
    again = browser(app, "10.0.3.2")
    assert accounts.WRONG in attempt(again, town.officer.staff_no, "wrong-password").get_data(as_text=True)


# --- the throttle per address and overall ---------------------------------------------------------


def test_one_address_guessing_across_staff_numbers_is_throttled(app, town, caplog):
    """Ten attempts a minute from one address, each on another staff number: the eleventh, even with the
    right password, gets a 429 page in Chinese; another address is not held up; the log names the
    address, never a staff number."""
    guesser = browser(app, "203.0.113.7")
    numbers = [f"X{n:04d}" for n in range(10)]
    with caplog.at_level(logging.INFO):
        for number in numbers:
            assert attempt(guesser, number, "wrong-password").status_code == 401
        refused = attempt(guesser, town.officer.staff_no)
    assert refused.status_code == 429
    assert THROTTLED in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert attempt(browser(app, "203.0.113.8"), town.supervisor.staff_no).status_code == 302
    throttled = [r.getMessage() for r in caplog.records if "office=sign_in_throttled" in r.getMessage()]
    assert throttled and "remote=203.0.113.7" in throttled[0]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert town.officer.staff_no not in logged and not any(number in logged for number in numbers)


def test_everyone_together_is_throttled_too(app, town):
    """Past the overall limit, a new address is refused as well (the limit is lowered for the test
    through the app's configuration, as an operator would)."""
    app.config["SIGN_IN_LIMIT_OVERALL"] = "3/minute"
    for n in range(3):
        assert attempt(browser(app, f"198.51.100.{n}"), f"X{n:04d}", "wrong-password").status_code == 401
    refused = attempt(browser(app, "198.51.100.99"), town.officer.staff_no)
    assert refused.status_code == 429 and THROTTLED in refused.get_data(as_text=True)


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="workers share the count only through Redis; "
                    "the embedded default counts in the one process")
def test_the_count_is_shared_by_every_worker(make_app, town):
    """Two app processes (gunicorn workers) count one address together in Redis."""
    first, second = make_app(), make_app()
    for n in range(5):
        assert attempt(browser(first, "203.0.113.20"), f"X{n:04d}", "wrong-password").status_code == 401
        assert attempt(browser(second, "203.0.113.20"), f"Y{n:04d}", "wrong-password").status_code == 401
    assert attempt(browser(first, "203.0.113.20"), town.officer.staff_no).status_code == 429


def test_behind_the_proxy_each_client_counts_by_its_own_address(make_app, town):
    """With TRUSTED_PROXIES=1 every request comes from the proxy, and X-Forwarded-For tells the
    clients apart: one client throttled leaves the next one free."""
    app = make_app(trusted_proxies=1)
    for n in range(10):
        client = browser(app, "10.0.0.2", x_forwarded_for="203.0.113.30")
        assert attempt(client, f"X{n:04d}", "wrong-password").status_code == 401
    assert attempt(browser(app, "10.0.0.2", x_forwarded_for="203.0.113.30"), "X0099").status_code == 429
    other = browser(app, "10.0.0.2", x_forwarded_for="203.0.113.31")
    assert attempt(other, town.officer.staff_no).status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(app, town):
    """With no proxy declared, X-Forwarded-For is the client's own word and is ignored."""
    for n in range(10):
        client = browser(app, "203.0.113.40", x_forwarded_for=f"192.0.2.{n}")
        assert attempt(client, f"X{n:04d}", "wrong-password").status_code == 401
    forged = browser(app, "203.0.113.40", x_forwarded_for="192.0.2.200")
    assert attempt(forged, town.officer.staff_no).status_code == 429


# --- sessions end on the server ---------------------------------------------------------------------


def signed_in_with_a_copy(app, staff_no: str):
    """A browser signed in as `staff_no`, and a second one holding a copy of its session cookie."""
    original = browser(app)
    assert attempt(original, staff_no).status_code == 302
    cookie = original.get_cookie("sanzhida_session")
    thief = app.test_client()
    thief.set_cookie("sanzhida_session", cookie.value)
    assert thief.get("/office/cases").status_code == 200
    return original, thief


def test_a_copied_cookie_is_refused_after_sign_out(app, town):
    """Signing out ends the sign-in on the server: the copy is sent back to the sign-in form."""
    original, thief = signed_in_with_a_copy(app, town.officer.staff_no)
    token = re.search(r'name="csrf_token" value="([^"]+)"', original.get("/office/cases").get_data(as_text=True))
    assert original.post("/office/logout", data={"csrf_token": token.group(1)}).status_code == 302
    refused = thief.get("/office/cases")
    assert refused.status_code == 302 and "/office/login" in refused.headers["Location"]
    assert attempt(browser(app), town.officer.staff_no).status_code == 302


def test_a_copied_cookie_is_refused_after_a_new_password(app, town, database_url):
    """`sanzhida staff set-password` ends every sign-in made with the old password."""
    original, thief = signed_in_with_a_copy(app, town.officer.staff_no)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "SANZHIDA_"))}
    env["DATABASE_URL"] = database_url
    done = CliRunner().invoke(main, ["staff", "set-password", town.officer.staff_no, "--password", "new-password-2"],
                              env=env)
    assert done.exit_code == 0, done.output
    for client in (thief, original):
        refused = client.get("/office/cases")
        assert refused.status_code == 302 and "/office/login" in refused.headers["Location"]
    assert attempt(browser(app), town.officer.staff_no, "new-password-2").status_code == 302


def test_with_redis_down_sign_in_works_and_is_still_throttled(make_app, town):
    """An outage of Redis neither stops signing in nor lifts the throttle: each process counts alone."""
    app = make_app(redis_url="redis://127.0.0.1:9/0")
    assert attempt(browser(app, "203.0.113.50"), town.officer.staff_no).status_code == 302
    for n in range(9):
        assert attempt(browser(app, "203.0.113.50"), f"X{n:04d}", "wrong-password").status_code == 401
    assert attempt(browser(app, "203.0.113.50"), town.supervisor.staff_no).status_code == 429
