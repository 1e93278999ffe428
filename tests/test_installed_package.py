"""What users install: the package built as the Dockerfile builds it, in a clean virtualenv, started
with the image's own command in production mode against PostgreSQL and Redis.

The build context is copied the way the Dockerfile's COPY lines say, so a folder or file it forgets
is missing here too; the server runs outside the checkout, so nothing is imported from the source
tree. One install (some 20 s) per run, on PostgreSQL only.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess  # nosec B404  # the test builds and starts the product the way the image does
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.deploy import dockerfile_instructions

ROOT = Path(__file__).resolve().parent.parent
TEST_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# What an operator puts in the environment (or `.env`) for docker compose; compose fills in the rest.
OPERATOR_ENV = {
    "POSTGRES_PASSWORD": "not-used-here",
    "WECHAT_TOKEN": "installed-package-token",
    "WECHAT_APP_ID": "wx-installed-package",
    "WECHAT_APP_SECRET": "installed-package-app-secret",
    "WECHAT_ENCODING_AES_KEY": TEST_AES_KEY,
    # The discard port: the web process must start and answer without reaching WeChat.
    "WECHAT_API_BASE_URL": "http://127.0.0.1:9/cgi-bin/",
    "WECHAT_TEMPLATE_TASK": "installed-template-task",
    "WECHAT_TEMPLATE_PROGRESS": "installed-template-progress",
    "PUBLIC_BASE_URL": "https://sanzhida.example.org",
    "SECRET_KEY": "installed-package-secret-key-0123456789",
    "ADMIN_API_TOKEN": "installed-package-admin-token-0123456789",
    "PII_KEY": "installed-package-pii-key-0123456789abcdef",
}
START_TIMEOUT = 90
# Generous: the suite may share the machine's two cores with other work.
TIMEOUT = 30
# Only what the image has: no .env, no TEST_* variables, no virtualenv of the checkout.
PASSED_THROUGH = ("LANG", "LC_ALL", "TZ", "SSL_CERT_FILE")


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments) pairs."""
    return dockerfile_instructions()


def exec_form(args: str) -> list[str]:
    """An instruction's arguments in exec (JSON) or shell form, as a list."""
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def dockerignored() -> Callable[[str], bool]:
    """Whether .dockerignore leaves a path (relative to the checkout) out of the build context."""
    path = ROOT / ".dockerignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]

    def left_out(rel: str) -> bool:
        parts = rel.split("/")
        for pattern in patterns:
            if pattern.startswith("**/"):
                if any(fnmatch.fnmatch("/".join(parts[i:]), pattern[3:]) for i in range(len(parts))):
                    return True
            elif fnmatch.fnmatch(rel, pattern):
                return True
        return False

    return left_out


def build_context(scratch: Path) -> Path:
    """Copy the checkout into `scratch` as the Dockerfile's COPY lines do; the folder `pip install` gets."""
    instructions = dockerfile()
    installs = [exec_form(args) for kw, args in instructions if kw == "RUN" and "pip install" in args]
    assert installs, "the Dockerfile installs no package with pip"
    source = next(word for word in installs[-1] if word.startswith("/"))
    left_out = dockerignored()

    def ignore(folder, names):
        rel = Path(folder).relative_to(ROOT)
        return [name for name in names if left_out((rel / name).as_posix())]

    for keyword, args in instructions:
        words = exec_form(args)
        # COPY --from copies out of another stage, not from the checkout.
        if keyword != "COPY" or any(word.startswith("--from") for word in words):
            continue
        *sources, dest = [word for word in words if not word.startswith("--")]
        if not dest.startswith(source):
            continue
        target = scratch / dest[len(source):].strip("/")
        for name in sources:
            into = target / Path(name).name if dest.endswith("/") or len(sources) > 1 else target
            into.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, into, ignore=ignore)
            else:
                shutil.copy2(ROOT / name, into)
    return scratch


def compose_env(operator: dict[str, str]) -> dict[str, str]:
    """docker-compose.yml's shared settings, `${VAR:-default}` and `${VAR:?…}` filled from `operator`."""
    shared = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["x-sanzhida-env"]

    def fill(match: re.Match) -> str:
        name, kind, default = match.group(1), match.group(2), match.group(3)
        if operator.get(name):
            return operator[name]
        if kind == "-":
            return default
        pytest.fail(f"docker-compose.yml requires {name}; give it a value in OPERATOR_ENV")

    pattern = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")
    return {name: pattern.sub(fill, str(value)) for name, value in shared.items()}


