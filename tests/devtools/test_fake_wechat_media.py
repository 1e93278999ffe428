"""The WeChat stand-in's temporary media, clock and web authorisation answer as WeChat documents them."""

from __future__ import annotations

import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from config.settings import DEV_DEFAULTS
from devtools.fake_wechat import FakeWeChatServer, FakeWeChatState
from devtools.fake_wechat_media import MEDIA_LIFETIME_SECONDS, sniff

AMR = b"#!AMR\n" + b"\x3c" * 400
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 400
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 400
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 400
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free" + b"\x00" * 400


def base(server) -> str:
    """The stand-in's root address."""
    return f"http://{server.host}:{server.port}"


def token(server) -> str:
    """A fresh access token."""
    return requests.get(f"{base(server)}/cgi-bin/token", timeout=5, params={
        "grant_type": "client_credential", "appid": server.state.app_id, "secret": server.state.app_secret,
    }).json()["access_token"]


def receive(server, data: bytes, **form) -> dict:
    """A file "sent by a follower", as a test puts it in an incoming message."""
    answer = requests.post(f"{base(server)}/_media", files={"media": ("f", data)}, data=form, timeout=5)
    assert answer.status_code == 201, answer.text
    return answer.json()


def media_get(server, media_id: str, access_token: str | None = None) -> requests.Response:
    """WeChat's 获取临时素材."""
    return requests.get(f"{base(server)}/cgi-bin/media/get", timeout=5,
                        params={"access_token": access_token or token(server), "media_id": media_id})


def wrote(server, openid: str = "o-1") -> None:
    """The user wrote to the account just now, which lets customer-service messages go to them."""
    requests.post(f"{base(server)}/_interactions", json={"openid": openid}, timeout=5).raise_for_status()


def advance(server, seconds: float) -> int:
    """Move the stand-in's clock forward."""
    return requests.post(f"{base(server)}/_clock", json={"advance_seconds": seconds}, timeout=5).json()["now"]


def outcomes(server, path: str) -> list[str]:
    """The recorded outcomes of calls to one path."""
    return [c["outcome"] for c in requests.get(f"{base(server)}/_calls", timeout=5).json() if c["path"] == path]


def test_a_received_voice_is_downloaded_as_wechat_serves_it(fake_wechat):
    """The bytes, their type and WeChat's attachment name; the call is recorded."""
    sent = receive(fake_wechat, AMR)
    assert sent["type"] == "voice" and len(sent["media_id"]) == 64 and isinstance(sent["created_at"], int)
    answer = media_get(fake_wechat, sent["media_id"])
    assert answer.status_code == 200 and answer.content == AMR
    assert answer.headers["Content-Type"] == "audio/amr"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{sent["media_id"]}.amr"'
    assert outcomes(fake_wechat, "media/get") == ["delivered"]


def test_raw_body_and_explicit_type_are_accepted(fake_wechat):
    """A raw body with its Content-Type; `type` given explicitly."""
    answer = requests.post(f"{base(fake_wechat)}/_media?type=shortvideo", data=MP4,
                           headers={"Content-Type": "video/mp4"}, timeout=5)
    assert answer.status_code == 201 and answer.json()["type"] == "shortvideo"
    listing = requests.get(f"{base(fake_wechat)}/_media", timeout=5).json()
    assert listing == [{"media_id": answer.json()["media_id"], "type": "shortvideo", "content_type": "video/mp4",
                        "size": len(MP4), "created_at": answer.json()["created_at"], "expired": False}]


def test_media_control_refuses_what_it_cannot_use(fake_wechat):
    """No bytes, or a type it cannot guess or does not know: 400 saying why."""
    assert requests.post(f"{base(fake_wechat)}/_media", timeout=5).status_code == 400
    assert requests.post(f"{base(fake_wechat)}/_media", data=b"plain words", timeout=5,
                         headers={"Content-Type": "text/plain"}).status_code == 400
    refused = requests.post(f"{base(fake_wechat)}/_media", files={"media": ("f", AMR)}, data={"type": "song"},
                            timeout=5)
    assert refused.status_code == 400 and "type" in refused.json()["error"]


def test_unknown_media_id_is_40007_with_http_200(fake_wechat):
    """As WeChat answers: JSON errcode, HTTP 200."""
    answer = media_get(fake_wechat, "no-such-media")
    assert answer.status_code == 200 and answer.json() == {"errcode": 40007, "errmsg": "invalid media_id"}
    assert outcomes(fake_wechat, "media/get") == ["errcode 40007"]


