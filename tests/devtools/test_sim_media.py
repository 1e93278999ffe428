"""The simulator's real media: a spoken voice the ASR stand-in recognises as the product will send
it, a drawn photo the WeChat stand-in accepts, and files made playable for the browser."""

from __future__ import annotations

import hashlib

import pytest

from devtools import sim_media
from devtools.fake_wechat import FakeWeChatServer
from runtime import audio
from runtime.asr import make_recognizer


@pytest.fixture
def wechat():
    """The WeChat stand-in on a real port."""
    server = FakeWeChatServer().start()
    yield server
    server.stop()



def standin_root(server: FakeWeChatServer) -> str:
    """The stand-in's root URL, as the simulator derives it."""
    return server.base_url.removesuffix("cgi-bin/")


def test_photo_is_a_png_the_standin_takes_as_an_image(wechat):
    """The drawn card is a PNG; the stand-in keeps it as an image a follower sent."""
    png = sim_media.photo_png("门口台阶很滑，%{n} 也照样写出来")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    media_id = sim_media.put_media(standin_root(wechat), png, "image", "photo.png")
    listed = {m["media_id"]: m for m in wechat.state.media.listing(wechat.state.now())}
    assert listed[media_id]["type"] == "image"
    assert listed[media_id]["content_type"] == "image/png"


def test_voice_words_are_recognised_from_the_pcm_the_product_sends(wechat, fake_asr):
    """Registered under the hash of to_pcm16k(amr), the words come back for exactly that audio."""
    amr = sim_media.voice_amr("我摔倒了起不来")
    assert amr.startswith(b"#!AMR\n")
    assert sim_media.register_transcript(fake_asr.url, amr, "我摔倒了起不来")
    recognizer = make_recognizer(fake_asr.url, timeout=10)
    assert recognizer.transcribe(audio.to_pcm16k(amr), name="sim") == "我摔倒了起不来"
    call = fake_asr.state.calls[-1]
    assert call["sha256"] == hashlib.sha256(audio.to_pcm16k(amr)).hexdigest()


def test_only_a_local_asr_standin_is_told_anything():
    """No ASR, or a real server elsewhere: nothing is registered."""
    assert sim_media.asr_control_url(None) is None
    assert sim_media.asr_control_url("wss://asr.example.org:10095") is None
    assert sim_media.asr_control_url("ws://127.0.0.1:10095/") == "http://127.0.0.1:10095"
    assert sim_media.register_transcript("", b"", "x") is False


def test_amr_is_served_as_mp3_and_images_as_they_are(wechat):
    """Browsers cannot play AMR: the simulator's route hands them MP3; a photo passes unchanged."""
    root = standin_root(wechat)
    voice_id = sim_media.put_media(root, sim_media.voice_amr("你好"), "voice", "voice.amr")
    data, content_type = sim_media.fetch_playable(root, voice_id)
    assert content_type == "audio/mpeg"
    assert audio.duration_seconds(data) > 0.3
    png = sim_media.photo_png("照片")
    photo_id = sim_media.put_media(root, png, "image", "photo.png")
    assert sim_media.fetch_playable(root, photo_id) == (png, "image/png")
    assert sim_media.fetch_playable(root, "no-such-media") is None
