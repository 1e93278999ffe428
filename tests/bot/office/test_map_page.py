"""The map page through HTTP: the picture's data travels as JSON the page's CSP allows, with a link
per village, within the viewer's scope; the table stays below it."""

from __future__ import annotations

import json
import re

import pytest

from models import Staff
from services import accounts
from tests.bot.office.test_pages import PASSWORD, sign_in
from tests.support import map_history


@pytest.fixture
def history(session, clock, app):
    """The hand-built map; its staff can sign in."""
    built = map_history.build(session, clock())
    for staff in (built.a.supervisor, built.a.officer, built.officer_b):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, clock())
    session.commit()
    return built


def picture(client, staff) -> tuple[dict, str]:
    """The picture's data and the whole page, as `staff` sees them."""
    sign_in(client, staff.staff_no)
    response = client.get("/office/map")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Only data blocks and our own script files: nothing inline runs under the CSP.
    assert all('type="application/json"' in tag or " src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    block = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', html, re.S).group(1)
    return json.loads(block), html


def test_supervisor_gets_the_city_with_village_links(client, history):
    """The city's two towns, sizes and colours, each village linked to its page; legend and table below."""
    data, html = picture(client, history.a.supervisor)
    tree = data["tree"]
    assert (tree["name"], tree["value"], tree["gap"]) == ("示范市", 10, "unassigned")
    towns = {t["name"]: t for t in tree["children"]}
    assert {n: t["gap"] for n, t in towns.items()} == {"柳河镇": "unassigned", "青湖镇": "coverage"}
    north = next(v for v in towns["青湖镇"]["children"] if v["name"] == "北塘村")
    assert north["url"] == f"/office/villages/{history.north.id}"
    assert set(data["gaps"]) == {"unassigned", "overloaded", "coverage", "ok"}
    assert "走访覆盖率低于 90%" in html and 'id="map-legend"' in html and 'id="map"' in html
    assert "打印（A4 横向）" in html


def test_town_officer_gets_only_their_town(client, history):
    """A town officer's picture is their town; the other town is in neither the picture nor the table."""
    data, html = picture(client, history.officer_b)
    assert (data["tree"]["kind"], data["tree"]["name"]) == ("town", "青湖镇")
    assert sorted(v["name"] for v in data["tree"]["children"]) == ["北塘村", "西岭村"]
    assert "柳河镇" not in html and "东湾村" not in html