def rooted(value: str, root: Path) -> str:
    """A path (or file:// URL) of the image's filesystem, moved under `root`."""
    if value.startswith("file:///"):
        return f"file://{root}{value[len('file://'):]}"
    return f"{root}{value}" if value.startswith("/") else value


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def package_files(top: Path, packages: list[str]) -> set[str]:
    """Every file under the named packages, relative to `top`, without bytecode."""
    found = set()
    for package in packages:
        for path in (top / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(path.relative_to(top).as_posix())
    return found


@pytest.fixture(scope="module")
def workspace():
    """A temporary folder for the build, the virtualenv and the image's filesystem, removed afterwards."""
    if not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")):
        pytest.skip("the installed package is tried on PostgreSQL and Redis: set TEST_DATABASE_URL and TEST_REDIS_URL")
    root = Path(tempfile.mkdtemp(prefix="sanzhida-installed-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(workspace):
    """(the virtualenv's bin folder, its site-packages, the build context) after `pip install` of the context."""
    context = build_context(workspace / "src")
    venv = workspace / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # nosec B603
    # Dependencies come from pip's cache or the index; --no-cache-dir is left out to keep reruns quick.
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",  # nosec B603
                             str(context)], capture_output=True, text=True, cwd=workspace)
    assert result.returncode == 0, f"pip install failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    site = next((venv / "lib").glob("python3*/site-packages"))
    return venv / "bin", site, context


@pytest.fixture(scope="module")
def server(installed, workspace, databases):
    """The image's CMD running from the image's working directory; yields its base URL, stops it after."""
    bin_dir, _, _ = installed
    instructions = dockerfile()
    image_env = {}
    for keyword, args in instructions:
        if keyword == "ENV":
            words = shlex.split(args)
            # `ENV NAME value` (the old form) or `ENV A=1 B=2`.
            if "=" in words[0]:
                image_env.update(word.split("=", 1) for word in words)
            else:
                image_env[words[0]] = " ".join(words[1:])
    image_env.update(compose_env(OPERATOR_ENV))
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update({name: rooted(value, workspace) for name, value in image_env.items()})
    port = free_port()
    prefix = f"t-installed-{uuid.uuid4().hex[:8]}"
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{os.defpath}", HOME=str(workspace / "home"),
        DATABASE_URL=databases.new(), REDIS_URL=os.environ["TEST_REDIS_URL"], REDIS_KEY_PREFIX=prefix,
        GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1",
    )
    workdir = Path(rooted(next(args for kw, args in reversed(instructions) if kw == "WORKDIR"), workspace))
    workdir.mkdir(parents=True)
    log = workspace / "server.log"
    command = exec_form(next(args for kw, args in reversed(instructions) if kw == "CMD"))
    with log.open("wb") as out:
        # Its own process group: `exec gunicorn` replaces the shell, and the workers go with it.
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=out,  # nosec B603
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, base, log)
        yield base
    finally:
        stop(proc)
        import redis

        client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def wait_until_up(proc: subprocess.Popen, base: str, log: Path) -> None:
    """Wait for /healthz to answer, or fail with the server's output."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or too busy starting to answer in time
            pass
        time.sleep(0.3)
    output = log.read_text(encoding="utf-8", errors="replace")[-4000:]
    pytest.fail(f"the image's command did not start serving (exit {proc.poll()}):\n{output}")


def stop(proc: subprocess.Popen) -> None:
    """Stop gunicorn and its workers as `docker stop` would: SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_package_holds_every_file_of_the_build_context(installed):
    """Templates, static files, vendored scripts and migrations all reach site-packages."""
    _, site, context = installed
    packages = sorted(path.name for path in context.iterdir() if (path / "__init__.py").exists())
    missing = package_files(context, packages) - package_files(site, packages)
    assert not missing, f"not installed (package-data in pyproject.toml): {sorted(missing)}"


def test_office_sign_in_page_renders(server):
    """The dashboard's sign-in form comes from the installed templates."""
    response = requests.get(f"{server}/office/login", timeout=TIMEOUT)
    assert response.status_code == 200, response.text[:500]
    assert '<form method="post">' in response.text and 'name="staff_no"' in response.text


@pytest.mark.parametrize("name", sorted(
    path.relative_to(ROOT / "bot" / "static").as_posix() for path in (ROOT / "bot" / "static").rglob("*")
    if path.is_file()
))
def test_static_files_are_served(installed, server, name):
    """Every file of bot/static, the vendored ECharts included, is served as it was built."""
    response = requests.get(f"{server}/office/static/{name}", timeout=TIMEOUT)
    assert response.status_code == 200
    expected = (installed[2] / "bot" / "static" / name).read_bytes()
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(expected).digest()


def test_ready_after_the_migrations(server):
    """`sanzhida db upgrade` ran from the installed migrations: database at head, Redis answering."""
    response = requests.get(f"{server}/readyz", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}


def test_wechat_server_verification(server):
    """WeChat's GET with a signature made from the token gets its echostr back."""
    timestamp, nonce, echostr = str(int(time.time())), "installed", "echo-7301"
    signature = hashlib.sha1("".join(sorted([OPERATOR_ENV["WECHAT_TOKEN"], timestamp, nonce])).encode(),
                             usedforsecurity=False).hexdigest()
    params = {"signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
    response = requests.get(f"{server}/wechat", params=params, timeout=TIMEOUT)
    assert (response.status_code, response.text) == (200, echostr)


def test_no_simulator_in_production(server):
    """The development simulator is not mounted."""
    assert requests.get(f"{server}/dev/simulator/", timeout=TIMEOUT).status_code == 404


def test_mobile_pages_render(server):
    """A broken list link gets the kind page from the mobile templates; a case page asks WeChat who is there."""
    refused = requests.get(f"{server}/m/list/not-a-token", timeout=TIMEOUT)
    assert refused.status_code == 404
    assert "链接打不开" in refused.text
    case = requests.get(f"{server}/m/cases/1", timeout=TIMEOUT, allow_redirects=False)
    assert case.status_code == 302
    assert case.headers["Location"].startswith(compose_env(OPERATOR_ENV)["WECHAT_OAUTH_URL"])
