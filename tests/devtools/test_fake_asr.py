"""The FunASR stand-in speaks FunASR's offline protocol strictly, answers registered transcripts,
fails on demand, and runs as `sanzhida fake-asr`."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests
from click.testing import CliRunner
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from devtools.cli import fake_asr as fake_asr_command
from devtools.fake_asr import FakeAsrServer
from runtime.asr import offline_config

PCM = b"\x10\x00\x20\x00" * 8000  # half a second



def register(server: FakeAsrServer, pcm: bytes, text: str) -> None:
    """Tell the stand-in what this audio says."""
    assert requests.post(f"{server.http_url}/_transcripts", timeout=5,
                         json={"sha256": hashlib.sha256(pcm).hexdigest(), "text": text}).status_code == 201


def outcomes(server: FakeAsrServer) -> list[str]:
    """The recorded outcomes, in order."""
    return [c["outcome"] for c in requests.get(f"{server.http_url}/_calls", timeout=5).json()]


def closed_with(server: FakeAsrServer, *messages) -> int:
    """Send these messages and return the close code the stand-in ends the connection with."""
    with connect(server.url, open_timeout=5) as ws:
        try:
            # The stand-in may close before the later messages are sent: that is the point.
            for message in messages:
                ws.send(message)
            answer = ws.recv(timeout=5)
        except ConnectionClosed as closed:
            return closed.rcvd.code
    raise AssertionError(f"the stand-in answered {answer!r} instead of closing")


def test_answers_as_funasr_offline_does(fake_asr):
    """mode offline, the wav_name, the text, is_final false, a timestamp per spoken character."""
    register(fake_asr, PCM, "我摔倒了，起不来")
    with connect(fake_asr.url, open_timeout=5) as ws:
        ws.send(json.dumps(offline_config("media-3")))
        ws.send(PCM[:10000])
        ws.send(PCM[10000:])
        ws.send(json.dumps({"is_speaking": False}))
        answer = json.loads(ws.recv(timeout=5))
    assert {k: answer[k] for k in ("mode", "wav_name", "text", "is_final")} == {
        "mode": "offline", "wav_name": "media-3", "text": "我摔倒了，起不来", "is_final": False}
    stamps = json.loads(answer["timestamp"])
    assert len(stamps) == 7 and stamps[-1][1] <= len(PCM) // 32
    [call] = requests.get(f"{fake_asr.http_url}/_calls", timeout=5).json()
    assert (call["sha256"], call["bytes"], call["text"], call["outcome"]) == (
        hashlib.sha256(PCM).hexdigest(), len(PCM), "我摔倒了，起不来", "answered")
    assert call["config"]["wav_format"] == "pcm"


def test_unknown_audio_answers_empty_text_and_a_connection_serves_several_recordings(fake_asr):
    """Silence-like answer without timestamp; the next recording on the same connection is separate."""
    register(fake_asr, PCM, "好的")
    with connect(fake_asr.url, open_timeout=5) as ws:
        ws.send(json.dumps(offline_config("a")))
        ws.send(b"\x00\x00" * 50)
        ws.send(json.dumps({"is_speaking": False}))
        first = json.loads(ws.recv(timeout=5))
        ws.send(json.dumps({"is_speaking": True, "wav_name": "b"}))
        ws.send(PCM)
        ws.send(json.dumps({"is_speaking": False}))
        second = json.loads(ws.recv(timeout=5))
    assert first == {"mode": "offline", "wav_name": "a", "text": "", "is_final": False}
    assert (second["wav_name"], second["text"]) == ("b", "好的")
    assert outcomes(fake_asr) == ["answered: unknown audio", "answered"]


def test_audio_before_the_configuration_is_refused(fake_asr):
    """A binary frame first: closed with 1008, nothing answered."""
    assert closed_with(fake_asr, PCM) == 1008
    assert outcomes(fake_asr) == ["refused: audio arrived before the JSON configuration"]


@pytest.mark.parametrize("first", ["hello", "[1]", json.dumps({**offline_config("x"), "mode": "2pass"})])
def test_a_bad_first_message_is_refused(fake_asr, first):
    """Not JSON, not an object, not offline mode: closed with 1008."""
    assert closed_with(fake_asr, first, PCM, json.dumps({"is_speaking": False})) == 1008
    assert outcomes(fake_asr)[0].startswith("refused: ")


@pytest.mark.parametrize("change", [{"wav_format": "wav"}, {"audio_fs": 8000}])
def test_raw_audio_it_cannot_read_gets_no_answer(fake_asr, change):
    """Not pcm at 16 kHz: no answer, the connection closed (1003)."""
    config = json.dumps({**offline_config("x"), **change})
    assert closed_with(fake_asr, config, PCM, json.dumps({"is_speaking": False})) == 1003


def test_faults_apply_to_the_next_connections_then_stop(fake_asr):
    """refuse twice: two handshakes get HTTP 503, the third connects."""
    assert requests.post(f"{fake_asr.http_url}/_faults", json={"mode": "refuse", "times": 2}, timeout=5).ok
    for _ in range(2):
        with pytest.raises(InvalidStatus) as refused:
            connect(fake_asr.url, open_timeout=5)
        assert refused.value.response.status_code == 503
    with connect(fake_asr.url, open_timeout=5):
        pass
    assert outcomes(fake_asr) == ["refused: http 503"] * 2


def test_cleared_faults_and_calls(fake_asr):
    """DELETE empties both."""
    requests.post(f"{fake_asr.http_url}/_faults", json={"mode": "close"}, timeout=5)
    assert requests.delete(f"{fake_asr.http_url}/_faults", timeout=5).status_code == 204
    with connect(fake_asr.url, open_timeout=5) as ws:
        ws.send(json.dumps(offline_config("x")))
        ws.send(json.dumps({"is_speaking": False}))
        assert json.loads(ws.recv(timeout=5))["text"] == ""
    assert requests.delete(f"{fake_asr.http_url}/_calls", timeout=5).status_code == 204
    assert outcomes(fake_asr) == []


@pytest.mark.parametrize(
    "body, says",
    [
        (None, "JSON object"),
        ({"sha256": "abc", "text": "x"}, "sha256"),
        ({"sha256": "g" * 64, "text": "x"}, "sha256"),
        ({"sha256": "a" * 64}, "text"),
        ({"sha256": "a" * 64, "text": 3}, "text"),
    ],
)
def test_bad_transcripts_are_refused_with_a_reason(fake_asr, body, says):
    """400 naming what is wrong."""
    answer = requests.post(f"{fake_asr.http_url}/_transcripts", json=body, timeout=5)
    assert answer.status_code == 400 and says in answer.json()["error"]


def test_transcripts_are_listed_and_cleared(fake_asr):
    """Upper-case hex is taken as the same digest."""
    requests.post(f"{fake_asr.http_url}/_transcripts", json={"sha256": "AB" * 32, "text": "好"}, timeout=5)
    assert requests.get(f"{fake_asr.http_url}/_transcripts", timeout=5).json() == {"ab" * 32: "好"}
    requests.delete(f"{fake_asr.http_url}/_transcripts", timeout=5)
    assert requests.get(f"{fake_asr.http_url}/_transcripts", timeout=5).json() == {}


@pytest.mark.parametrize("body", [{"mode": "explode"}, {"mode": "hang", "times": 0}, {"times": 1}])
def test_bad_faults_are_refused(fake_asr, body):
    """Unknown mode or a count below one."""
    assert requests.post(f"{fake_asr.http_url}/_faults", json=body, timeout=5).status_code == 400


def test_plain_http_on_the_same_port_describes_it(fake_asr):
    """One port: WebSocket and HTTP."""
    assert requests.get(f"{fake_asr.http_url}/", timeout=5).json()["websocket"] == fake_asr.url


def test_the_command_is_documented():
    """`sanzhida fake-asr --help` explains itself."""
    result = CliRunner().invoke(fake_asr_command, ["--help"])
    assert result.exit_code == 0 and "FunASR" in result.output and "--port" in result.output
