"""The FunASR adapter against the FunASR stand-in (and a few hand-written servers): what it sends,
what it returns, and how it fails."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.sync.server import serve

from devtools.fake_asr import FakeAsrServer
from devtools.speech import speak_amr
from runtime.audio import to_pcm16k
from runtime.asr import AsrError, FunAsrRecognizer, make_recognizer, split_insecure

WORDS = "我摔倒了起不来"



@pytest.fixture(scope="module")
def spoken_pcm() -> bytes:
    """Real Mandarin speech, as a WeChat voice message carries it, made into the PCM the product sends."""
    return to_pcm16k(speak_amr(WORDS))


def register(server: FakeAsrServer, pcm: bytes, text: str) -> None:
    """Tell the stand-in what this audio says."""
    answer = requests.post(f"{server.http_url}/_transcripts", timeout=5,
                           json={"sha256": hashlib.sha256(pcm).hexdigest(), "text": text})
    assert answer.status_code == 201


def fault(server: FakeAsrServer, mode: str, times: int = 1) -> None:
    """Queue a failure for the next connections."""
    assert requests.post(f"{server.http_url}/_faults", json={"mode": mode, "times": times}, timeout=5).ok


def calls(server: FakeAsrServer) -> list[dict]:
    """What the stand-in heard."""
    return requests.get(f"{server.http_url}/_calls", timeout=5).json()


def free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_registered_voice_comes_back_as_its_text(fake_asr, spoken_pcm):
    """Real speech → PCM → the transcript; the stand-in got FunASR's offline configuration."""
    register(fake_asr, spoken_pcm, f" {WORDS} ")
    assert FunAsrRecognizer(fake_asr.url, timeout=5).transcribe(spoken_pcm, name="media-7") == WORDS
    [call] = calls(fake_asr)
    assert call["outcome"] == "answered" and call["bytes"] == len(spoken_pcm)
    assert {k: call["config"][k] for k in ("mode", "wav_name", "wav_format", "audio_fs", "is_speaking", "itn",
                                           "hotwords")} == {
        "mode": "offline", "wav_name": "media-7", "wav_format": "pcm", "audio_fs": 16000, "is_speaking": True,
        "itn": True, "hotwords": ""}


def test_the_pcm_is_the_same_whatever_the_frame_size(fake_asr, spoken_pcm):
    """Frames are joined again: small frames, the same recording."""
    register(fake_asr, spoken_pcm, WORDS)
    assert FunAsrRecognizer(fake_asr.url, timeout=5, chunk_bytes=1920).transcribe(spoken_pcm, name="a") == WORDS
    assert len(spoken_pcm) > 1920 * 3


def test_unknown_audio_is_empty_text(fake_asr):
    """As a real server answers silence."""
    assert FunAsrRecognizer(fake_asr.url, timeout=5).transcribe(b"\x00\x00" * 8000, name="quiet") == ""
    assert calls(fake_asr)[0]["outcome"] == "answered: unknown audio"


def test_empty_audio_is_empty_text_without_asking(fake_asr):
    """Nothing to recognise, no connection."""
    assert FunAsrRecognizer(fake_asr.url, timeout=5).transcribe(b"", name="none") == ""
    assert calls(fake_asr) == []


def test_server_down_fails_quickly():
    """Connection refused: AsrError at once, not after the timeout."""
    started = time.monotonic()
    with pytest.raises(AsrError):
        FunAsrRecognizer(f"ws://127.0.0.1:{free_port()}", timeout=10).transcribe(b"\x01\x00" * 100, name="x")
    assert time.monotonic() - started < 2


def test_a_server_that_never_answers_times_out(fake_asr):
    """hang: AsrError once the timeout has passed, and not much later."""
    fault(fake_asr, "hang")
    started = time.monotonic()
    with pytest.raises(AsrError, match="did not answer"):
        FunAsrRecognizer(fake_asr.url, timeout=0.5).transcribe(b"\x01\x00" * 100, name="x")
    assert 0.5 <= time.monotonic() - started < 3


