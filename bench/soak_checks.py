"""What the soak checks after the run: nothing lost, nothing doubled outside the at-least-once window.

Inputs: the messages the soak sent (and which got a 200), the disruptions it caused (SIGKILLs,
the PostgreSQL and Redis restarts, with their times), the WeChat stand-in's call log, and the
database. See docs/benchmarks.md, "Soak", for the window and how duplicates are classified.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from services.policy.push import client_msg_id

# Processes whose death can leave a push sent at WeChat but not marked sent.
SENDING_ROLES = frozenset({"inbox", "dispatcher", "scheduler", "postgres"})
# Seconds between WeChat's answer and the outbox row being marked sent, at most, for a
# disruption to explain a repeat: the mark is written right after each customer-service send.
MARK_WINDOW_SECONDS = 5.0
# Seconds after a SIGKILL in which WeChat may still answer a request the killed process had sent
# (the stand-in logs a call when it answers it): the client's timeout.
IN_FLIGHT_SECONDS = 5.0
DELIVERED = ("delivered", "delivered late")


@dataclass
class Disruption:
    """A SIGKILL or a restart: when, of what."""

    at: float
    name: str
    role: str
    # When a restart was over (a kill is instant: None).
    until: float | None = None


@dataclass
class Findings:
    """Counts by check; `lost` and `outside` make the run fail."""

    rows: list[tuple[str, int, str]] = field(default_factory=list)
    lost: int = 0
    outside: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, check: str, value: int, verdict: str = "") -> None:
        """One line of the table."""
        self.rows.append((check, value, verdict))


def _groups(calls: list[dict]) -> tuple[dict, dict, Counter]:
    """Delivered customer-service calls by (openid, text), with their times and whether late; template
    deliveries by client_msg_id; outcomes of every call."""
    custom: dict[tuple[str, str], list[tuple[float, bool]]] = defaultdict(list)
    template: Counter = Counter()
    outcomes: Counter = Counter()
    for call in calls:
        outcomes[(call["path"], call["outcome"])] += 1
        body = call.get("body") or {}
        if call["outcome"] not in DELIVERED:
            continue
        if call["path"] == "message/custom/send":
            text = (body.get("text") or {}).get("content", "")
            custom[(body.get("touser"), text)].append((call["at"], call["outcome"] == "delivered late"))
        elif call["path"] == "message/template/send":
            template[body.get("client_msg_id")] += 1
    return custom, template, outcomes


def explained(deliveries: list[tuple[float, bool]], disruptions: list[Disruption]) -> int:
    """How many of these deliveries could be repeated inside the window: answered late (the caller
    saw a timeout), or followed within MARK_WINDOW_SECONDS by a disruption of a sending process, or
    answered within IN_FLIGHT_SECONDS after one (sent just before the process was killed)."""
    spans = [(d.at, d.until or d.at) for d in disruptions if d.role in SENDING_ROLES]
    return sum(1 for at, late in deliveries
               if late or any(start - MARK_WINDOW_SECONDS <= at <= end + IN_FLIGHT_SECONDS for start, end in spans))


def check_pushes(outbox_rows: list[dict], calls: list[dict], disruptions: list[Disruption],
                 findings: Findings) -> None:
    """Every push marked sent was delivered once; repeats are counted and classified."""
    custom, template, _ = _groups(calls)
    expected: Counter = Counter()
    for row in outbox_rows:
        if row["status"] != "sent":
            continue
        if row["kind"] == "custom":
            expected[(row["openid"], row["text"])] += 1
    missing = sum(max(0, n - len(custom.get(group, []))) for group, n in expected.items())
    dup_in = dup_out = 0
    for group, deliveries in custom.items():
        extra = len(deliveries) - expected.get(group, 0)
        if extra <= 0:
            continue
        inside = min(extra, explained(sorted(deliveries)[:-1], disruptions))
        dup_in += inside
        dup_out += extra - inside
        if extra > inside:
            near = [f"{d.name}@{d.at:.1f}" for d in disruptions if abs(d.at - deliveries[0][0]) < 90]
            findings.notes.append(f"repeat outside the window: {group[0]} {group[1][:12]!r} delivered at "
                                  f"{[round(at, 1) for at, _ in sorted(deliveries)]}, disruptions near: {near}")
    templates = [row for row in outbox_rows if row["status"] == "sent" and row["kind"] == "template"]
    template_missing = sum(1 for row in templates if template[client_msg_id(row["key"])] == 0)
    template_doubled = sum(n - 1 for n in template.values() if n > 1)
    findings.add("customer-service pushes marked sent", sum(expected.values()))
    findings.add("  … sent but never delivered", missing, "LOST" if missing else "ok")
    findings.add("  … delivered twice, inside the window", dup_in, "ok (at-least-once)")
    findings.add("  … delivered twice, outside the window", dup_out, "DUPLICATE" if dup_out else "ok")
    findings.add("template pushes marked sent", len(templates))
    findings.add("  … sent but never delivered", template_missing, "LOST" if template_missing else "ok")
    findings.add("  … delivered twice (WeChat drops a repeated client_msg_id)", template_doubled,
                 "DUPLICATE" if template_doubled else "ok")
    findings.lost += missing + template_missing
    findings.outside += dup_out + template_doubled


def check_messages(sent: list[dict], db: dict, findings: Findings) -> None:
    """Every message answered 200 is stored once, handled once, and its reply sent."""
    accepted = [m for m in sent if m["ok"]]
    stored = db["inbound"]  # dedupe_key -> row
    never = [m for m in sent if not m["ok"]]
    findings.add("messages sent (distinct)", len(sent))
    findings.add("  … with retries (no answer within 5 s)", sum(1 for m in sent if m["attempts"] > 1))
    untold = sum(1 for m in sent if not m["told"])
    findings.add("  … the stand-in never told the user wrote (soak fault)", untold, "note" if untold else "ok")
    findings.add("  … answered 200", len(accepted))
    findings.add("  … never answered 200 after 4 tries (WeChat gives up)", len(never),
                 "ok" if not never else "note")
    if never:
        lasts = dict(Counter(m["last"] for m in never))
        findings.notes.append(f"last answers of the messages never answered 200: {lasts}")
    findings.add("  … never answered 200 but stored", sum(1 for m in never if m["key"] in stored))
    not_stored = [m for m in accepted if m["key"] not in stored]
    findings.add("answered 200 but not stored", len(not_stored), "LOST" if not_stored else "ok")
    doubled = sum(n - 1 for n in db["stored_counts"].values() if n > 1)
    findings.add("stored more than once (by MsgId)", doubled, "DUPLICATE" if doubled else "ok")
    # Every stored message is handled and answered, whether or not its 200 reached WeChat.
    rows = [stored[m["key"]] for m in sent if m["key"] in stored]
    unhandled = [r for r in rows if r["handled_at"] is None]
    failed = [r for r in rows if r["handling_error"]]
    findings.add("stored but never handled", len(unhandled), "LOST" if unhandled else "ok")
    findings.add("handled with an apology (handler or database failure)", len(failed),
                 "note" if failed else "ok")
    twice = sum(1 for r in rows if r["events"] > 1)
    findings.add("handled twice (two request events for one message)", twice, "DUPLICATE" if twice else "ok")
    handled = [r for r in rows if r["handled_at"] is not None]
    no_reply = [r for r in handled if r["reply_status"] is None]
    findings.add("handled, no reply queued", len(no_reply), "LOST" if no_reply else "ok")
    unsent = [r for r in handled if r["reply_status"] not in (None, "sent")]
    capped = [r for r in unsent if (r["reply_error"] or "").startswith("45047")]
    findings.add("reply refused by WeChat: over 5 since the user's last message (45047)", len(capped),
                 "LOST" if capped else "ok")
    findings.add("reply not sent otherwise (dead or still waiting)", len(unsent) - len(capped),
                 "LOST" if len(unsent) > len(capped) else "ok")
    findings.lost += len(not_stored) + len(unhandled) + len(no_reply) + len(unsent)
    findings.outside += doubled + twice
    statuses = Counter(r["reply_status"] for r in unsent)
    if statuses:
        findings.notes.append(f"unsent replies by status: {dict(statuses)}")


def check_escalations(expected: dict[int, list[tuple[int, int]]], events: list[tuple[int, int, int]],
                      rows: list[dict], findings: Findings) -> None:
    """Every rung due during the run was taken once, and its pushes sent."""
    taken = Counter(events)
    due = [(rid, level, repeat) for rid, rungs in expected.items() for level, repeat in rungs]
    missing = [rung for rung in due if taken[rung] == 0]
    doubled = sum(n - 1 for n in taken.values() if n > 1)
    findings.add("escalation rungs due during the run", len(due))
    findings.add("  … not taken", len(missing), "LOST" if missing else "ok")
    findings.add("  … taken twice", doubled, "DUPLICATE" if doubled else "ok")
    pushes = [r for r in rows if r["key"].startswith(("escalate", "escalate_repeat", "escalate_digest"))]
    unsent = [r for r in pushes if r["status"] not in ("sent",) and not r["deferred"]]
    findings.add("escalation pushes queued", len(pushes))
    findings.add("  … not sent (dead or still waiting)", len(unsent), "LOST" if unsent else "ok")
    findings.lost += len(missing) + len(unsent)
    findings.outside += doubled
    if missing:
        findings.notes.append(f"rungs not taken: {missing[:10]}")


def call_outcomes(calls: list[dict]) -> dict[str, int]:
    """How the stand-in answered, e.g. {'message/custom/send delivered': 1234, … 'errcode -1': 12}."""
    _, _, outcomes = _groups(calls)
    return {f"{path} {outcome}": n for (path, outcome), n in sorted(outcomes.items())}


def load_db(engine, keys: list[str], since: datetime) -> tuple[dict, list[dict]]:
    """The run's stored messages (with their reply's status and event count) and every outbox row
    created since the run began."""
    from sqlalchemy import text

    inbound: dict[str, dict] = {}
    counts: Counter = Counter()
    with engine.connect() as c:
        for chunk in range(0, len(keys), 5000):
            part = keys[chunk:chunk + 5000]
            for row in c.execute(text(
                "SELECT m.id, m.dedupe_key, m.handled_at, m.handling_error, o.status AS reply_status, "
                "o.last_error AS reply_error, "
                "(SELECT count(*) FROM request_events e WHERE e.inbound_message_id = m.id) AS events "
                "FROM inbound_messages m LEFT JOIN outbox o ON o.idempotency_key = 'answer:' || m.id "
                "WHERE m.dedupe_key = ANY(:keys)"), {"keys": part}).mappings():
                inbound[row["dedupe_key"]] = dict(row)
                counts[row["dedupe_key"]] += 1
        outbox = [dict(r) for r in c.execute(text(
            "SELECT idempotency_key AS key, recipient_openid AS openid, kind, status, payload->>'text' AS text, "
            "attempts, (status = 'pending' AND attempts = 0 AND next_attempt_at > now()) AS deferred "
            "FROM outbox WHERE created_at >= :since"), {"since": since}).mappings()]
    return {"inbound": inbound, "stored_counts": counts}, outbox


def escalation_events(engine, request_ids: list[int], since: datetime) -> list[tuple[int, int, int]]:
    """(request, level, repeat) of every escalation event of these cases since the run began (the
    reopened cases keep their seeded history, rungs taken months ago)."""
    from sqlalchemy import text

    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT request_id, (data->>'level')::int, coalesce((data->>'repeat')::int, 0) FROM request_events "
            "WHERE kind = 'escalated' AND request_id = ANY(:ids) AND created_at >= :since"),
            {"ids": request_ids, "since": since}).all()
    return [tuple(r) for r in rows]


def expected_rungs(engine, request_ids: list[int], until: datetime, tz) -> dict[int, list[tuple[int, int]]]:
    """The rungs of each reopened case due by `until` (the ladder's own rule, from level 0)."""
    from sqlalchemy import text

    from config import policy
    from services.policy import ladder

    with engine.connect() as c:
        rows = c.execute(text("SELECT id, created_at, category, urgency FROM service_requests WHERE id = ANY(:ids)"),
                         {"ids": request_ids}).all()
    expected = {}
    for rid, created, category, urgency in rows:
        steps = policy.ESCALATION_LADDER[ladder.ladder_key(category, urgency)]
        facts = ladder.RequestFacts("open", created, 0, 0)
        expected[rid] = [(r.step.level, r.repeat) for r in ladder.due_rungs(facts, steps, until, tz,
                                                                            policy.SERVICE_HOURS)]
    return expected
