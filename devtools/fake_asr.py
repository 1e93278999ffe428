"""A local stand-in for a FunASR speech-recognition server: its WebSocket protocol and HTTP
controls on one port, records every recording it hears, fails on demand.

Point ASR_URL at `ws://HOST:PORT/`. It speaks FunASR's offline protocol
(runtime/docs/websocket_protocol.md in FunASR): a JSON configuration first, the audio as binary
frames, then `{"is_speaking": false}`; it answers as funasr-wss-server does,
`{"mode": "offline", "wav_name": …, "text": …, "is_final": false}` with, when there is text, a
`timestamp` of one `[start, end]` (ms) per character. It does not recognise speech: a test
registers what an audio says by the SHA-256 of its PCM bytes, and any other audio answers "", as a
real server answers silence.

Strict like the real server: a binary frame or non-JSON before the configuration closes the
connection with 1008; a configuration that is not offline mode closes it with 1008; raw audio other
than `wav_format` "pcm" at `audio_fs` 16000 gets no answer and a close with 1003.

Controls (plain HTTP on the same port; `GET /` says what the port serves):
- `POST /_transcripts {"sha256": "<hex of the PCM>", "text": "…"}` registers a transcript;
  `GET /_transcripts` lists them, `DELETE /_transcripts` forgets them.
- `GET /_calls` lists what it heard (sha256, bytes, config, text answered, outcome);
  `DELETE /_calls` clears them.
- `POST /_faults {"mode": "refuse" | "hang" | "close", "times": N}` queues failures for the next
  N connections: refuse rejects the WebSocket handshake with HTTP 503, hang never answers, close
  closes without answering. `DELETE /_faults` clears them.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time

from flask import Flask, g, jsonify, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from werkzeug.serving import WSGIRequestHandler, make_server

from devtools.serving import BackgroundServer, serve_call_log

FAULT_MODES = ("refuse", "hang", "close")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Bytes of 16 kHz 16-bit mono audio in one millisecond, for the answer's timestamps.
PCM_BYTES_PER_MS = 32
# A connection that says nothing for this long is closed, as a real server's idle clean-up does.
IDLE_SECONDS = 60.0
# Close codes: 1008 policy violation (protocol broken), 1003 unsupported data (audio it cannot read).
POLICY_VIOLATION, UNSUPPORTED_DATA = 1008, 1003
# Characters a timestamp model gives no time to.
PUNCTUATION = set("，。？！、；：,.?!;: ")


class FakeAsrState:
    """Transcripts, calls and queued faults, shared by the stand-in's request threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.transcripts: dict[str, str] = {}
        self.calls: list[dict] = []
        self.faults: list[dict] = []
        # Set on stop, so that a connection left hanging on purpose ends too.
        self.stopping = threading.Event()

    def take_fault(self) -> dict | None:
        """The next queued fault, used up one connection at a time."""
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault["times"] -= 1
            if fault["times"] <= 0:
                self.faults.pop(0)
            return dict(fault)

    def record(self, call: dict) -> None:
        """Keep a finished call for /_calls."""
        with self.lock:
            self.calls.append(call)


