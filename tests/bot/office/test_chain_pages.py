"""The 包联 screens through HTTP: who may see and who may change the village split, the departments'
liaisons and the duty rota; every change audited with who and from where; bad input a message."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from bot.office import responsibility as pages
from models import AuditEntry, Department, DutyShift, Staff, VillageOfficers
from models.enums import RegionLevel, StaffRole
from services import accounts
from services import responsibility_admin as chain_admin
from tests.support.chain import make_chain_town
from tests.support.factories import fresh, make_region, make_staff

PASSWORD = "correct-horse-1"


@pytest.fixture
def world(session, clock):
    """The chain town (officers T0001-T0004, liaisons C0001-C0004, admin S0001), and a second town
    with an officer of its own; everyone can sign in."""
    world = make_chain_town(session, clock())
    world.other_town = make_region(session, RegionLevel.TOWN, world.city, clock(), name="河口镇")
    world.other_officer = make_staff(session, StaffRole.TOWN_OFFICER, world.other_town, clock(), name="外镇助理员",
                                     staff_no="T0099")
    for staff in (*world.officers, *world.liaisons, *world.assistants, world.admin, world.other_officer):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, clock())
    session.commit()
    return world


def page(client, path: str) -> str:
    """A page's text, after checking it answered 200."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def csrf(client, path: str) -> str:
    """The CSRF token a page's form carries."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page(client, path)).group(1)


def signed_in(app, staff_no: str):
    """A client signed in as `staff_no`."""
    client = app.test_client()
    token = csrf(client, "/office/login")
    response = client.post("/office/login", data={"staff_no": staff_no, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def post(client, path: str, form_page: str, **data):
    """Submit a form of `form_page` to `path`, following the redirect; the response."""
    return client.post(path, data={**data, "csrf_token": csrf(client, form_page)}, follow_redirects=True)


def audit_entries(session, action: str) -> list[AuditEntry]:
    """The audit entries of one action, read fresh."""
    fresh(session)
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


VILLAGES = "/office/chain/villages"
DEPARTMENTS = "/office/chain/departments"
DUTY = "/office/chain/duty"


# --- villages --------------------------------------------------------------------------------------


def test_the_nav_leads_to_the_village_split_with_defaults_marked(app, world):
    """Every village shows its responsible officer and deputy; unnamed ones are marked 默认."""
    client = signed_in(app, "T0001")
    assert "包联与值班" in page(client, "/office/map")
    assert client.get("/office/chain").headers["Location"].endswith(VILLAGES)
    text = page(client, VILLAGES)
    for village in world.villages:
        assert village.name in text
    assert "已指定" not in text and text.count(">默认<") == 8


def test_a_town_officer_names_a_village_s_officers_and_it_is_audited(app, world, session):
    """The town's officer names T0002 and deputy T0003 for 一村; the page says 已指定; one audit entry
    names who and from where."""
    client = signed_in(app, "T0001")
    village = world.villages[0]
    response = post(client, f"{VILLAGES}/{village.id}", VILLAGES,
                    responsible=world.officers[1].id, deputy=world.officers[2].id)
    text = response.get_data(as_text=True)
    assert pages.MSG_VILLAGE_SAVED.format(village="一村") in text
    card = text[text.index(f'id="v{village.id}"'):]
    assert "助理员2" in card[:card.index("</dl>")] and "已指定" in card[:card.index("</dl>")]
    fresh(session)
    row = session.get(VillageOfficers, village.id)
    assert (row.responsible_staff_id, row.deputy_staff_id) == (world.officers[1].id, world.officers[2].id)
    [entry] = audit_entries(session, "chain.village")
    assert entry.actor_staff_id == world.officers[0].id and entry.ip == "127.0.0.1"
    assert entry.target_id == village.id

    back = post(client, f"{VILLAGES}/{village.id}", VILLAGES, responsible="", deputy="")
    assert back.status_code == 200
    fresh(session)
    assert session.get(VillageOfficers, village.id).responsible_staff_id is None


def test_city_staff_may_change_any_town_and_pick_it(app, world, session):
    """A city liaison sees a town picker and may change a village; the admin too."""
    client = signed_in(app, "C0001")
    text = page(client, f"{VILLAGES}?town={world.town.id}")
    assert "河口镇" in text and 'name="responsible"' in text
    post(client, f"{VILLAGES}/{world.villages[1].id}", VILLAGES, responsible=world.officers[3].id, deputy="")
    fresh(session)
    assert session.get(VillageOfficers, world.villages[1].id).responsible_staff_id == world.officers[3].id
    assert "外镇助理员" not in page(client, f"{VILLAGES}?town={world.town.id}")
    assert "这个乡镇还没有村（社区）" in page(client, f"{VILLAGES}?town={world.other_town.id}")


def test_others_may_not_change_a_village(app, world, session):
    """An officer of another town gets 404 for the village; an assistant reads without forms and is refused."""
    outsider = signed_in(app, "T0099")
    assert world.villages[0].name not in page(outsider, VILLAGES)
    response = outsider.post(f"{VILLAGES}/{world.villages[0].id}",
                             data={"responsible": world.officers[0].id, "csrf_token": csrf(outsider, VILLAGES)})
    assert response.status_code == 404
    assistant = signed_in(app, world.assistants[0].staff_no)
    text = page(assistant, VILLAGES)
    assert "一村" in text and 'name="responsible"' not in text
    refused = assistant.post(f"{VILLAGES}/{world.villages[0].id}",
                             data={"responsible": world.officers[0].id, "csrf_token": csrf(assistant, VILLAGES)})
    assert refused.status_code == 403
    fresh(session)
    assert session.get(VillageOfficers, world.villages[0].id) is None


@pytest.mark.parametrize("choice, message", [
    ("other_officer", pages.MSG_PICK_OFFICER),
    ("assistant", pages.MSG_PICK_OFFICER),
    ("nonsense", pages.MSG_PICK_OFFICER),
    ("same", chain_admin.SAME_PERSON),
])
def test_a_bad_choice_is_a_message(app, world, session, choice, message):
    """Someone outside the town's officers, or the same person twice: a message, nothing saved."""
    client = signed_in(app, "T0001")
    ids = {"other_officer": world.other_officer.id, "assistant": world.assistants[0].id, "nonsense": "x1",
           "same": world.officers[0].id}
    response = post(client, f"{VILLAGES}/{world.villages[0].id}", VILLAGES,
                    responsible=world.officers[0].id, deputy=ids[choice])
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    fresh(session)
    assert session.get(VillageOfficers, world.villages[0].id) is None
    assert audit_entries(session, "chain.village") == []


