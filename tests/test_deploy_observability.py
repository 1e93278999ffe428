"""deploy/: the alert rules, the Prometheus scrape config and the Grafana dashboard name only metrics and
labels that runtime/metrics.py exposes, scrape the compose services where they serve, and pass promtool."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from models.db import make_session_factory
from runtime import metrics
from scheduler import calendar

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
# What Prometheus adds itself: the scrape's `up` and every target's labels.
PROMETHEUS_OWN = {"up"}
TARGET_LABELS = {"job", "instance"}
# The alerts the issue asks for, by the names operators will see.
REQUIRED_ALERTS = {"MessagesWaiting", "OutboxDeadLetters", "MediaDeadLetters", "SchedulerNoLeader",
                   "DailyJobMissed", "WebhookErrors", "DatabaseUnreachable", "RedisUnreachable"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "gauge": ("",), "summary": ("_sum", "_count", "_created")}


@pytest.fixture(scope="module")
def rules() -> list[dict]:
    """Every rule of alerts.yml."""
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def dashboard() -> dict:
    """The Grafana dashboard."""
    return json.loads((GRAFANA / "sanzhida.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def scrape() -> dict:
    """prometheus.yml."""
    return yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture
def exposed(db, redis_client, clock) -> dict[str, set[str]]:
    """Every sample name runtime/metrics.py can expose, with the label names Prometheus stores it with."""
    names: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            # The scheduler's `job` label is stored as `job_id` (prometheus.yml's metric_relabel_configs).
            labels = {"job_id" if label == "job" else label for label in value._labelnames}
            for family in value.describe():
                for suffix in SUFFIXES[family.type]:
                    names[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    collectors = (metrics.QueueCollector(make_session_factory(db), redis_client, clock),
                  metrics.SchedulerCollector(lambda: True))
    for collector in collectors:
        for family in collector.collect():
            for sample in family.samples:
                names[sample.name] = set(sample.labels)
    return names


def alert_exprs(rules) -> list[str]:
    """The expression of every alert."""
    return [rule["expr"] for rule in rules]


def dashboard_exprs(dashboard) -> list[str]:
    """The query of every panel of the dashboard."""
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """Each metric an expression reads, with the label names its selector matches on."""
    found = []
    for match in re.finditer(r"\b([a-z_][a-z0-9_]*)\s*(\{[^}]*\})?", expr):
        name, braces = match.group(1), match.group(2) or ""
        if name.startswith("sanzhida_") or name in PROMETHEUS_OWN:
            found.append((name, set(re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", braces))))
    return found


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_metric_and_label_read_exists_in_runtime_metrics(source, rules, dashboard, exposed):
    """Renaming a metric or a label in runtime/metrics.py without the rules and dashboard fails here."""
    exprs = alert_exprs(rules) if source == "alerts" else dashboard_exprs(dashboard)
    assert exprs
    read = [s for expr in exprs for s in selectors(expr)]
    assert {name for name, _ in read} - PROMETHEUS_OWN, "no sanzhida metric read at all"
    for name, labels in read:
        if name in PROMETHEUS_OWN:
            continue
        assert name in exposed, f"{source} reads {name}, which runtime/metrics.py does not expose"
        assert labels <= exposed[name] | TARGET_LABELS, f"{source}: {name} has no label {labels - exposed[name]}"


def test_the_alerts_the_issue_asks_for_are_there_and_complete(rules):
    """Each named alert exists with a severity, a summary and a description."""
    assert REQUIRED_ALERTS <= {rule["alert"] for rule in rules}
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_every_calendar_job_is_watched_by_the_missed_job_alert_of_its_period(rules):
    """Daily jobs by DailyJobMissed, weekly ones by WeeklyJobMissed, monthly ones by MonthlyJobMissed; no
    alert names a job that does not exist."""
    def watched(alert: str) -> set[str]:
        (rule,) = [r for r in rules if r["alert"] == alert]
        return {job for pattern in re.findall(r'job_id=~"([^"]+)"', rule["expr"]) for job in pattern.split("|")}

    jobs = calendar.calendar_jobs(ZoneInfo("Asia/Shanghai"))
    fields = {job.id: {f.name: str(f) for f in job.trigger.fields} for job in jobs}
    monthly = {job_id for job_id, f in fields.items() if f["day"] != "*"}
    daily = {job_id for job_id, f in fields.items() if f["day_of_week"] == "*"} - monthly
    assert watched("DailyJobMissed") == daily
    assert watched("MonthlyJobMissed") == monthly
    assert watched("WeeklyJobMissed") == {job.id for job in jobs} - daily - monthly
    every_job = {job.id for job in jobs} | {job.id for job in calendar.INTERVAL_JOBS}
    named = {job for rule in rules for pattern in re.findall(r'job_id=~"([^"]+)"', rule["expr"])
             for job in pattern.split("|")}
    assert named <= every_job


def test_prometheus_scrapes_each_compose_service_where_it_serves(scrape, compose):
    """web on 8000 with the bearer token; the scheduler and the workers on the METRICS_PORT compose gives them."""
    services = compose["services"]
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert {"web", "scheduler", "inbox", "media", "dispatcher"} <= set(jobs)
    for name in ("web", "scheduler", "inbox", "media", "dispatcher"):
        (sd,) = jobs[name]["dns_sd_configs"]
        assert sd["names"] == [name] and name in services
        expected = 8000 if name == "web" else int(services[name]["environment"]["METRICS_PORT"])
        assert sd["port"] == expected
    assert jobs["web"]["authorization"]["credentials_file"] == "/prometheus/metrics_token"
    assert all((PROMETHEUS / path.split()[0]).is_file() for path in scrape["rule_files"])


def test_grafana_is_provisioned_with_the_datasource_and_dashboard_it_names(dashboard, compose):
    """The panels use the provisioned data source's uid, and the provider reads where compose mounts the file."""
    (source,) = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels and all(p["datasource"]["uid"] == source["uid"] for p in panels)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    (provider,) = yaml.safe_load((GRAFANA / "provisioning/dashboards/sanzhida.yml").read_text())["providers"]
    mounted = [m.split(":")[1] for m in compose["services"]["grafana"]["volumes"]
               if m.startswith("./deploy/grafana/sanzhida.json:")]
    assert mounted and Path(mounted[0]).parent == Path(provider["options"]["path"])


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: `make deploy-check` installs Debian's prometheus")
@pytest.mark.parametrize("args", [
    ["check", "rules", "alerts.yml"],
    ["check", "config", "--syntax-only", "prometheus.yml"],
    ["test", "rules", "alerts_test.yml"],
])
def test_promtool_accepts_the_rules_config_and_rule_tests(args):
    """What CI's `make deploy-check` runs: the rules and config are valid and the alerts fire as tested."""
    result = subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
