"""The phone case page /m/cases/<n>: staff sign in through WeChat web authorisation (the stand-in
plays WeChat), see one case within their scope with its voice, photo and place, act on it as the
chat commands do, and fetch its files only while signed in and in scope; all of it audited."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from models import AuditEntry, MediaItem, RequestEvent, Staff
from models.enums import RegionLevel, RequestCategory, StaffRole, Urgency
from services import requests as service
from services import texts
from services.policy.classify import Classification
from tests.support.case_media import PLACE, WORDS, make_case_with_media
from tests.support.factories import fresh, make_beneficiary, make_region, make_staff, make_town, make_wechat_user

CALLBACK = "http://127.0.0.1:5000/m/oauth"


@pytest.fixture
def world(session, clock, app):
    """The factory's town with a case (voice, photo, place) for the first assistant, and a second town."""
    town = make_town(session, clock())
    svc = app.extensions["sanzhida"]
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="张秀英")
    town.case = make_case_with_media(session, svc.request_env, svc.media_store, person, clock())
    far_town = make_region(session, RegionLevel.TOWN, town.city, clock(), name="青湖镇")
    far_village = make_region(session, RegionLevel.VILLAGE, far_town, clock(), name="北坡村")
    town.far_assistant = make_staff(session, StaffRole.ASSISTANT, far_village, clock(), openid="o-far-assistant")
    far_person = make_beneficiary(session, far_village, clock(), assistant=town.far_assistant, name="刘长顺")
    town.far_number = service.open_request(
        session, svc.request_env, beneficiary=far_person, summary="缺米", now=clock(),
        classification=Classification(RequestCategory.FOOD, Urgency.NORMAL)).id
    town.follower = make_wechat_user(session, "o-just-a-follower", clock())
    session.commit()
    town.number = town.case.request.id
    return town