# --- departments -----------------------------------------------------------------------------------


def test_departments_show_their_categories_and_are_added_from_the_policy(app, world, session):
    """Before any are on record the policy's show as 未建立; one button adds them all, audited as the admin."""
    client = signed_in(app, "S0001")
    text = page(client, DEPARTMENTS)
    assert "市卫健委" in text and "未建立" in text and "按政策表补齐 18 个部门" in text
    health = text[text.index('id="d-health"'):]
    assert "医" in health[:health.index("</dl>")]
    response = post(client, f"{DEPARTMENTS}/ensure", DEPARTMENTS)
    assert pages.MSG_DEPARTMENTS_ADDED.format(count=18) in response.get_data(as_text=True)
    fresh(session)
    assert len(session.scalars(select(Department)).all()) == 18
    entries = audit_entries(session, "chain.department.create")
    assert len(entries) == 18 and {e.actor_staff_id for e in entries} == {world.admin.id}
    assert "按政策表补齐" not in page(client, DEPARTMENTS)


def test_a_liaison_names_a_department_s_liaisons_and_renames_it(app, world, session):
    """Saving a department while the city has none on record adds the policy's (all of them, as they
    are all in effect); its name and liaisons change; every step audited as the liaison's."""
    client = signed_in(app, "C0001")
    response = post(client, f"{DEPARTMENTS}/health", DEPARTMENTS, name="市卫生健康委员会",
                    responsible=world.liaisons[1].id, deputy=world.liaisons[2].id)
    text = response.get_data(as_text=True)
    assert pages.MSG_DEPARTMENT_SAVED.format(name="市卫生健康委员会") in text
    fresh(session)
    health = session.scalars(select(Department).where(Department.code == "health")).one()
    assert (health.name, health.responsible_staff_id, health.deputy_staff_id) == (
        "市卫生健康委员会", world.liaisons[1].id, world.liaisons[2].id)
    created = audit_entries(session, "chain.department.create")
    [named] = audit_entries(session, "chain.department.liaisons")
    assert len(created) == len(session.scalars(select(Department)).all()) == 18
    assert {e.actor_staff_id for e in created} == {named.actor_staff_id} == {world.liaisons[0].id}
    assert named.detail == {"responsible": world.liaisons[1].id, "deputy": world.liaisons[2].id}

    post(client, f"{DEPARTMENTS}/health", DEPARTMENTS, name="市卫健委", responsible=world.liaisons[1].id, deputy="")
    renamed = audit_entries(session, "chain.department.rename")
    assert len(renamed) == 2, "named 市卫生健康委员会 when added, then back to 市卫健委"
    assert renamed[-1].actor_staff_id == world.liaisons[0].id and renamed[-1].ip == "127.0.0.1"
    assert session.get(Department, health.id).name == "市卫健委"
    assert session.get(Department, health.id).deputy_staff_id is None