def test_media_expires_three_days_after_receipt_on_the_stand_in_clock(fake_wechat):
    """Just before three days it is served; at three days it is gone, and listed as expired."""
    before = requests.get(f"{base(fake_wechat)}/_clock", timeout=5).json()["now"]
    sent = receive(fake_wechat, JPEG)
    assert advance(fake_wechat, MEDIA_LIFETIME_SECONDS - 100) >= before + MEDIA_LIFETIME_SECONDS - 100
    assert media_get(fake_wechat, sent["media_id"]).content == JPEG
    advance(fake_wechat, 100)
    assert media_get(fake_wechat, sent["media_id"]).json()["errcode"] == 40007
    assert requests.get(f"{base(fake_wechat)}/_media", timeout=5).json()[0]["expired"] is True
    # The test control still shows what was there.
    assert requests.get(f"{base(fake_wechat)}/_media/{sent['media_id']}", timeout=5).content == JPEG


def test_clock_refuses_going_back(fake_wechat):
    """Only forward, by a number."""
    for body in ({"advance_seconds": -5}, {"advance_seconds": "1"}, {}):
        assert requests.post(f"{base(fake_wechat)}/_clock", json=body, timeout=5).status_code == 400


def test_video_answers_a_download_address(fake_wechat):
    """WeChat answers video with {"video_url"}; the address serves the bytes until expiry."""
    sent = receive(fake_wechat, MP4)
    assert sent["type"] == "video"
    url = media_get(fake_wechat, sent["media_id"]).json()["video_url"]
    assert requests.get(url, timeout=5).content == MP4
    advance(fake_wechat, MEDIA_LIFETIME_SECONDS)
    assert requests.get(url, timeout=5).status_code == 404


def test_media_get_checks_the_token_and_takes_faults(fake_wechat):
    """40001 for a bad token; a queued fault answers instead."""
    sent = receive(fake_wechat, AMR)
    assert media_get(fake_wechat, sent["media_id"], access_token="stale").json()["errcode"] == 40001
    requests.post(f"{base(fake_wechat)}/_faults", json={"path": "media/get", "http_status": 502}, timeout=5)
    assert media_get(fake_wechat, sent["media_id"]).status_code == 502
    assert outcomes(fake_wechat, "media/get") == ["errcode 40001", "http 502"]


def test_wechatpy_uploads_and_the_upload_expires(fake_wechat):
    """`client.media.upload` gets WeChat's answer; the media is then stored and sendable."""
    client = WeChatClient(fake_wechat.state.app_id, fake_wechat.state.app_secret, access_token=token(fake_wechat))
    client.API_BASE_URL = f"{base(fake_wechat)}/cgi-bin/"
    wrote(fake_wechat)
    answer = client.media.upload("voice", ("reply.mp3", MP3))
    assert answer["type"] == "voice" and isinstance(answer["created_at"], int)
    assert requests.get(f"{base(fake_wechat)}/_media/{answer['media_id']}", timeout=5).content == MP3
    message = {"touser": "o-1", "msgtype": "voice", "voice": {"media_id": answer["media_id"]}}
    assert client.post("message/custom/send", data=message)["errcode"] == 0
    advance(fake_wechat, MEDIA_LIFETIME_SECONDS)
    with pytest.raises(WeChatClientException) as refused:
        client.post("message/custom/send", data=message)
    assert refused.value.errcode == 40007
    assert outcomes(fake_wechat, "message/custom/send") == ["delivered", "errcode 40007"]


@pytest.mark.parametrize(
    "media_type, data, errcode",
    [
        ("music", AMR, 40004),
        (None, AMR, 40004),
        ("voice", b"", 41005),
        ("voice", JPEG, 40005),
        ("voice", b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 100, 40005),
        ("voice", b"#!AMR\n" + b"\x00" * (2 * 1024 * 1024), 40006),
        ("image", MP4, 40005),
        ("image", PNG + b"\x00" * (10 * 1024 * 1024), 40006),
        ("video", JPEG, 40005),
        ("thumb", PNG, 40005),
        ("thumb", JPEG + b"\x00" * (64 * 1024), 40006),
    ],
)
def test_uploads_breaking_wechat_rules_are_refused(fake_wechat, media_type, data, errcode):
    """Type, presence, format and size, with WeChat's codes; nothing is stored."""
    params = {"access_token": token(fake_wechat)} | ({"type": media_type} if media_type else {})
    answer = requests.post(f"{base(fake_wechat)}/cgi-bin/media/upload", params=params, timeout=10,
                           files={"media": ("f.bin", data)})
    assert answer.status_code == 200 and answer.json()["errcode"] == errcode
    assert requests.get(f"{base(fake_wechat)}/_media", timeout=5).json() == []


