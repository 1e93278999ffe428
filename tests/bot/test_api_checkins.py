"""The admin API's 报平安 fields: living alone and the plan written on create and by PATCH, the last check-in
read-only, bad values a 422 naming the field, every change audited."""

from __future__ import annotations

from sqlalchemy import select

from models import AuditEntry, Beneficiary
from models.enums import CheckinSource
from services import checkins
from tests.bot.test_api import AUTH, get, people, places, post  # noqa: F401  (fixtures)
from tests.bot.test_api import beneficiary_body
from tests.support.factories import fresh


def patch(client, beneficiary_id: int, body):
    """PATCH a beneficiary with the admin token."""
    return client.patch(f"/api/v1/beneficiaries/{beneficiary_id}", json=body, headers=AUTH)


def test_create_reads_back_the_checkin_fields(client, people):
    """A 留守老人 living alone starts on the daily default; a plan written on create is staff-set."""
    alone = post(client, "/beneficiaries", beneficiary_body(lives_alone=True))
    assert alone.status_code == 201, alone.get_json()
    body = alone.get_json()
    assert (body["lives_alone"], body["checkin_plan"], body["checkin_plan_by_staff"], body["last_checkin_at"]) == (
        True, "daily", False, None)
    chosen = post(client, "/beneficiaries", beneficiary_body(id_number=None, checkin_plan="weekly"))
    assert chosen.status_code == 201, chosen.get_json()
    assert (chosen.get_json()["lives_alone"], chosen.get_json()["checkin_plan"],
            chosen.get_json()["checkin_plan_by_staff"]) == (False, "weekly", True)
    plain = post(client, "/beneficiaries", beneficiary_body(id_number=None))
    assert (plain.get_json()["lives_alone"], plain.get_json()["checkin_plan"]) == (False, "off")


def test_patch_living_alone_moves_the_default_and_a_plan_stays_as_set(client, session, people, clock):
    """lives_alone true → daily by default; a staff plan then stays whatever living alone says; audited."""
    created = post(client, "/beneficiaries", beneficiary_body()).get_json()
    number = created["id"]
    moved = patch(client, number, {"lives_alone": True})
    assert moved.status_code == 200, moved.get_json()
    assert (moved.get_json()["checkin_plan"], moved.get_json()["checkin_plan_by_staff"]) == ("daily", False)
    set_weekly = patch(client, number, {"checkin_plan": "weekly"})
    assert (set_weekly.get_json()["checkin_plan"], set_weekly.get_json()["checkin_plan_by_staff"]) == ("weekly", True)
    kept = patch(client, number, {"lives_alone": False})
    assert (kept.get_json()["lives_alone"], kept.get_json()["checkin_plan"]) == (False, "weekly")
    fresh(session)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "beneficiary.checkin_plan")
                              .order_by(AuditEntry.id)).all()
    assert [(e.actor_label, e.target_id, e.detail["plan"], e.detail["lives_alone"]) for e in entries] == [
        ("admin-api", number, "daily", True), ("admin-api", number, "weekly", True),
        ("admin-api", number, "weekly", False)]


def test_last_checkin_is_read_and_never_written(app, client, session, people, clock):
    """A check-in shows in the detail and the list; a last_checkin_at in a body is ignored."""
    number = post(client, "/beneficiaries", beneficiary_body()).get_json()["id"]
    fresh(session)
    person = session.get(Beneficiary, number)
    checkins.record_checkin(session, person, clock(), source=CheckinSource.STAFF,
                            env=app.extensions["sanzhida"].request_env)
    session.commit()
    listed = get(client, "/beneficiaries").get_json()["items"]
    assert listed[0]["last_checkin_at"] == clock().isoformat()
    ignored = patch(client, number, {"last_checkin_at": "2020-01-01T00:00:00+00:00", "checkin_plan_by_staff": True})
    assert ignored.status_code == 200
    assert (ignored.get_json()["last_checkin_at"], ignored.get_json()["checkin_plan_by_staff"]) == (
        clock().isoformat(), False)


def test_bad_values_are_422_naming_the_field_and_change_nothing(client, session, people):
    """A plan outside daily/weekly/off, a flag that is not a JSON boolean, an unknown id."""
    number = post(client, "/beneficiaries", beneficiary_body()).get_json()["id"]
    for body, field in (({"checkin_plan": "monthly"}, "checkin_plan"), ({"checkin_plan": "每天"}, "checkin_plan"),
                        ({"lives_alone": "是"}, "lives_alone"), ({"lives_alone": 1}, "lives_alone")):
        response = patch(client, number, body)
        assert (response.status_code, response.get_json()["field"]) == (422, field), body
        assert response.get_json()["message"]
    refused = post(client, "/beneficiaries", beneficiary_body(id_number=None, checkin_plan="daily!"))
    assert (refused.status_code, refused.get_json()["field"]) == (422, "checkin_plan")
    assert patch(client, 999999, {"lives_alone": True}).status_code == 404
    fresh(session)
    person = session.get(Beneficiary, number)
    assert (person.lives_alone, person.checkin_plan, person.checkin_plan_by_staff) == (False, "off", False)