def test_department_input_mistakes_are_messages(app, world, session):
    """An unknown code is 404; a town officer as liaison, the same person twice or an empty name: a message."""
    client = signed_in(app, "S0001")
    assert client.post(f"{DEPARTMENTS}/nope", data={"csrf_token": csrf(client, DEPARTMENTS)}).status_code == 404
    cases = [
        ({"name": "市卫健委", "responsible": world.officers[0].id}, pages.MSG_PICK_LIAISON),
        ({"name": "市卫健委", "responsible": world.liaisons[0].id, "deputy": world.liaisons[0].id},
         chain_admin.SAME_PERSON),
        ({"name": "  ", "responsible": world.liaisons[0].id}, chain_admin.NAME_INVALID),
    ]
    for data, message in cases:
        response = post(client, f"{DEPARTMENTS}/health", DEPARTMENTS, **data)
        assert response.status_code == 200 and message in response.get_data(as_text=True), data
    fresh(session)
    assert session.scalars(select(Department)).all() == []


def test_only_city_staff_change_departments(app, world):
    """A town officer reads the departments without forms and is refused a change."""
    client = signed_in(app, "T0001")
    text = page(client, DEPARTMENTS)
    assert "市民政局" in text and 'name="responsible"' not in text and "按政策表补齐" not in text
    response = client.post(f"{DEPARTMENTS}/health", data={"name": "x", "csrf_token": csrf(client, DEPARTMENTS)})
    assert response.status_code == 403


# --- the rota ----------------------------------------------------------------------------------------


def test_add_a_shift_see_who_is_on_duty_then_remove_it(app, world, session, clock):
    """At 09:00 it is office hours; a shift for tonight is listed; at 20:00 its person is on duty and
    the shift highlighted; removing it is audited."""
    client = signed_in(app, "S0001")
    text = page(client, DUTY)
    assert "现在是办公时间" in text and "12-01" in text and "一键排满这一周" in text
    response = post(client, DUTY, DUTY, staff_id=world.liaisons[1].id, starts_at="2026-12-01T17:30",
                    ends_at="2026-12-02T08:30")
    assert "已排班：联络员2 12-01 17:30 至 12-02 08:30" in response.get_data(as_text=True)
    fresh(session)
    shift = session.scalars(select(DutyShift)).one()
    assert shift.starts_at == clock() + timedelta(hours=8, minutes=30)

    clock.advance(hours=11)
    client = signed_in(app, "S0001")  # a dashboard session lasts 8 hours
    text = page(client, DUTY)
    assert "现在值班：<b>联络员2</b>" in text
    assert f'class="shift current" id="shift-{shift.id}"' in text and "次日 08:30" in text

    removed = post(client, f"{DUTY}/{shift.id}/remove", DUTY)
    assert pages.MSG_SHIFT_REMOVED.format(name="联络员2") in removed.get_data(as_text=True)
    assert "现在没有人值班" in removed.get_data(as_text=True)
    [added], [gone] = audit_entries(session, "duty.add"), audit_entries(session, "duty.remove")
    assert added.actor_staff_id == gone.actor_staff_id == world.admin.id and gone.ip == "127.0.0.1"


def test_fill_a_week_once(app, world, session):
    """One button fills the nights and the weekend of the week; a second time is refused with a message."""
    client = signed_in(app, "C0001")
    response = post(client, f"{DUTY}/fill", DUTY, week="2026-11-30")
    text = response.get_data(as_text=True)
    assert pages.MSG_WEEK_FILLED.format(count=10) in text
    assert text.count('class="shift') == 10
    again = post(client, f"{DUTY}/fill", DUTY, week="2026-11-30")
    assert pages.MSG_WEEK_TAKEN in again.get_data(as_text=True)
    fresh(session)
    assert len(session.scalars(select(DutyShift)).all()) == 10
    assert len(audit_entries(session, "duty.add")) == 10


def test_weeks_are_browsed_and_a_bad_week_is_this_week(app, world):
    """Previous and next weeks link by their Monday; an unreadable week shows this week with a message."""
    client = signed_in(app, "T0001")
    text = page(client, DUTY)
    assert "week=2026-11-23" in text and "week=2026-12-07" in text
    assert "添加值班" not in text, "town officers read the rota"
    assert "12-07 至 12-13" in page(client, f"{DUTY}?week=2026-12-09")
    bad = page(client, f"{DUTY}?week=someday")
    assert pages.MSG_BAD_WEEK in bad and "11-30 至 12-06" in bad


