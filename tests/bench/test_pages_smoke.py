"""Smoke version of bench/pages.py: who it signs in as and which pages, on a province of two cities."""

from __future__ import annotations

import bench.pages as pages_bench
from models.enums import StaffRole
from tests.support.province import make_province


def test_every_role_of_a_province_gets_its_pages_and_each_answers(app, session, clock):
    """The province administrator is found on their own, with the whole province, then one city chosen."""
    world = make_province(session, app.extensions["sanzhida"].request_env, clock())
    subjects = {s.role: s for s in pages_bench.pick_subjects(session, clock())}
    assert list(subjects)[0] == StaffRole.PROVINCE_ADMIN.value
    assert subjects[StaffRole.PROVINCE_ADMIN.value].staff_no == world.admin.staff_no
    province = subjects[StaffRole.PROVINCE_ADMIN.value].pages
    assert "/office/map" in province and "/office/audit" in province
    chosen = [page for page in province if "city=" in page]
    assert chosen and province[-len(chosen):] == chosen  # the city view last: the choice is kept
    meter = pages_bench.SqlMeter()
    for subject in subjects.values():
        with app.test_client() as client:
            pages_bench.sign_in(client, subject.staff_no)
            for path in subject.pages:
                assert pages_bench.time_page(client, meter, subject.role, path, runs=1).runs


def test_roles_can_be_chosen(app, session, clock):
    """`--roles` picks and orders them; a role nobody has stops the run."""
    make_province(session, app.extensions["sanzhida"].request_env, clock())
    roles = pages_bench.parse_args(["--database-url", "sqlite://", "--roles", "town_officer,province_admin"]).roles
    assert [s.role for s in pages_bench.pick_subjects(session, clock(), roles)] == ["town_officer", "province_admin"]