def timestamps(text: str, audio_bytes: int) -> str:
    """One [start, end] in ms per spoken character, spread over the audio, as FunASR formats them."""
    spoken = [c for c in text if c not in PUNCTUATION]
    if not spoken:
        return "[]"
    step = max(audio_bytes // PCM_BYTES_PER_MS // len(spoken), 1)
    return json.dumps([[i * step, (i + 1) * step] for i in range(len(spoken))], separators=(",", ":"))


def config_problem(config) -> tuple[int, str] | None:
    """(close code, reason) when the first message is not a configuration this server takes."""
    if not isinstance(config, dict):
        return POLICY_VIOLATION, "the first message must be the JSON configuration object"
    if config.get("mode") != "offline":
        return POLICY_VIOLATION, f"this server runs offline mode only, got mode {config.get('mode')!r}"
    # The real server's defaults when a client leaves them out.
    wav_format, audio_fs = config.get("wav_format", "pcm"), config.get("audio_fs", 16000)
    if wav_format != "pcm" or audio_fs != 16000:
        return UNSUPPORTED_DATA, (f"raw audio must be wav_format 'pcm' at audio_fs 16000, "
                                  f"got {wav_format!r} {audio_fs!r}")
    return None


class Conversation:
    """One WebSocket connection: configuration, audio, end of speech, answer; perhaps several times."""

    def __init__(self, ws, state: FakeAsrState, fault: dict | None):
        self.ws, self.state, self.fault = ws, state, fault
        self.config: dict | None = None
        self.audio = bytearray()

    def call(self, outcome: str, text: str | None = None) -> None:
        """Record what happened to the recording heard so far, and start a new one."""
        self.state.record({
            "sha256": hashlib.sha256(self.audio).hexdigest() if self.config is not None else None,
            "bytes": len(self.audio),
            "config": self.config,
            "text": text,
            "outcome": outcome,
            "at": time.time(),
        })
        self.audio = bytearray()

    def refuse(self, code: int, reason: str) -> None:
        """Record the breach and close the connection with a close code saying why."""
        self.call(f"refused: {reason}")
        self.ws.close(code, reason)

    def run(self) -> None:
        """Serve the connection until the client closes it, breaks the protocol, or idles."""
        while True:
            message = self.ws.receive(timeout=IDLE_SECONDS)
            if message is None:
                self.ws.close()
                return
            if isinstance(message, (bytes, bytearray)):
                if self.config is None:
                    self.refuse(POLICY_VIOLATION, "audio arrived before the JSON configuration")
                    return
                self.audio += message
                continue
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
            if self.config is None:
                problem = config_problem(parsed)
                if problem is not None:
                    self.refuse(*problem)
                    return
                self.config = parsed
            elif not isinstance(parsed, dict):
                self.refuse(POLICY_VIOLATION, "text frames must be JSON objects")
                return
            else:
                # As the real server does, a later message may change the name, format or rate.
                self.config = {**self.config, **{k: v for k, v in parsed.items()
                                                 if k not in ("is_speaking", "is_finished")}}
                problem = config_problem(self.config)
                if problem is not None:
                    self.refuse(*problem)
                    return
            if parsed.get("is_speaking") is False or parsed.get("is_finished") is True:
                if not self.answer(self.config.get("wav_name") or "wav-default-id"):
                    return

    def answer(self, wav_name: str) -> bool:
        """Answer the recording (or fail as the fault says); False when the connection is over."""
        mode = (self.fault or {}).get("mode")
        if mode == "hang":
            self.call("hung")
            # Never answer; wait for the client to give up (or the stand-in to stop).
            try:
                while not self.state.stopping.is_set():
                    self.ws.receive(timeout=0.2)
            except ConnectionClosed:
                pass
            return False
        if mode == "close":
            self.call("closed")
            self.ws.close()
            return False
        with self.state.lock:
            text = self.state.transcripts.get(hashlib.sha256(self.audio).hexdigest(), "")
        # As funasr-wss-server answers: is_final false in offline mode, timestamps only with text.
        result = {"mode": "offline", "wav_name": wav_name, "text": text, "is_final": False}
        if text:
            result["timestamp"] = timestamps(text, len(self.audio))
        self.call("answered" if text else "answered: unknown audio", text)
        self.ws.send(json.dumps(result, ensure_ascii=False))
        return True


def _end_tcp(ws, sock) -> None:
    """Close the WebSocket, then end the TCP connection, as a WebSocket server must do first.

    Werkzeug would otherwise keep the socket open, waiting to drain it, and a client that awaits the
    server's close (as the protocol has it) would hang until its own close timeout. Only the sending
    side is shut: a client still sending audio reads the close frame instead of a broken pipe.
    """
    try:
        ws.close()
    except ConnectionClosed:
        pass
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client was quicker


def create_fake_asr_app(state: FakeAsrState | None = None) -> Flask:
    """The stand-in as a Flask app (WebSocket at `/`, controls under `/_`)."""
    app = Flask("fake_asr")
    state = state or FakeAsrState()
    app.extensions["fake_asr"] = state
    # No server pings: FunASR's server sends none; the client's pings are still answered.
    app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": None}
    sock = Sock(app)

    @app.before_request
    def refuse_handshake():
        """Refuse the WebSocket handshake with HTTP 503 while a `refuse` fault is queued."""
        if request.path != "/" or request.headers.get("Upgrade", "").lower() != "websocket":
            return None
        fault = state.take_fault()
        if fault and fault["mode"] == "refuse":
            state.record({"sha256": None, "bytes": 0, "config": None, "text": None, "outcome": "refused: http 503",
                          "at": time.time()})
            return "stand-in refusing connections", 503
        g.asr_fault = fault
        return None

    @sock.route("/")
    def recognise(ws):
        """The FunASR WebSocket endpoint: one conversation per connection."""
        conversation = Conversation(ws, state, g.get("asr_fault"))
        try:
            conversation.run()
        except ConnectionClosed:
            if conversation.audio:
                conversation.call("client closed before the end of speech")
        finally:
            _end_tcp(ws, request.environ.get("werkzeug.socket"))

    @app.get("/")
    def index():
        """What this port serves, for someone who opens it in a browser."""
        return jsonify(service="FunASR stand-in", protocol="offline",
                       websocket=request.host_url.replace("http", "ws", 1),
                       controls=["/_transcripts", "/_calls", "/_faults"])

    @app.post("/_transcripts")
    def add_transcript():
        """Register what the audio with this PCM digest says."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error='send a JSON object {"sha256": "<hex of the PCM>", "text": "…"}'), 400
        digest = body.get("sha256")
        if not isinstance(digest, str) or not SHA256.match(digest.lower()):
            return jsonify(error="'sha256' must be the 64 hex digits of the PCM bytes' SHA-256"), 400
        if not isinstance(body.get("text"), str):
            return jsonify(error="'text' must be a string (\"\" for silence)"), 400
        with state.lock:
            state.transcripts[digest.lower()] = body["text"]
        return jsonify(sha256=digest.lower(), text=body["text"]), 201

    @app.get("/_transcripts")
    def list_transcripts():
        """Every registered transcript, by digest."""
        with state.lock:
            return jsonify(dict(state.transcripts))

    @app.delete("/_transcripts")
    def clear_transcripts():
        """Forget every transcript."""
        with state.lock:
            state.transcripts.clear()
        return "", 204

    serve_call_log(app, state, "recording")

    @app.post("/_faults")
    def add_fault():
        """Queue a failure for the next connections."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("mode") not in FAULT_MODES:
            return jsonify(error=f"send a JSON object with 'mode' one of {', '.join(FAULT_MODES)}"), 400
        times = body.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            return jsonify(error="'times' must be a whole number, 1 or more"), 400
        fault = {"mode": body["mode"], "times": times}
        with state.lock:
            state.faults.append(fault)
        return jsonify(fault), 201

    @app.delete("/_faults")
    def clear_faults():
        """Drop every queued failure."""
        with state.lock:
            state.faults.clear()
        return "", 204

    return app


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log (errors are still reported)."""

    def log_request(self, code="-", size="-") -> None:
        """Write nothing per request."""


class FakeAsrServer(BackgroundServer):
    """The stand-in on a real port, in a background thread or the foreground."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, ssl_context=None):
        self.state = FakeAsrState()
        super().__init__(make_server(host, port, create_fake_asr_app(self.state), threaded=True,
                                     request_handler=_QuietHandler, ssl_context=ssl_context), host)
        self._secure = ssl_context is not None

    @property
    def url(self) -> str:
        """What ASR_URL should be set to."""
        return f"{'wss' if self._secure else 'ws'}://{self.host}:{self.port}/"

    @property
    def http_url(self) -> str:
        """The root of the control routes."""
        return f"{'https' if self._secure else 'http'}://{self.host}:{self.port}"

    def stopping(self) -> None:
        """End connections left hanging (a `hang` fault) so the server can stop."""
        self.state.stopping.set()