@pytest.mark.parametrize("data, message", [
    ({"starts_at": "2026-12-02T08:30", "ends_at": "2026-12-01T17:30"}, chain_admin.SHIFT_ORDER),
    ({"starts_at": "tonight", "ends_at": "2026-12-02T08:30"}, pages.MSG_BAD_TIME),
    ({"starts_at": "2026-12-01T17:30", "ends_at": ""}, pages.MSG_BAD_TIME),
    ({"starts_at": "2026-12-01T17:30", "ends_at": "2026-12-05T08:30"},
     chain_admin.SHIFT_TOO_LONG.format(hours=72)),
    ({"staff_id": "officer", "starts_at": "2026-12-01T17:30", "ends_at": "2026-12-02T08:30"},
     pages.MSG_PICK_LIAISON),
])
def test_bad_shift_input_is_a_message(app, world, session, data, message):
    """Times out of order, unreadable or too long, or someone not a liaison: a message, nothing saved."""
    client = signed_in(app, "S0001")
    staff_id = world.officers[0].id if data.get("staff_id") == "officer" else world.liaisons[0].id
    response = post(client, DUTY, DUTY, **{**data, "staff_id": staff_id})
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    fresh(session)
    assert session.scalars(select(DutyShift)).all() == []


def test_an_overlapping_shift_and_outsiders_are_refused(app, world, session):
    """The same person twice at once is a message; a town officer cannot add or remove shifts."""
    client = signed_in(app, "S0001")
    for _ in range(2):
        response = post(client, DUTY, DUTY, staff_id=world.liaisons[0].id, starts_at="2026-12-01T17:30",
                        ends_at="2026-12-02T08:30")
    assert chain_admin.SHIFT_OVERLAP.format(name="联络员1") in response.get_data(as_text=True)
    fresh(session)
    shift = session.scalars(select(DutyShift)).one()
    officer = signed_in(app, "T0001")
    token = csrf(officer, DUTY)
    assert officer.post(DUTY, data={"staff_id": world.liaisons[0].id, "csrf_token": token}).status_code == 403
    assert officer.post(f"{DUTY}/{shift.id}/remove", data={"csrf_token": token}).status_code == 403
    gone = post(client, f"{DUTY}/999999/remove", DUTY)
    assert pages.MSG_NO_SUCH_SHIFT in gone.get_data(as_text=True)


# --- spreadsheet import on the import page -------------------------------------------------------------


def test_the_import_page_offers_the_chain_files_and_their_templates(app, world):
    """The administrator sees the rota, village-split and department imports, each with a template."""
    client = signed_in(app, "S0001")
    text = page(client, "/office/import")
    for label in ("导入值班表", "导入包村责任", "导入职能部门联络员"):
        assert label in text
    for kind, sheet in (("duty", "值班表"), ("village_officers", "包村责任"), ("departments", "职能部门")):
        response = client.get(f"/office/import/template/{kind}.xlsx")
        assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
        assert sheet in load_workbook(io.BytesIO(response.data)).sheetnames


def test_a_rota_file_with_a_bad_row_is_reported_then_its_good_rows_confirmed(app, world, session):
    """The bad row is named with its number and nothing is written; confirming imports the good row,
    audited as the administrator."""
    workbook = Workbook()
    workbook.active.append(["工号", "开始时间", "结束时间"])
    workbook.active.append(["C0001", "2026-12-01 17:30", "2026-12-02 08:30"])
    workbook.active.append(["C0002", "2026-12-02 08:30", "2026-12-01 17:30"])
    data = io.BytesIO()
    workbook.save(data)
    client = signed_in(app, "S0001")
    response = client.post("/office/import/duty", content_type="multipart/form-data", data={
        "csrf_token": csrf(client, "/office/import"), "file": (io.BytesIO(data.getvalue()), "值班.xlsx")})
    text = response.get_data(as_text=True)
    assert "还没有导入任何数据" in text and "<td>3</td><td>结束时间：应晚于开始时间</td>" in text
    fresh(session)
    assert session.scalars(select(DutyShift)).all() == []
    token = re.search(r'/office/import/confirm/([^"]+)"', text).group(1)
    confirmed = client.post(f"/office/import/confirm/{token}", data={"csrf_token": csrf(client, "/office/import")})
    assert "已导入 1 行" in confirmed.get_data(as_text=True)
    fresh(session)
    assert [s.staff_id for s in session.scalars(select(DutyShift))] == [world.liaisons[0].id]
    assert audit_entries(session, "duty.add")[0].actor_staff_id == world.admin.id
    assert audit_entries(session, "import.duty")[0].actor_staff_id == world.admin.id
