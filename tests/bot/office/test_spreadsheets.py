"""The import page's files through HTTP: templates only for those who may import, their staff lists
narrowed to the viewer's scope; an upload with errors parked in Redis encrypted, its follow-ups working."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from models import Staff
from models.enums import RegionLevel, StaffRole
from services import accounts
from tests.services.test_imports import HEADERS, bad_check_digit, make_id, people_rows, write_csv
from tests.support.office import PASSWORD, signed_in
from tests.support.factories import make_region, make_staff, make_town



@pytest.fixture
def world(session, clock):
    """Town A (two villages, assistants 王芳 and 李强, officer 赵敏), town B with its own assistant and
    officer, and an administrator; everyone can sign in."""
    town = make_town(session, clock())
    town_b = make_region(session, RegionLevel.TOWN, town.city, clock(), name="青湖镇")
    village_b = make_region(session, RegionLevel.VILLAGE, town_b, clock(), name="北塘村")
    town.assistant_b = make_staff(session, StaffRole.ASSISTANT, village_b, clock(), name="孙远")
    town.officer_b = make_staff(session, StaffRole.TOWN_OFFICER, town_b, clock(), name="钱立")
    town.admin = make_staff(session, StaffRole.ADMIN, town.city, clock(), name="管理员")
    for staff in (town.assistant, town.officer, town.officer_b, town.supervisor, town.admin):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, clock())
    session.commit()
    return town



def template(client, kind: str):
    """A downloaded template as a workbook, after checking it answered 200."""
    response = client.get(f"/office/import/template/{kind}.xlsx")
    assert response.status_code == 200, response.status_code
    return load_workbook(io.BytesIO(response.data))


def listed(workbook, sheet: str) -> str:
    """Everything a reference sheet says, as one string."""
    return " ".join(str(v) for row in workbook[sheet].iter_rows(values_only=True) for v in row if v)


# --- templates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["beneficiaries", "staff", "village_officers", "departments", "duty"])
def test_an_assistant_gets_no_template(app, world, kind):
    """Assistants only read the dashboard: no template, and so no list of their colleagues."""
    assert signed_in(app, world.assistant.staff_no).get(f"/office/import/template/{kind}.xlsx").status_code == 403


def test_a_town_officer_s_template_lists_only_their_town(app, world):
    """Each town's officer sees their own town's villages and assistants, nobody else's."""
    mine = listed(template(signed_in(app, world.officer.staff_no), "beneficiaries"), "村（社区）代码")
    assert "王芳" in mine and "李强" in mine and world.assistant.staff_no in mine
    assert "孙远" not in mine and "北塘村" not in mine
    theirs = listed(template(signed_in(app, world.officer_b.staff_no), "beneficiaries"), "村（社区）代码")
    assert "孙远" in theirs and "王芳" not in theirs and "东湾村" not in theirs

    split = listed(template(signed_in(app, world.officer_b.staff_no), "village_officers"), "村（社区）与助理员")
    assert "钱立" in split and "赵敏" not in split
    rota = template(signed_in(app, world.officer.staff_no), "duty")
    assert "值班人员" not in rota.sheetnames  # the city's supervisors are outside a town's scope


def test_the_city_sees_the_whole_city(app, world):
    """Administrators and city supervisors get every town's assistants and the liaisons."""
    for staff in (world.admin, world.supervisor):
        names = listed(template(signed_in(app, staff.staff_no), "beneficiaries"), "村（社区）代码")
        assert "王芳" in names and "孙远" in names
    assert world.supervisor.name in listed(template(signed_in(app, world.admin.staff_no), "duty"), "值班人员")


# --- an upload with errors, parked in Redis ------------------------------------------------------------


def test_a_parked_upload_is_encrypted_and_its_follow_ups_still_work(app, world, tmp_path):
    """The raw Redis value holds neither the file nor any ID number; the report and "import the good
    rows" read it back."""
    rows = people_rows(world)
    rows[1][1] = bad_check_digit(2)
    data = write_csv(tmp_path / "people.csv", HEADERS, rows, "utf-8")
    client = signed_in(app, world.admin.staff_no)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/office/import").get_data(as_text=True)).group(1)
    checked = client.post("/office/import/beneficiaries", content_type="multipart/form-data",
                          data={"csrf_token": csrf, "file": (io.BytesIO(data), "people.csv")})
    text = checked.get_data(as_text=True)
    assert "还没有导入任何数据" in text
    token = re.search(r'/office/import/confirm/([^"]+)"', text).group(1)

    svc = app.extensions["sanzhida"]
    raw = svc.redis.get(svc.keys.upload(token))
    assert raw is not None and 0 < svc.redis.ttl(svc.keys.upload(token)) <= 3600
    assert data not in raw and b"people.csv" not in raw
    for number in (make_id(1), make_id(3), bad_check_digit(2)):
        assert number.encode() not in raw and number.lower().encode() not in raw

    report = client.get(f"/office/import/report/{token}.xlsx")
    assert report.status_code == 200
    assert "刘大爷" not in str(list(load_workbook(io.BytesIO(report.data)).active.values))
    confirmed = client.post(f"/office/import/confirm/{token}", data={"csrf_token": csrf})
    assert "已导入 2 行" in confirmed.get_data(as_text=True)
    assert svc.redis.get(svc.keys.upload(token)) is None


def test_a_tampered_parked_upload_counts_as_expired(app, world, tmp_path):
    """A value altered in Redis is refused like an expired one, not read."""
    rows = people_rows(world)
    rows[1][1] = bad_check_digit(2)
    client = signed_in(app, world.admin.staff_no)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/office/import").get_data(as_text=True)).group(1)
    text = client.post("/office/import/beneficiaries", content_type="multipart/form-data", data={
        "csrf_token": csrf,
        "file": (io.BytesIO(write_csv(tmp_path / "p.csv", HEADERS, rows, "utf-8")), "p.csv"),
    }).get_data(as_text=True)
    token = re.search(r'/office/import/confirm/([^"]+)"', text).group(1)
    svc = app.extensions["sanzhida"]
    svc.redis.set(svc.keys.upload(token), b"\x00\x00\x00\x02{}plain,text")
    assert client.get(f"/office/import/report/{token}.xlsx").status_code == 410
