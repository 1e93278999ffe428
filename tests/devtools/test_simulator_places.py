"""The simulator's menu buttons as WeChat sends them: a location_select button's picked place reaches
/wechat as WeChat's location_select event (SendLocationInfo) and then as a location message, and lands
on the family's 紧急求助 case; a view button's tap is a VIEW event; nothing else passes as a button."""

from __future__ import annotations

import pytest
import requests as http
from sqlalchemy import select

from devtools import sim_places
from devtools.app import create_dev_app
from models import FamilyLink, InboundMessage, ServiceRequest
from services import texts
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user

SEND = "/dev/simulator/api/send"


@pytest.fixture
def world(session, clock):
    """The town, and a family persona bound to 陈桂兰 of 东湾村 (王芳 is her assistant)."""
    town = make_town(session, clock())
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰",
                             address="东湾村河坝组12号")
    openid = f"sim-family-{elder.id}"
    user = make_wechat_user(session, openid, clock())
    session.add(FamilyLink(beneficiary_id=elder.id, wechat_user_id=user.id, relation="子女", active=True,
                           created_at=clock()))
    session.commit()
    town.openid = openid
    return town


@pytest.fixture
def client(settings, db, redis_client, clock):
    """The development app's test client, with passive replies."""
    return create_dev_app(settings, clock=clock, engine=db, redis=redis_client).test_client()


def test_the_picker_offers_home_committee_and_health_centre(client, world):
    """Her home first (her address under the town's name), then the village committee, then the town's health centre."""
    places = client.get(f"/dev/simulator/api/places?openid={world.openid}").get_json()["places"]
    assert [p["poiname"] for p in places] == ["东湾村河坝组12号", "东湾村村委会", "柳河镇卫生院"]
    assert [p["label"] for p in places] == ["示范市柳河镇东湾村河坝组12号", "示范市柳河镇东湾村", "示范市柳河镇"]
    assert len({(p["lat"], p["lng"]) for p in places}) == 3
    assert client.get("/dev/simulator/api/places?openid=someone").status_code == 400


def test_a_picked_place_posts_the_event_and_the_location_message_as_wechat_does(
        client, world, session, fake_wechat):
    """紧急求助, then 发送位置 → the second place: /wechat gets location_select with SendLocationInfo, then
    a location message with the same place; the family is told 王芳 has it, and 王芳 gets its Amap link."""
    tapped = client.post(SEND, json={"openid": world.openid, "kind": "click", "key": "SOS", "label": "紧急求助"})
    assert "120（急救）" in tapped.get_json()["messages"][-1]["text"]
    place = sim_places.places_for(session, world.openid)[1]

    sent = client.post(SEND, json={"openid": world.openid, "kind": "location_select", "key": "SOS_LOCATION",
                                   "place": 1})
    assert sent.status_code == 200
    mine, *answers = sent.get_json()["messages"]
    assert mine == {"from": "me", "kind": "location", "text": "[位置] 东湾村村委会", "label": "示范市柳河镇东湾村"}
    assert [a["text"] for a in answers] == [texts.SOS_LOCATION_RECEIVED.format(name="王芳")]

    fresh(session)
    event, message = session.scalars(select(InboundMessage).where(InboundMessage.openid == world.openid)
                                     .where(InboundMessage.msg_type.in_(["event", "location"]))
                                     .where(InboundMessage.event.is_distinct_from("click"))
                                     .order_by(InboundMessage.id)).all()
    assert (event.msg_type, event.event, event.payload["EventKey"]) == ("event", "location_select", "SOS_LOCATION")
    assert event.payload["SendLocationInfo"] == {
        "Location_X": str(place.lat), "Location_Y": str(place.lng), "Scale": "15",
        "Label": "示范市柳河镇东湾村", "Poiname": "东湾村村委会"}
    assert message.msg_type == "location" and message.msg_id is not None
    assert {k: message.payload[k] for k in ("Location_X", "Location_Y", "Scale", "Label")} == {
        "Location_X": str(place.lat), "Location_Y": str(place.lng), "Scale": "15", "Label": "示范市柳河镇东湾村"}
    case = session.scalars(select(ServiceRequest)).one()
    assert event.request_id == message.request_id == case.id

    # The simulator's poll sends what is due: the assistant's push carries Amap's marker for the place.
    client.get("/dev/simulator/api/inbox")
    marker = f"https://uri.amap.com/marker?position={place.lng:.6f},{place.lat:.6f}"
    pushed = [call for call in http.get(f"{fake_wechat.root_url}/_calls", timeout=5).json()
              if call["outcome"] == "delivered" and (call.get("body") or {}).get("touser") == "o-assistant"]
    assert any(marker in str(call["body"]) for call in pushed)


def test_only_the_menu_s_own_buttons_and_places_pass(client, world, session):
    """An unknown location_select key, a place not offered, a view URL not on the menu: 400, nothing sent."""
    for body in ({"kind": "location_select", "key": "SOS", "place": 0},
                 {"kind": "location_select", "key": "SOS_LOCATION", "place": 3},
                 {"kind": "location_select", "key": "SOS_LOCATION", "place": "0"},
                 {"kind": "location_select", "key": "SOS_LOCATION", "place": True},
                 {"kind": "view", "url": "https://example.com/"}):
        answer = client.post(SEND, json={"openid": world.openid, **body})
        assert answer.status_code == 400, body
        assert answer.get_json()["message"] in ("菜单里没有这个按钮", "请选择一个位置")
    fresh(session)
    assert session.scalars(select(InboundMessage)).all() == []


def test_the_page_marks_each_menu_button_with_its_type(client, world):
    """The page knows each button's WeChat type, so a location_select button opens the picker, not a CLICK."""
    html = client.get("/dev/simulator/").get_data(as_text=True)
    assert 'data-type="location_select" data-key="SOS_LOCATION"' in html
    assert 'data-type="click" data-key="SOS"' in html
    assert 'id="picker"' in html


def test_a_template_push_shows_each_value_under_its_own_label(client, world, session):
    """The assistant's task card reads 对象 陈桂兰 东湾村 and 紧急程度 紧急: values are matched to labels
    by their keys, whatever order the JSON on the way keeps them in."""
    world.assistant.wechat_user.openid = f"sim-staff-{world.assistant.id}"
    session.commit()
    client.post(SEND, json={"openid": world.openid, "kind": "click", "key": "SOS", "label": "紧急求助"})
    items = client.get("/dev/simulator/api/inbox").get_json()["items"]
    [card] = [i for i in items if i["openid"] == world.assistant.wechat_user.openid and i["kind"] == "template"]
    fields = dict(card["fields"])
    assert card["title"] == "待办任务提醒"
    assert fields["对象"] == "陈桂兰 东湾村" and fields["紧急程度"] == "紧急"
    assert list(fields) == ["编号", "对象", "事项", "紧急程度", "时间"]
