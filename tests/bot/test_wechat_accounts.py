"""Several official accounts in one deployment: each has its webhook `/wechat/<slug>`, verified with its
own token and decrypted with its own key, and everything its followers get goes out through it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests as http
from sqlalchemy import select, text

from models import FamilyLink, InboundMessage, WeChatAccount, WeChatUser
from runtime.dispatch import dispatch_outbox
from services.pii import PiiCipher
from services.wechat_accounts import add_account
from tests.bot.test_mobile_cases import wechat_redirect
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user
from tests.support.wechat import WeChatSender, reply_content
from workers.inbox import InboxWorker

# Two accounts of one deployment: every credential differs.
ACCOUNTS = {
    "a": {"app_id": "wx-city-a", "token": "tokenA123", "aes_key": "A" * 42 + "Q", "app_secret": "secret-of-a"},
    "b": {"app_id": "wx-city-b", "token": "tokenB456", "aes_key": "b" * 42 + "Q", "app_secret": "secret-of-b",
          "template_task": "b-task-template"},
}


@pytest.fixture
def town(session, clock):
    """A town with bound staff (they follow the default account)."""
    return make_town(session, clock())


@pytest.fixture
def accounts(session, settings, clock, town, fake_wechat) -> dict[str, WeChatAccount]:
    """Accounts `a` and `b` for the town's city, known to the WeChat stand-in too."""
    added = {}
    for slug, fields in ACCOUNTS.items():
        added[slug] = add_account(session, PiiCipher(settings.pii_key), slug=slug, city_code=town.city.code,
                                  now=clock(), **fields)
        http.post(f"{fake_wechat.root_url}/_accounts", json={"app_id": fields["app_id"],
                                                             "app_secret": fields["app_secret"]}, timeout=5)
    session.commit()
    return added


def sender_for(slug: str, clock, fake_wechat) -> WeChatSender:
    """WeChat's side of account `slug`: its token, AppID and AES key, posting to its webhook."""
    fields = ACCOUNTS[slug]
    return WeChatSender(token=fields["token"], app_id=fields["app_id"], aes_key=fields["aes_key"], clock=clock,
                        standin=fake_wechat.root_url, path=f"/wechat/{slug}")


def calls(fake_wechat, path: str, openid: str) -> list[dict]:
    """What the stand-in recorded for calls on `path` to `openid`."""
    return [c for c in http.get(f"{fake_wechat.root_url}/_calls", timeout=5).json()
            if c["path"] == path and isinstance(c["body"], dict) and c["body"].get("touser") == openid]