def test_a_refused_handshake_and_a_closed_connection_fail(fake_asr):
    """refuse (HTTP 503) and close-without-answer are both AsrError; the next call works again."""
    fault(fake_asr, "refuse")
    fault(fake_asr, "close")
    recognizer = FunAsrRecognizer(fake_asr.url, timeout=5)
    with pytest.raises(AsrError, match="503"):
        recognizer.transcribe(b"\x01\x00" * 100, name="x")
    with pytest.raises(AsrError, match="closed"):
        recognizer.transcribe(b"\x01\x00" * 100, name="x")
    assert recognizer.transcribe(b"\x01\x00" * 100, name="x") == ""
    assert [c["outcome"] for c in calls(fake_asr)] == ["refused: http 503", "closed", "answered: unknown audio"]


def run_server(handler):
    """A hand-written WebSocket server in a thread; returns (url, stop)."""
    server = serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"ws://127.0.0.1:{server.socket.getsockname()[1]}", server.shutdown


def test_partial_results_are_skipped_and_is_final_false_is_accepted():
    """A 2pass server's online partials come first; the offline result counts even with is_final false."""
    def handler(ws):
        """Answer a partial result, then the offline one."""
        for message in ws:
            if isinstance(message, str) and json.loads(message).get("is_speaking") is False:
                ws.send(json.dumps({"mode": "2pass-online", "text": "我摔", "is_final": False}))
                ws.send(json.dumps({"mode": "offline", "wav_name": "x", "text": "  我摔倒了。 ", "is_final": False}))

    url, stop = run_server(handler)
    try:
        assert FunAsrRecognizer(url, timeout=5).transcribe(b"\x01\x00" * 100, name="x") == "我摔倒了。"
    finally:
        stop()


@pytest.mark.parametrize("answer", ["not json", "[1, 2]", json.dumps({"mode": "offline", "text": 5})])
def test_an_answer_that_breaks_the_protocol_fails(answer):
    """Not JSON, not an object, a text that is not a string: AsrError."""
    def handler(ws):
        """Answer the end of speech with the broken answer."""
        for message in ws:
            if isinstance(message, str) and json.loads(message).get("is_speaking") is False:
                ws.send(answer)

    url, stop = run_server(handler)
    try:
        with pytest.raises(AsrError):
            FunAsrRecognizer(url, timeout=5).transcribe(b"\x01\x00" * 100, name="x")
    finally:
        stop()


def self_signed(tmp_path) -> ssl.SSLContext:
    """A server TLS context with a freshly made self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "funasr.local")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_wss_verifies_the_certificate_unless_told_insecure(tmp_path):
    """A self-signed server is refused by default and accepted with ?insecure=1."""
    server = FakeAsrServer(ssl_context=self_signed(tmp_path)).start()
    try:
        pcm = b"\x02\x00" * 400
        register_tls = requests.post(f"{server.http_url}/_transcripts", verify=False, timeout=5,
                                     json={"sha256": hashlib.sha256(pcm).hexdigest(), "text": "好的"})
        assert register_tls.status_code == 201 and server.url.startswith("wss://")
        with pytest.raises(AsrError):
            FunAsrRecognizer(server.url, timeout=5).transcribe(pcm, name="x")
        assert FunAsrRecognizer(f"{server.url}?insecure=1", timeout=5).transcribe(pcm, name="x") == "好的"
    finally:
        server.stop()


def test_insecure_strips_itself_and_keeps_the_rest():
    """Only the opt-out leaves the URL."""
    assert split_insecure("wss://asr:10095/?insecure=1&lang=zh") == ("wss://asr:10095/?lang=zh", True)
    assert split_insecure("wss://asr:10095") == ("wss://asr:10095", False)
    assert split_insecure("wss://asr:10095/?insecure=0") == ("wss://asr:10095/", False)


def test_make_recognizer():
    """No URL, no recognizer; a bad URL is refused when it is made."""
    assert make_recognizer(None) is None and make_recognizer("  ") is None
    recognizer = make_recognizer("ws://asr.internal:10095", timeout=7)
    assert isinstance(recognizer, FunAsrRecognizer) and recognizer.timeout == 7
    with pytest.raises(ValueError):
        make_recognizer("http://asr.internal:10095")


def test_what_was_said_never_reaches_the_log(fake_asr, spoken_pcm, caplog):
    """Even at DEBUG, the text is returned, not logged."""
    register(fake_asr, spoken_pcm, WORDS)
    with caplog.at_level(logging.DEBUG):
        assert FunAsrRecognizer(fake_asr.url, timeout=5).transcribe(spoken_pcm, name="x") == WORDS
    assert WORDS not in caplog.text