def test_upload_without_the_media_field_is_41005(fake_wechat):
    """A form without the `media` part."""
    answer = requests.post(f"{base(fake_wechat)}/cgi-bin/media/upload", timeout=5,
                           params={"access_token": token(fake_wechat), "type": "image"}, files={"file": ("a", JPEG)})
    assert answer.json() == {"errcode": 41005, "errmsg": "media data missing"}


@pytest.mark.parametrize("media_type, data", [("voice", AMR), ("image", PNG), ("video", MP4), ("thumb", JPEG)])
def test_uploads_within_the_rules_are_accepted(fake_wechat, media_type, data):
    """Each type's accepted format."""
    answer = requests.post(f"{base(fake_wechat)}/cgi-bin/media/upload", timeout=5, files={"media": ("f", data)},
                           params={"access_token": token(fake_wechat), "type": media_type}).json()
    assert answer["type"] == media_type and len(answer["media_id"]) == 64


def test_real_encoder_output_is_recognised():
    """What ffmpeg writes for WeChat's formats is sniffed as such."""
    def encode(*args: str) -> bytes:
        """ffmpeg's output for these arguments."""
        return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", *args, "pipe:1"], capture_output=True,
                              check=True, timeout=60).stdout

    tone = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
    assert sniff(encode(*tone, "-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb", "-f", "amr")) == "audio/amr"
    assert sniff(encode(*tone, "-c:a", "libmp3lame", "-f", "mp3")) == "audio/mpeg"
    assert sniff(encode("-f", "lavfi", "-i", "testsrc=size=64x64:duration=1", "-frames:v", "1", "-f", "mjpeg")) \
        == "image/jpeg"
    video = encode("-f", "lavfi", "-i", "testsrc=size=64x64:duration=1", "-c:v", "mpeg4", "-movflags",
                   "frag_keyframe+empty_moov", "-f", "mp4")
    assert sniff(video) == "video/mp4"


def test_custom_messages_with_unknown_media_are_refused_text_is_not(fake_wechat):
    """voice, image and video need a live media_id; text is unchanged."""
    wrote(fake_wechat)
    access = token(fake_wechat)
    url = f"{base(fake_wechat)}/cgi-bin/message/custom/send?access_token={access}"
    for msgtype in ("voice", "image", "video"):
        body = {"touser": "o-1", "msgtype": msgtype, msgtype: {"media_id": "gone"}}
        assert requests.post(url, json=body, timeout=5).json()["errcode"] == 40007
    text = {"touser": "o-1", "msgtype": "text", "text": {"content": "您好"}}
    assert requests.post(url, json=text, timeout=5).json()["errcode"] == 0


# Web authorisation (网页授权).


def authorize(server, session: requests.Session, **overrides) -> requests.Response:
    """Open the authorise page as WeChat's browser would (without following the redirect)."""
    params = {"appid": server.state.app_id, "redirect_uri": "http://127.0.0.1:5000/m/entry?x=1",
              "response_type": "code", "scope": "snsapi_base", "state": "s-42"} | overrides
    params = {k: v for k, v in params.items() if v is not None}
    return session.get(f"{base(server)}/connect/oauth2/authorize", params=params, allow_redirects=False, timeout=5)


def sign_in(server, openid: str = "o-user-1") -> requests.Session:
    """A browser signed in to the stand-in's WeChat."""
    session = requests.Session()
    answer = session.get(f"{base(server)}/_oauth/login", params={"openid": openid, "next": f"{base(server)}/_clock"},
                         timeout=5)
    assert answer.status_code == 200
    return session


def exchange(server, code: str, **overrides) -> dict:
    """Code for openid, as the service's back end asks."""
    params = {"appid": server.state.app_id, "secret": server.state.app_secret, "code": code,
              "grant_type": "authorization_code"} | overrides
    return requests.get(f"{base(server)}/sns/oauth2/access_token", params=params, timeout=5).json()