def text_of(response) -> str:
    """The page's visible text, tags removed and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def wechat_redirect(authorize_url: str, openid: str) -> str:
    """What WeChat's authorise page does for a user signed in to WeChat: our callback with a code."""
    answer = requests.get(authorize_url, cookies={"fake_wechat_openid": openid}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def sign_in(client, openid: str, number: int):
    """Open the case page, go through WeChat's authorisation as `openid`, and come back; the final answer."""
    first = client.get(f"/m/cases/{number}")
    assert first.status_code == 302
    callback = wechat_redirect(first.headers["Location"], openid)
    assert callback.startswith(CALLBACK + "?")
    back = client.get(callback.removeprefix("http://127.0.0.1:5000"))
    if back.status_code != 302:
        return back
    return client.get(back.headers["Location"])


def csrf(client, number: int) -> str:
    """The form token the case page carries."""
    page = client.get(f"/m/cases/{number}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def audits(session, action: str) -> list[AuditEntry]:
    """Audit entries of one action, oldest first."""
    fresh(session)
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_without_a_sign_in_the_page_goes_to_wechat(client, app, world, fake_wechat, clock):
    """302 to WeChat's authorise page for our app, scope snsapi_base, back to /m/oauth, the page in a signed state."""
    response = client.get(f"/m/cases/{world.number}")
    assert response.status_code == 302
    url = urlsplit(response.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == fake_wechat.oauth_url
    assert url.fragment == "wechat_redirect"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["appid"] == "wx-test-app"
    assert query["redirect_uri"] == CALLBACK
    assert query["response_type"] == "code" and query["scope"] == "snsapi_base"
    assert re.fullmatch(r"[0-9a-zA-Z]{1,128}", query["state"])
    assert app.extensions["sanzhida"].web_auth.next_path(query["state"], clock()) == f"/m/cases/{world.number}"


def test_the_assistant_signs_in_through_wechat_and_sees_the_case(client, world, session):
    """Number, 紧急, person, village, assignee, the words, a player, the photo and a map link; private headers."""
    response = sign_in(client, "o-assistant", world.number)
    assert response.status_code == 200
    text = text_of(response)
    assert f"{world.number}号" in text and "紧急" in text and "张秀英" in text and "东湾村" in text
    assert "王芳" in text and WORDS in text and "东湾村村口" in text
    html = response.get_data(as_text=True)
    voice, photo = world.case.voice.id, world.case.photo.id
    assert f'<audio controls preload="metadata" src="/m/media/{voice}?playable=1">' in html
    assert f'<img src="/m/media/{photo}"' in html
    assert f"https://uri.amap.com/marker?position={PLACE[1]:.6f},{PLACE[0]:.6f}" in html
    assert 'class="tag red" id="urgency">紧急' in html
    policy = response.headers["Content-Security-Policy"]
    for rule in ("form-action 'self'", "media-src 'self'", "img-src 'self'", "default-src 'none'"):
        assert rule in policy
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    signed = audits(session, "mobile.sign_in")
    assert [a.actor_staff_id for a in signed] == [world.assistant.id]


def test_a_used_or_forged_code_and_a_changed_state_are_refused(client, app, world):
    """A code WeChat already redeemed, a made-up code, or an altered state: a kind page, no sign-in."""
    first = client.get(f"/m/cases/{world.number}")
    callback = wechat_redirect(first.headers["Location"], "o-assistant").removeprefix("http://127.0.0.1:5000")
    state = parse_qs(urlsplit(callback).query)["state"][0]
    stranger = app.test_client()
    made_up = stranger.get(f"/m/oauth?code=not-a-code&state={state}")
    assert made_up.status_code == 400 and "没有登录成功" in text_of(made_up)
    changed = stranger.get(f"/m/oauth?code=x&state={state[:-1]}{'1' if state[-1] == '0' else '0'}")
    assert changed.status_code == 400 and "链接已失效" in text_of(changed)
    assert client.get(callback).status_code == 302
    # The code is spent: someone else's browser replaying the address is not signed in by it.
    replayed = stranger.get(callback)
    assert replayed.status_code == 400
    assert stranger.get(f"/m/cases/{world.number}").status_code == 302
    # The browser that used it is already signed in: going back to the address just goes on.
    again = client.get(callback)
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/m/cases/{world.number}")


def test_an_openid_that_is_no_staff_gets_a_kind_refusal(client, world):
    """A follower who is not staff: 403 and a page saying how staff bind; still not signed in."""
    response = sign_in(client, "o-just-a-follower", world.number)
    assert response.status_code == 403
    assert "只给工作人员使用" in text_of(response) and "绑定 邀请码" in text_of(response)
    assert client.get(f"/m/cases/{world.number}").status_code == 302


def test_an_inactive_member_of_staff_is_signed_out(client, world, session):
    """Deactivated after signing in: the next page goes back to WeChat, which then refuses them."""
    assert sign_in(client, "o-assistant", world.number).status_code == 200
    session.get(Staff, world.assistant.id).active = False
    session.commit()
    assert client.get(f"/m/cases/{world.number}").status_code == 302


def test_another_towns_assistant_sees_neither_the_case_nor_its_files(client, world):
    """404 for the page and for both files: not even whether the case exists."""
    response = sign_in(client, "o-far-assistant", world.number)
    assert response.status_code == 404
    assert "张秀英" not in text_of(response) and "没有这件求助" in text_of(response)
    for path in (f"/m/media/{world.case.voice.id}?playable=1", f"/m/media/{world.case.photo.id}"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.mimetype == "text/plain"


def test_files_need_a_sign_in(client, world):
    """Signed out: 401, never the bytes and never a redirect an audio element would follow."""
    for path in (f"/m/media/{world.case.voice.id}?playable=1", f"/m/media/{world.case.photo.id}"):
        answer = client.get(path)
        assert answer.status_code == 401
        assert b"ID3" not in answer.data and b"PNG" not in answer.data


def test_the_voice_plays_seeks_and_the_photo_shows(client, world, app):
    """MP3 and PNG as stored, private and inline; a Range request answers 206 with just those bytes."""
    sign_in(client, "o-assistant", world.number)
    store = app.extensions["sanzhida"].media_store
    voice, photo = world.case.voice, world.case.photo
    mp3 = client.get(f"/m/media/{voice.id}?playable=1")
    assert mp3.status_code == 200 and mp3.mimetype == "audio/mpeg"
    assert mp3.data == store.get(voice.playable_key)
    assert mp3.headers["Cache-Control"] == "private, no-store"
    assert mp3.headers["X-Content-Type-Options"] == "nosniff"
    assert mp3.headers["Content-Disposition"] == "inline"
    assert mp3.headers["Accept-Ranges"] == "bytes"
    part = client.get(f"/m/media/{voice.id}?playable=1", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(mp3.data)}"
    assert part.data == mp3.data[100:200]
    original = client.get(f"/m/media/{voice.id}")
    assert original.mimetype == "audio/amr" and original.data.startswith(b"#!AMR")
    picture = client.get(f"/m/media/{photo.id}")
    assert picture.mimetype == "image/png" and picture.data == store.get(photo.store_key)


def test_a_file_not_yet_fetched_is_404_and_a_deleted_one_410(client, world, session):
    """Said in a short Chinese sentence, as plain text."""
    sign_in(client, "o-assistant", world.number)
    session.get(MediaItem, world.case.voice.id).status = "fetching"
    session.get(MediaItem, world.case.photo.id).status = "deleted"
    session.commit()
    waiting = client.get(f"/m/media/{world.case.voice.id}?playable=1")
    assert waiting.status_code == 404 and "还在从微信取回" in waiting.get_data(as_text=True)
    gone = client.get(f"/m/media/{world.case.photo.id}")
    assert gone.status_code == 410 and "删除" in gone.get_data(as_text=True)
    assert "语音正在取回" in text_of(client.get(f"/m/cases/{world.number}"))


def test_every_view_and_file_is_audited_without_contents(client, world, session, caplog):
    """One entry per page view and per file fetch, naming the case or file; no words in entries or logs."""
    with caplog.at_level(logging.DEBUG):
        sign_in(client, "o-assistant", world.number)
        client.get(f"/m/cases/{world.number}")
        client.get(f"/m/media/{world.case.voice.id}?playable=1")
        # The player continuing or seeking in the same file is not another opening.
        client.get(f"/m/media/{world.case.voice.id}?playable=1", headers={"Range": "bytes=4096-"})
        client.get(f"/m/media/{world.case.photo.id}")
    views = audits(session, "mobile.case")
    assert [(a.actor_staff_id, a.target_type, a.target_id) for a in views] == [
        (world.assistant.id, "service_request", world.number)] * 2
    files = audits(session, "mobile.media")
    assert [(a.target_type, a.target_id, a.detail["playable"]) for a in files] == [
        ("media_item", world.case.voice.id, True), ("media_item", world.case.photo.id, False)]
    assert all(a.ip for a in views + files)
    for entry in views + files:
        assert WORDS not in str(entry.detail)
    assert WORDS not in caplog.text and "o-assistant" not in caplog.text


def test_accept_reply_and_resolve_from_the_page_land_on_the_timeline(client, world, session):
    """The same casework as 接单 / 回复 / 完成: events by the assistant, shown with their time and name."""
    sign_in(client, "o-assistant", world.number)
    accepted = client.post(f"/m/cases/{world.number}/accept", data={"csrf_token": csrf(client, world.number)},
                           follow_redirects=True)
    assert accepted.status_code == 200
    assert f"已接单：{world.number}号" in text_of(accepted)
    assert re.search(r"\d+月\d+日 \d\d:\d\d · 王芳 接单", text_of(accepted))
    assert "办理中" in text_of(accepted)
    replied = client.post(f"/m/cases/{world.number}/reply", follow_redirects=True,
                          data={"text": "马上到", "csrf_token": csrf(client, world.number)})
    assert texts.REPLY_SENT.format(number=world.number) in text_of(replied) and re.search("回复 ?：马上到", text_of(replied))
    resolved = client.post(f"/m/cases/{world.number}/resolve", follow_redirects=True,
                           data={"text": "已扶起并送医", "csrf_token": csrf(client, world.number)})
    assert re.search("办好 ?：已扶起并送医", text_of(resolved)) and "已办好" in text_of(resolved)
    assert 'id="accept"' not in resolved.get_data(as_text=True)
    fresh(session)
    kinds = session.scalars(select(RequestEvent.kind).where(RequestEvent.request_id == world.number,
                                                            RequestEvent.actor_staff_id == world.assistant.id)).all()
    assert kinds == ["acknowledged", "reply", "resolved"]
    assert [a.action for a in audits(session, "mobile.case.accept")] == ["mobile.case.accept"]


def test_an_empty_reply_shows_the_chat_commands_message(client, world):
    """A DomainError's Chinese message on the page; nothing recorded."""
    sign_in(client, "o-assistant", world.number)
    response = client.post(f"/m/cases/{world.number}/reply", follow_redirects=True,
                           data={"text": " ", "csrf_token": csrf(client, world.number)})
    assert texts.REPLY_EMPTY in text_of(response)


def test_a_town_officer_reassigns_and_an_assistant_may_not(client, app, world, session):
    """转派 with the same permission check as the chat: the officer may, the assistant is told no."""
    sign_in(client, "o-assistant", world.number)
    assert 'id="reassign"' not in client.get(f"/m/cases/{world.number}").get_data(as_text=True)
    refused = client.post(f"/m/cases/{world.number}/reassign", follow_redirects=True,
                          data={"staff_no": world.other_assistant.staff_no, "csrf_token": csrf(client, world.number)})
    assert texts.NOT_ALLOWED.format(number=world.number) in text_of(refused)
    officer = app.test_client()
    assert sign_in(officer, "o-officer", world.number).status_code == 200
    moved = officer.post(f"/m/cases/{world.number}/reassign", follow_redirects=True,
                         data={"staff_no": world.other_assistant.staff_no, "csrf_token": csrf(officer, world.number)})
    assert "已转派" in text_of(moved) and "赵敏 转派" in text_of(moved)
    assert "李强" in moved.get_data(as_text=True)  # the new assignee
    # The first assistant no longer has the case, but it is still their beneficiary's: they can read it.
    assert client.get(f"/m/cases/{world.number}").status_code == 200


def test_a_form_without_its_token_is_refused(client, world, session):
    """400 and a kind page; the case is untouched."""
    sign_in(client, "o-assistant", world.number)
    response = client.post(f"/m/cases/{world.number}/accept")
    assert response.status_code == 400 and "页面已过期" in text_of(response)
    fresh(session)
    assert not session.scalars(select(RequestEvent).where(RequestEvent.kind == "acknowledged")).all()


def test_actions_need_a_sign_in_and_the_case_in_scope(client, app, world, session):
    """Signed out (with a valid form token): 401; another town's assistant: 404; the case untouched."""
    sign_in(client, "o-assistant", world.number)
    token = csrf(client, world.number)
    with client.session_transaction() as cookie:
        cookie.pop("mobile_sign_in")
    assert client.post(f"/m/cases/{world.number}/accept", data={"csrf_token": token}).status_code == 401
    far = app.test_client()
    sign_in(far, "o-far-assistant", world.far_number)
    refused = far.post(f"/m/cases/{world.number}/accept", data={"csrf_token": csrf(far, world.far_number)})
    assert refused.status_code == 404
    fresh(session)
    assert not session.scalars(select(RequestEvent).where(RequestEvent.request_id == world.number,
                                                          RequestEvent.kind == "acknowledged")).all()


def test_ids_that_cannot_exist_are_a_kind_404(client, world):
    """A case or file number past int4 (PostgreSQL's integer): 404 with the phone's own page, never a 500."""
    sign_in(client, "o-assistant", world.number)
    for path in ("/m/cases/2147483648", "/m/media/2147483648", "/m/cases/0"):
        response = client.get(path)
        assert response.status_code == 404 and "没有找到" in text_of(response)


def test_the_header_shows_the_plan_and_the_last_check_in(client, world, session, app, clock):
    """报平安计划 and the last check-in in local time; a 联系 case raised by a silence says why."""
    from datetime import timedelta

    from models import Beneficiary
    from models.enums import RequestChannel, RequestSource

    person = session.get(Beneficiary, world.case.request.beneficiary_id)
    person.checkin_plan, person.checkin_plan_by_staff = "daily", True
    person.last_checkin_at = clock() - timedelta(days=3)
    env = app.extensions["sanzhida"].request_env
    silent = service.open_request(
        session, env, beneficiary=person, classification=Classification(RequestCategory.CHECK_ON, Urgency.NORMAL),
        summary="张秀英今天没有报平安", now=clock(), source=RequestSource.SILENCE, channel=RequestChannel.OTHER,
        data={"plan": "daily", "period_start": clock().astimezone(env.tz).date().isoformat()})
    session.commit()
    text = text_of(sign_in(client, "o-assistant", world.number))
    assert "报平安计划：每天 · 最近报平安：3天前" in text
    assert "没有报平安，请打电话" not in text, "only a silence's case says why"
    why = text_of(client.get(f"/m/cases/{silent.id}"))
    assert "报平安计划：每天 · 最近报平安：3天前" in why and "今天没有报平安，请打电话或上门看看。" in why