def bind_family(session, town, clock, openid: str, account: WeChatAccount | None):
    """A beneficiary of the town's assistant with a son who follows `account`."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    son = make_wechat_user(session, openid, clock(), account_id=account.id if account else None)
    session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=son.id, relation="子女", active=True,
                           created_at=clock()))
    session.commit()
    return person


def test_each_webhook_is_verified_with_its_own_token(make_app, accounts, clock, fake_wechat):
    client = make_app().test_client()
    a, b = sender_for("a", clock, fake_wechat), sender_for("b", clock, fake_wechat)
    ts, nonce = str(int(clock().timestamp())), "n-verify"
    for sender, slug in ((a, "a"), (b, "b")):
        query = urlencode({"signature": sender.signature(ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "e1"})
        assert client.get(f"/wechat/{slug}?{query}").data == b"e1"
    signed_by_a = urlencode({"signature": a.signature(ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "e"})
    assert client.get(f"/wechat/b?{signed_by_a}").status_code == 403
    # The default account's webhook keeps its own token.
    assert client.get(f"/wechat?{signed_by_a}").status_code == 403


def test_a_message_signed_with_one_accounts_token_is_refused_at_the_other(make_app, accounts, session, clock,
                                                                          fake_wechat):
    client = make_app().test_client()
    a_at_b = sender_for("a", clock, fake_wechat)
    a_at_b.path = "/wechat/b"
    response, _ = a_at_b.post(client, a_at_b.text("o-a-1", "你好"), mode="aes")
    assert response.status_code == 403
    assert session.scalar(select(InboundMessage.id)) is None


def test_an_unknown_account_is_a_404_that_says_so(make_app, accounts, clock, fake_wechat):
    client = make_app().test_client()
    nowhere = sender_for("a", clock, fake_wechat)
    for path in ("/wechat/nowhere", "/wechat/Not_A_Slug"):
        nowhere.path = path
        response, _ = nowhere.post(client, nowhere.text("o-a-1", "你好"), mode="aes")
        assert response.status_code == 404
        assert "没有这个公众号" in response.get_json()["message"]
        assert client.get(f"{path}?signature=x&timestamp=1&nonce=n&echostr=e").status_code == 404


def test_queued_replies_go_out_through_the_account_each_message_came_through(make_app, accounts, session, town,
                                                                             clock, fake_wechat):
    app = make_app(wechat_reply_mode="queued")
    client, worker = app.test_client(), InboxWorker(app.extensions["sanzhida"])
    for slug in ("a", "b"):
        sender = sender_for(slug, clock, fake_wechat)
        response, _ = sender.post(client, sender.text(f"o-{slug}-1", "帮助"), mode="aes")
        assert response.status_code == 200 and response.data == b"success"
    stored = {row.openid: row.account_id for row in session.scalars(select(InboundMessage))}
    assert stored == {"o-a-1": accounts["a"].id, "o-b-1": accounts["b"].id}

    assert worker.drain() == 2
    for slug in ("a", "b"):
        sent = calls(fake_wechat, "message/custom/send", f"o-{slug}-1")
        assert [(c["outcome"], c["app_id"]) for c in sent] == [("delivered", ACCOUNTS[slug]["app_id"])]
    fresh(session)
    followers = dict(session.execute(select(WeChatUser.openid, WeChatUser.account_id)).all())
    assert followers["o-a-1"] == accounts["a"].id and followers["o-b-1"] == accounts["b"].id
    # One access token per account, each under a key of its own.
    svc = app.extensions["sanzhida"]
    for fields in ACCOUNTS.values():
        assert svc.redis.get(f"{svc.keys.token_storage_prefix()}:{fields['app_id']}_access_token")


def test_inline_replies_are_encrypted_with_the_accounts_own_key(make_app, accounts, session, clock, fake_wechat):
    client = make_app(wechat_reply_mode="inline").test_client()
    b = sender_for("b", clock, fake_wechat)
    response, params = b.post(client, b.text("o-b-2", "帮助"), mode="aes")
    assert response.status_code == 200
    assert reply_content(b.decrypt_reply(response, params))["Content"]
    assert session.scalars(select(InboundMessage)).one().account_id == accounts["b"].id


def test_the_default_account_at_wechat_works_as_before(make_app, accounts, session, sender, clock, fake_wechat):
    app = make_app(wechat_reply_mode="queued")
    client, worker = app.test_client(), InboxWorker(app.extensions["sanzhida"])
    response, _ = sender.post(client, sender.text("o-default-1", "帮助"))
    assert response.status_code == 200 and response.data == b"success"
    assert session.scalars(select(InboundMessage)).one().account_id is None
    assert worker.drain() == 1
    sent = calls(fake_wechat, "message/custom/send", "o-default-1")
    assert [(c["outcome"], c["app_id"]) for c in sent] == [("delivered", fake_wechat.state.app_id)]


def task_pushed_through_b(make_app, accounts, session, town, clock, fake_wechat):
    """The assistant follows account b (the stand-in knows the openid as b's); a family member of b
    asks for help, the worker handles it and the task push goes out. The app."""
    app = make_app(wechat_reply_mode="queued")
    client, worker = app.test_client(), InboxWorker(app.extensions["sanzhida"])
    session.get(WeChatUser, town.assistant.wechat_user_id).account_id = accounts["b"].id
    session.commit()
    http.post(f"{fake_wechat.root_url}/_interactions", timeout=5, json={
        "openid": "o-assistant", "msg_type": "event", "event": "subscribe", "app_id": ACCOUNTS["b"]["app_id"]})
    bind_family(session, town, clock, "o-son-b", accounts["b"])
    b = sender_for("b", clock, fake_wechat)
    b.post(client, b.text("o-son-b", "家里没米了，能帮忙买点吗"), mode="aes")
    assert worker.drain() == 1
    svc = app.extensions["sanzhida"]
    dispatch_outbox(svc.session_factory, svc.wechat, svc.clock)
    return app


def test_a_push_to_staff_who_follow_b_goes_through_b(make_app, accounts, session, town, clock, fake_wechat):
    task_pushed_through_b(make_app, accounts, session, town, clock, fake_wechat)

    pushes = [c for path in ("message/template/send", "message/custom/send", "message/subscribe/bizsend")
              for c in calls(fake_wechat, path, "o-assistant")]
    assert pushes and {(c["outcome"], c["app_id"]) for c in pushes} == {("delivered", ACCOUNTS["b"]["app_id"])}
    # Template ids are per account: b's own id of the task template.
    templates = {c["body"]["template_id"] for c in pushes if "template_id" in c["body"]}
    assert templates == {"b-task-template"}


def test_the_pushs_link_signs_the_assistant_in_through_b(make_app, accounts, session, town, clock, fake_wechat):
    """The task push sent through b links to the case page with `account=b`; opened, the page signs the
    assistant in through b's web authorisation, where their openid is the one we know. The same page
    signed in through the default account meets another openid for them there, and is refused."""
    app = task_pushed_through_b(make_app, accounts, session, town, clock, fake_wechat)
    client, svc = app.test_client(), app.extensions["sanzhida"]
    (link,) = [c["body"]["url"] for c in calls(fake_wechat, "message/template/send", "o-assistant")]
    assert link.startswith(f"{svc.settings.public_base_url}/m/cases/") and link.endswith("?account=b")

    page = link.removeprefix(svc.settings.public_base_url)
    first = client.get(page)
    assert first.status_code == 302
    authorise = parse_qs(urlsplit(first.headers["Location"]).query)
    assert authorise["appid"] == [ACCOUNTS["b"]["app_id"]]
    assert authorise["redirect_uri"][0].endswith("/m/oauth?account=b")
    base = svc.settings.public_base_url
    back = client.get(wechat_redirect(first.headers["Location"], "o-assistant").removeprefix(base))
    assert back.status_code == 302
    assert client.get(back.headers["Location"]).status_code == 200

    # Without the account the page goes through the default one: another openid there, no staff.
    stranger = app.test_client()
    default = stranger.get(page.split("?")[0])
    assert parse_qs(urlsplit(default.headers["Location"]).query)["appid"] == [svc.settings.wechat_app_id]
    refused = stranger.get(wechat_redirect(default.headers["Location"], "o-assistant").removeprefix(base))
    assert refused.status_code == 403
    # A link naming an account this deployment does not have is a kind refusal, not a sign-in elsewhere.
    assert stranger.get(page.split("?")[0] + "?account=zz").status_code == 404


def test_a_push_through_the_wrong_account_is_refused_by_the_standin(accounts, fake_wechat):
    """The stand-in is as strict as WeChat: an openid of account a is invalid with b's token."""
    http.post(f"{fake_wechat.root_url}/_interactions", timeout=5,
              json={"openid": "o-a-9", "app_id": ACCOUNTS["a"]["app_id"]})
    token = http.get(f"{fake_wechat.base_url}token", timeout=5, params={
        "grant_type": "client_credential", "appid": ACCOUNTS["b"]["app_id"],
        "secret": ACCOUNTS["b"]["app_secret"]}).json()["access_token"]
    answer = http.post(f"{fake_wechat.base_url}message/custom/send", params={"access_token": token}, timeout=5,
                       json={"touser": "o-a-9", "msgtype": "text", "text": {"content": "你好"}}).json()
    assert answer["errcode"] == 40003


def test_credentials_are_not_readable_in_the_database(accounts, session, settings):
    rows = session.execute(text("SELECT token_encrypted, aes_key_encrypted, app_secret_encrypted, app_id "
                                "FROM wechat_accounts")).all()
    stored = " ".join(" ".join(row) for row in rows)
    for fields in ACCOUNTS.values():
        for secret in ("token", "aes_key", "app_secret"):
            assert fields[secret] not in stored
        assert fields["app_id"] in stored
    pii = PiiCipher(settings.pii_key)
    assert pii.decrypt_credential(accounts["a"].app_secret_encrypted) == ACCOUNTS["a"]["app_secret"]


def test_care_cards_carry_a_qr_code_of_the_citys_account(make_app, accounts, session, town, clock, fake_wechat):
    """Scanning the card makes the family member follow the account of the beneficiary's city."""
    from models import Staff
    from services import accounts as sign_ins
    from tests.bot.office.test_pages import PASSWORD, sign_in

    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    sign_ins.set_password(session.get(Staff, town.supervisor.id), PASSWORD, clock())
    session.commit()
    client = make_app().test_client()
    sign_in(client, town.supervisor.staff_no)
    assert client.get(f"/office/beneficiaries/{person.id}/card").status_code == 200
    created = [c for c in http.get(f"{fake_wechat.root_url}/_calls", timeout=5).json() if c["path"] == "qrcode/create"]
    # Account a was added first for the town's city.
    assert [(c["outcome"], c["app_id"]) for c in created] == [("delivered", ACCOUNTS["a"]["app_id"])]


def test_a_photo_sent_to_b_is_fetched_and_sent_on_through_b(make_app, accounts, session, town, clock, fake_wechat):
    """A media_id is its account's: fetched with b's token, uploaded again and sent to b's assistant through b."""
    from runtime.media_jobs import fetch_due
    from tests.runtime.test_media_flow import _tiny_png

    app = make_app()
    svc = app.extensions["sanzhida"]
    http.post(f"{fake_wechat.root_url}/_interactions", timeout=5,
              json={"openid": "o-assistant", "msg_type": "text", "app_id": ACCOUNTS["b"]["app_id"]})
    assistant = session.get(WeChatUser, town.assistant.wechat_user_id)
    assistant.account_id, assistant.last_message_at = accounts["b"].id, clock()
    bind_family(session, town, clock, "o-son-b", accounts["b"])
    media_id = http.post(f"{fake_wechat.root_url}/_media", files={"media": ("p.png", _tiny_png())}, timeout=5,
                         data={"type": "image", "app_id": ACCOUNTS["b"]["app_id"]}).json()["media_id"]
    b = sender_for("b", clock, fake_wechat)
    inner = f"<PicUrl><![CDATA[http://mmbiz/{media_id}]]></PicUrl><MediaId><![CDATA[{media_id}]]></MediaId>"
    assert b.post(app.test_client(), b.raw("o-son-b", "image", inner), mode="aes")[0].status_code == 200

    fetch_due(svc.media_env)
    dispatch_outbox(svc.session_factory, svc.wechat, svc.clock, store=svc.media_store)
    recorded = http.get(f"{fake_wechat.root_url}/_calls", timeout=5).json()
    fetched = [(c["outcome"], c["app_id"]) for c in recorded if c["path"] == "media/get"]
    assert fetched == [("delivered", ACCOUNTS["b"]["app_id"])]
    images = [(c["outcome"], c["app_id"]) for c in calls(fake_wechat, "message/custom/send", "o-assistant")
              if c["body"].get("msgtype") == "image"]
    assert images == [("delivered", ACCOUNTS["b"]["app_id"])]
