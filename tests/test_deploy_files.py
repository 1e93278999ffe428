"""Static checks of the Dockerfile and docker-compose.yml; no Docker engine is needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from config.settings import PRODUCTION_REQUIRED, settings_variables
from tests.support.deploy import dockerfile_instructions

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "scheduler", "inbox", "media", "dispatcher")
# Processes that read or write the kept media: web serves them, the scheduler's outbox and the
# dispatcher send them on, the scheduler's retention job deletes them, the media worker stores them.
MEDIA_SERVICES = ("web", "scheduler", "media", "dispatcher")
# Compose points these at its own postgres and redis services instead of asking for them.
COMPOSE_PROVIDED = {"DATABASE_URL", "REDIS_URL"}
# Read by a library rather than the settings, by one service only: prometheus_client's multiprocess
# mode under gunicorn.
SERVICE_ONLY_VARIABLES = {"web": {"PROMETHEUS_MULTIPROC_DIR"}}
# The processes that serve their metrics on METRICS_PORT (web serves /metrics on its own port).
METRICS_SERVICES = ("scheduler", "inbox", "media", "dispatcher")
# The processes compose runs as several copies: work is shared through row locks (inbox, media,
# dispatcher), the load balancer (web) or one leader's lock (scheduler: the others stand by).
REPLICATED_SERVICES = ("web", "scheduler", "inbox", "media", "dispatcher")


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml as data; safe_load resolves the `<<:` merges."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments) pairs, `\\` continuations joined."""
    return dockerfile_instructions()


def as_text(command) -> str:
    """A command in exec (list or JSON) or shell form, as one string."""
    if isinstance(command, str) and command.startswith("["):
        command = json.loads(command)
    return " ".join(command) if isinstance(command, list) else command


def environment(service: dict) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two Compose forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {name: str(value) for name, value in env.items()}


def last(dockerfile, keyword: str) -> str:
    """Arguments of the last `keyword` instruction (the one that takes effect)."""
    found = [args for kw, args in dockerfile if kw == keyword]
    assert found, f"Dockerfile has no {keyword}"
    return found[-1]


def assert_migrates_then_serves(command: str) -> None:
    """The start command applies migrations before it starts gunicorn on the app factory."""
    assert "sanzhida db upgrade" in command
    assert "gunicorn" in command and "bot.app:create_app()" in command
    assert command.index("sanzhida db upgrade") < command.index("gunicorn")


