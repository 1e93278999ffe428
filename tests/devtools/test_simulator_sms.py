"""Text messages in the simulator: an SMS the outbox sends to a persona's phone, through the Aliyun SMS
stand-in on a real port (its templates registered as `make run` registers them), shows in that
persona's feed as kind `sms`, in time order with its WeChat messages; and `make run` starts the SMS
stand-in with the SMS settings pointed at it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from config.settings import load_settings
from devtools import devstack
from devtools.app import create_dev_app
from devtools.fake_sms import FakeSmsServer
from devtools.sim_sms import DEV_SMS_TEMPLATES, template_variables
from models.enums import RequestChannel
from runtime.container import request_env
from services import on_behalf, texts
from tests.support.factories import make_beneficiary, make_town

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13912345670"


@pytest.fixture
def sms_standin():
    """The SMS stand-in as `make run` starts it: the demo's sign name and templates, strictly."""
    server = FakeSmsServer(access_key_id="sim-key", access_key_secret="sim-secret",
                           sign_names=(devstack.DEV_SMS_SIGN,),
                           templates={code: template_variables(kind) for kind, code in DEV_SMS_TEMPLATES.items()})
    yield server.start()
    server.stop()


@pytest.fixture
def sms_settings(settings, sms_standin):
    """The test settings with SMS going to the stand-in, as `make run` sets them."""
    return settings.with_overrides(
        sms_provider="aliyun", sms_endpoint=sms_standin.url, sms_access_key_id="sim-key",
        sms_access_key_secret="sim-secret", sms_sign_name=devstack.DEV_SMS_SIGN,
        sms_templates=tuple(DEV_SMS_TEMPLATES.items()), wechat_reply_mode="queued",
    )


def feed(client, openid: str) -> list[dict]:
    """Everything the simulator shows one persona, from the start."""
    items = client.get("/dev/simulator/api/inbox?after=-1&sms_after=-1").get_json()["items"]
    return [item for item in items if item["openid"] == openid]


def test_an_sms_to_a_persona_s_phone_shows_in_its_feed_between_its_wechat_messages(
        sms_settings, db, redis_client, session, clock, sms_standin, fake_wechat):
    """The elder has a phone and nobody bound on WeChat: the "received" SMS the assistant's 代办 sends
    to it shows in the elder's persona, as the phone shows it, after the WeChat reply before it and
    before the one after it; no other persona sees it."""
    town = make_town(session, clock())
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, phone=PHONE)
    session.commit()
    client = create_dev_app(sms_settings, clock=clock, engine=db, redis=redis_client).test_client()
    personas = [p["openid"] for p in client.get("/dev/simulator/api/state").get_json()["personas"]]
    openid = f"sim-family-{elder.id}"
    assert openid in personas and f"sim-staff-{town.assistant.id}" in personas

    # A WeChat message first (the persona is not bound, so the elder stays reachable only by phone).
    assert client.post("/dev/simulator/api/send", json={"openid": openid, "kind": "text", "text": "你好"}).status_code == 200
    client.get("/dev/simulator/api/inbox")
    request = on_behalf.log_on_behalf(session, request_env(sms_settings), town.assistant, beneficiary_id=elder.id,
                                      channel=RequestChannel.PHONE, content="家里水管漏水", now=clock())
    session.commit()
    polled = client.get("/dev/simulator/api/inbox?after=-1&sms_after=-1").get_json()
    assert polled["sms_last"] == 0
    client.post("/dev/simulator/api/send", json={"openid": openid, "kind": "text", "text": "谢谢"})
    client.get("/dev/simulator/api/inbox")

    shown = feed(client, openid)
    assert [item["kind"] for item in shown] == ["text", "sms", "text"]
    sms = shown[1]
    assert sms["text"] == (f"【三直达】您的求助已登记，编号{request.id}，由{town.assistant.name}为您办理，"
                           f"电话{town.assistant.phone}。")
    [call] = sms_standin.state.calls
    assert (call["code"], call["phones"]) == ("OK", [PHONE])
    everyone = client.get("/dev/simulator/api/inbox?after=-1&sms_after=-1").get_json()["items"]
    assert [item["openid"] for item in everyone if item["kind"] == "sms"] == [openid]
    # A poll after the last SMS shown brings it no more.
    again = client.get(f"/dev/simulator/api/inbox?sms_after={polled['sms_last']}").get_json()["items"]
    assert [item for item in again if item["kind"] == "sms"] == []


def test_make_run_points_sms_at_its_stand_in_with_the_demo_templates():
    """`dev run` gives every process SMS settings that load, at the stand-in it starts with the same
    templates registered with their variables; SMS_PORT reaches `dev run`."""
    env = devstack.sms_env(8917)
    settings = load_settings(env, read_dotenv=False)
    assert (settings.sms_provider, settings.sms_endpoint) == ("aliyun", "http://127.0.0.1:8917/")
    assert dict(settings.sms_templates) == DEV_SMS_TEMPLATES
    args = devstack.fake_sms_args(8917)
    assert args[:5] == ["fake-sms", "--host", "127.0.0.1", "--port", "8917"]
    registered = [args[i + 1] for i, arg in enumerate(args) if arg == "--template"]
    assert f"{DEV_SMS_TEMPLATES['received']}:number,name,phone" in registered
    assert len(registered) == len(DEV_SMS_TEMPLATES)
    planned = subprocess.run(["make", "-n", "run", "SMS_PORT=8912"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert "--sms-port 8912" in planned


def test_make_run_registers_every_kind_of_text_message():
    """Every wording in services/texts.py SMS_TEMPLATES has a demo code, each its own, so every text
    message the product can send shows in the simulator."""
    assert set(DEV_SMS_TEMPLATES) == set(texts.SMS_TEMPLATES)
    assert len(set(DEV_SMS_TEMPLATES.values())) == len(DEV_SMS_TEMPLATES)