def code_from(answer: requests.Response) -> str:
    """The code in a redirect back to the service, checking the rest of the address."""
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    query = parse_qs(target.query)
    assert (target.path, query["x"], query["state"]) == ("/m/entry", ["1"], ["s-42"])
    return query["code"][0]


def test_snsapi_base_gives_the_signed_in_users_openid_once(fake_wechat):
    """authorise → redirect with code and state → access_token with openid; a second use is 40163."""
    code = code_from(authorize(fake_wechat, sign_in(fake_wechat)))
    answer = exchange(fake_wechat, code)
    assert answer["openid"] == "o-user-1" and answer["scope"] == "snsapi_base" and answer["expires_in"] == 7200
    assert answer["access_token"] and answer["refresh_token"]
    assert exchange(fake_wechat, code) == {"errcode": 40163, "errmsg": "code been used"}
    calls = [c for c in requests.get(f"{base(fake_wechat)}/_calls", timeout=5).json()
             if c["path"] == "sns/oauth2/access_token"]
    assert [c["outcome"] for c in calls] == ["delivered", "errcode 40163"]
    assert all("secret" not in c["params"] for c in calls)


def test_codes_expire_after_five_minutes(fake_wechat):
    """On the stand-in's clock."""
    session = sign_in(fake_wechat)
    fresh, stale = code_from(authorize(fake_wechat, session)), code_from(authorize(fake_wechat, session))
    advance(fake_wechat, 290)
    assert exchange(fake_wechat, fresh)["openid"] == "o-user-1"
    advance(fake_wechat, 10)
    assert exchange(fake_wechat, stale) == {"errcode": 40029, "errmsg": "invalid code"}


@pytest.mark.parametrize(
    "overrides, errcode",
    [({"code": "made-up"}, 40029), ({"secret": "wrong"}, 40125), ({"appid": "wx-other"}, 40013),
     ({"grant_type": "client_credential"}, 40002)],
)
def test_exchange_refusals(fake_wechat, overrides, errcode):
    """Unknown code, wrong secret, wrong appid, wrong grant type."""
    code = code_from(authorize(fake_wechat, sign_in(fake_wechat)))
    assert exchange(fake_wechat, **({"code": code} | overrides))["errcode"] == errcode


@pytest.mark.parametrize(
    "overrides, signed_in, page",
    [
        ({"appid": "wx-other"}, True, "appid 参数错误"),
        ({"scope": None}, True, "scope 参数错误或没有 scope 权限"),
        ({"scope": "snsapi_login"}, True, "scope 参数错误或没有 scope 权限"),
        ({"redirect_uri": "not-a-url"}, True, "redirect_uri 参数错误"),
        ({}, False, "请在微信客户端打开链接"),
    ],
)
def test_authorise_refusals_are_pages(fake_wechat, overrides, signed_in, page):
    """As WeChat shows them: an HTML page with HTTP 200, no redirect."""
    session = sign_in(fake_wechat) if signed_in else requests.Session()
    answer = authorize(fake_wechat, session, **overrides)
    assert answer.status_code == 200 and page in answer.text and "Location" not in answer.headers


def test_snsapi_userinfo_scope_and_sign_out(fake_wechat):
    """The scope granted is the one asked for; signing out ends "being in WeChat"."""
    session = sign_in(fake_wechat, "o-user-2")
    answer = exchange(fake_wechat, code_from(authorize(fake_wechat, session, scope="snsapi_userinfo")))
    assert (answer["openid"], answer["scope"]) == ("o-user-2", "snsapi_userinfo")
    session.get(f"{base(fake_wechat)}/_oauth/logout", timeout=5)
    assert "请在微信客户端打开链接" in authorize(fake_wechat, session).text


def test_by_default_the_development_app_is_accepted():
    """The stand-in's own default is the development settings' app id and secret."""
    state = FakeWeChatState()
    assert (state.app_id, state.app_secret) == (DEV_DEFAULTS["WECHAT_APP_ID"], DEV_DEFAULTS["WECHAT_APP_SECRET"])


def test_without_an_app_id_any_app_is_accepted():
    """app_id=None accepts any appid and secret, as the older tests expect."""
    server = FakeWeChatServer(app_id=None, app_secret=None).start()
    try:
        code = code_from(authorize(server, sign_in(server), appid="wx-anything"))
        assert exchange(server, code, appid="wx-anything", secret="whatever")["openid"] == "o-user-1"
    finally:
        server.stop()