def test_compose_defines_the_services(compose):
    """web, scheduler, the inbox and media workers, the outbox dispatcher, postgres and redis all exist."""
    assert {"web", "scheduler", "inbox", "media", "dispatcher", "postgres", "redis"} <= set(compose["services"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_get_exactly_the_settings_variables(compose, name):
    """Every settings variable is passed, and nothing the settings do not read."""
    extra = SERVICE_ONLY_VARIABLES.get(name, set())
    assert set(environment(compose["services"][name])) == set(settings_variables(include_dev_only=False)) | extra


@pytest.mark.parametrize("name", APP_SERVICES)
def test_required_secrets_must_come_from_the_operator(compose, name):
    """Production-required secrets use `${NAME:?...}`, so compose refuses to start without them."""
    env = environment(compose["services"][name])
    for variable in set(PRODUCTION_REQUIRED) - COMPOSE_PROVIDED:
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), variable


@pytest.mark.parametrize("name", REPLICATED_SERVICES)
def test_each_process_runs_as_several_replicas(compose, name):
    """At least two copies of each app process (`deploy.replicas`), and no fixed container name,
    which would allow only one."""
    service = compose["services"][name]
    assert int(service["deploy"]["replicas"]) >= 2
    assert "container_name" not in service


def test_each_web_replica_publishes_a_port_of_its_own(compose):
    """web publishes a range of host ports with one for every replica, so the copies never clash."""
    web = compose["services"]["web"]
    (mapping,) = web["ports"]
    host, _, container = str(mapping).rpartition(":")
    assert container == "8000"
    first, _, last = host.rpartition(":")[2].partition("-")
    assert int(last or first) - int(first) + 1 >= int(web["deploy"]["replicas"])


def test_the_read_replica_is_optional(compose):
    """DATABASE_REPLICA_URL is empty unless the operator sets it: the dashboard then reads the primary."""
    assert environment(compose["services"]["web"])["DATABASE_REPLICA_URL"] == "${DATABASE_REPLICA_URL:-}"


def test_database_and_redis_point_at_compose_services(compose):
    """The app talks to the postgres and redis services of this file."""
    env = environment(compose["services"]["web"])
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")


def test_web_waits_for_healthy_database_and_redis(compose):
    """web starts only after postgres and redis pass their health checks."""
    services = compose["services"]
    for backing in ("postgres", "redis"):
        assert services[backing]["healthcheck"]["test"]
        assert services["web"]["depends_on"][backing]["condition"] == "service_healthy"


def test_web_migrates_then_serves(compose, dockerfile):
    """web runs its own command or the image's CMD, which migrates, then runs gunicorn."""
    web = compose["services"]["web"]
    assert "entrypoint" not in web
    assert_migrates_then_serves(as_text(web.get("command") or last(dockerfile, "CMD")))


def test_scheduler_runs_only_the_scheduler(compose):
    """The scheduler runs `sanzhida scheduler run` and never migrates."""
    scheduler = compose["services"]["scheduler"]
    assert "entrypoint" not in scheduler
    assert as_text(scheduler["command"]) == "sanzhida scheduler run"


def test_media_worker_runs_only_the_media_worker(compose):
    """The media service runs `sanzhida media run` (niced, like inbox) and never migrates."""
    media = compose["services"]["media"]
    assert "entrypoint" not in media
    command = as_text(media["command"])
    assert command.endswith("sanzhida media run")
    assert command in ("sanzhida media run", "nice -n 19 sanzhida media run")


def test_dispatcher_runs_only_the_dispatcher(compose):
    """The dispatcher service runs `sanzhida outbox run` and never migrates."""
    dispatcher = compose["services"]["dispatcher"]
    assert "entrypoint" not in dispatcher
    assert as_text(dispatcher["command"]) == "sanzhida outbox run"


def media_folder(compose) -> str:
    """The folder MEDIA_STORE_URL's default names (file:///…)."""
    default = environment(compose["services"]["web"])["MEDIA_STORE_URL"]
    match = re.fullmatch(r"\$\{MEDIA_STORE_URL:-file://(/[^}]+)\}", default)
    assert match, default
    return match.group(1)


@pytest.mark.parametrize("name", MEDIA_SERVICES)
def test_media_volume_is_shared_where_media_are_read_or_written(compose, name):
    """One named volume holds the media at MEDIA_STORE_URL's folder, in web, scheduler and media."""
    mounts = [str(v) for v in compose["services"][name].get("volumes") or []]
    assert f"media-data:{media_folder(compose)}" in mounts
    assert "media-data" in compose["volumes"]


def test_dockerfile_installs_ffmpeg_and_cleans_apt_lists(dockerfile):
    """ffmpeg comes from Debian's packages, without recommends, and the apt lists are removed."""
    runs = [args for kw, args in dockerfile if kw == "RUN" and "apt-get install" in args]
    assert runs, "no apt-get install in the Dockerfile"
    install = runs[0]
    assert re.search(r"apt-get install -y --no-install-recommends .*\bffmpeg\b", install)
    assert "rm -rf /var/lib/apt/lists/*" in install


def test_dockerfile_installs_what_the_monthly_report_needs(dockerfile):
    """WeasyPrint's Pango and HarfBuzz subsetter, and the CJK font the PDF and its charts are set in."""
    install = " ".join(args for kw, args in dockerfile if kw == "RUN" and "apt-get install" in args).split()
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-wqy-zenhei"):
        assert package in install, package


def test_dockerfile_gives_the_app_user_its_media_folder(dockerfile, compose):
    """The media folder exists and belongs to the app user before it drops root."""
    folder = media_folder(compose)
    user = last(dockerfile, "USER").split(":")[0]
    user_at = max(i for i, (kw, _) in enumerate(dockerfile) if kw == "USER")
    prepared = [i for i, (kw, args) in enumerate(dockerfile)
                if kw == "RUN" and f"mkdir -p {folder}" in args and f"chown -R {user}:" in args]
    assert prepared and max(prepared) < user_at


def test_dockerfile_uses_python_311_slim(dockerfile):
    """The (final) base image is python:3.11-slim on Debian 12, whose pg_dump matches compose's postgres:15."""
    assert last(dockerfile, "FROM").split()[0] == "python:3.11-slim-bookworm"


def test_dockerfile_drops_root_after_installing(dockerfile):
    """A non-root USER is set, after every RUN step that installs the package."""
    user = last(dockerfile, "USER").split(":")[0]
    assert user not in ("root", "0")
    user_at = max(i for i, (kw, _) in enumerate(dockerfile) if kw == "USER")
    install_at = [i for i, (kw, args) in enumerate(dockerfile) if kw == "RUN" and "pip install" in args]
    assert install_at and max(install_at) < user_at


def test_dockerfile_exposes_port_and_health_check(dockerfile):
    """Port 8000 is exposed and the health check probes /healthz."""
    assert "8000" in last(dockerfile, "EXPOSE").split()
    assert "/healthz" in last(dockerfile, "HEALTHCHECK")


def test_dockerfile_start_command_migrates_then_serves(dockerfile):
    """The image's CMD runs `sanzhida db upgrade`, then gunicorn."""
    assert_migrates_then_serves(as_text(last(dockerfile, "CMD")))


def test_dockerfile_serves_with_the_gunicorn_settings_module(dockerfile, monkeypatch):
    """The image's gunicorn reads config/gunicorn.py, which binds the exposed port."""
    from gunicorn.app.base import Application

    assert "-c python:config.gunicorn" in as_text(last(dockerfile, "CMD"))
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("GUNICORN_BIND", raising=False)

    class Probe(Application):
        """gunicorn's own config loading, without starting a server."""

        def init(self, parser, opts, args):
            return None

        def load(self):
            return None

    probe = Probe.__new__(Probe)
    probe.usage, probe.prog, probe.callable = None, None, None
    probe.do_load_config = lambda: None
    probe.load_default_config()
    probe.load_config_from_module_name_or_filename("python:config.gunicorn")
    assert probe.cfg.bind == ["0.0.0.0:8000"]
    assert probe.cfg.workers == 3
    assert probe.cfg.timeout == 30


def test_gunicorn_workers_freeze_the_loaded_app():
    """After a worker loads the app, its objects leave the garbage collector's generations."""
    import gc

    from config.gunicorn import post_worker_init

    try:
        post_worker_init(None)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


def test_dockerfile_copies_every_package_the_project_installs(dockerfile):
    """The image is built from copied folders: a package left out would be missing in production."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.removesuffix("*") for p in patterns}
    copied = {args.split()[0] for kw, args in dockerfile if kw == "COPY"}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert on_disk <= packages, f"packages the project does not install: {sorted(on_disk - packages)}"


@pytest.mark.parametrize("name", METRICS_SERVICES)
def test_workers_serve_metrics_inside_the_compose_network_only(compose, name):
    """Each worker serves its metrics on a port of its own, exposed to the compose network, published nowhere."""
    service = compose["services"][name]
    env = environment(service)
    port = env["METRICS_PORT"]
    assert port.isdigit() and int(port) > 0
    assert env["METRICS_BIND"] == "0.0.0.0"
    assert port in [str(p) for p in service.get("expose") or []]
    assert not any(port in str(p) for p in service.get("ports") or [])


def test_web_keeps_multiprocess_metrics_on_a_tmpfs(compose):
    """gunicorn's workers share their metrics through files on a tmpfs; /metrics needs METRICS_TOKEN."""
    web = compose["services"]["web"]
    env = environment(web)
    assert env["PROMETHEUS_MULTIPROC_DIR"] in web.get("tmpfs", [])
    assert env["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"


def test_observability_profile_adds_prometheus_and_grafana_only_on_request(compose):
    """Both services sit in the `observability` profile, mount deploy/ and listen on this host only."""
    services = compose["services"]
    for name, image in (("prometheus", "prom/prometheus"), ("grafana", "grafana/grafana")):
        service = services[name]
        assert service["profiles"] == ["observability"]
        assert service["image"].split(":")[0] == image
        for mount in service["volumes"]:
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), mount
        assert all(str(port).startswith("127.0.0.1:") for port in service["ports"])
    others = [name for name, service in services.items() if name not in ("prometheus", "grafana")]
    assert all("profiles" not in services[name] for name in others)
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    # The token Prometheus presents is the one web checks.
    assert services["prometheus"]["environment"]["METRICS_TOKEN"] == environment(services["web"])["METRICS_TOKEN"]
