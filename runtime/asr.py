"""Speech recognition: voice messages to text through a self-hosted FunASR server.

FunASR's runtime (`funasr-wss-server`) speaks a WebSocket protocol (FunASR's
runtime/docs/websocket_protocol.md, "Offline File Transcription"). In offline mode a client:

1. sends a JSON configuration: `{"mode": "offline", "wav_name": …, "wav_format": "pcm",
   "audio_fs": 16000, "is_speaking": true, "hotwords": "", "itn": true, …}`;
2. sends the audio as binary frames (raw PCM needs `audio_fs`);
3. sends `{"is_speaking": false}`;
4. receives `{"mode": "offline", "wav_name": …, "text": …, "is_final": …}` (the C++ server sends
   `is_final: false` in offline mode, so the mode marks the result, not `is_final`).

ASR_URL is `ws://host:port` or `wss://host:port`. A wss server's certificate is verified as any
TLS certificate is. FunASR servers often run with a self-signed certificate; `?insecure=1` at the end
of the URL (removed before connecting) turns verification off for that server only, which is
acceptable on a private network and nowhere else.

Recognised text is what residents said: it is returned, never logged.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import connect

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# 600 ms of 16 kHz 16-bit audio a frame, ten of FunASR's own client's 60 ms strides: the server
# only appends frames in offline mode, so fewer, larger frames just save overhead.
DEFAULT_CHUNK_BYTES = 19200
# Closing politely after the answer must not hold a worker for long.
CLOSE_TIMEOUT_SECONDS = 2.0


class AsrError(Exception):
    """Recognition failed for now (server down, timeout, protocol error); try again later."""


@runtime_checkable
class SpeechRecognizer(Protocol):
    """Anything that turns speech into text."""

    def transcribe(self, pcm: bytes, *, name: str) -> str:
        """Text for 16 kHz mono s16le PCM ("" when nothing was said)."""
        ...


def split_insecure(url: str) -> tuple[str, bool]:
    """The URL without an `insecure=1` query parameter, and whether it was there."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(key, value) for key, value in query if key != "insecure"]
    insecure = any(key == "insecure" and value.lower() in ("1", "true", "yes") for key, value in query)
    return urlunsplit(parts._replace(query=urlencode(kept))), insecure


def offline_config(name: str) -> dict:
    """The first message, as FunASR's funasr_wss_client.py sends it for offline PCM."""
    return {
        "mode": "offline",
        # Streaming parameters: the offline server ignores them; the client always sends them.
        "chunk_size": [5, 10, 5],
        "chunk_interval": 10,
        "encoder_chunk_look_back": 4,
        "decoder_chunk_look_back": 0,
        "audio_fs": SAMPLE_RATE,
        "wav_name": name,
        "wav_format": "pcm",
        "is_speaking": True,
        "hotwords": "",
        "itn": True,
    }


class FunAsrRecognizer:
    """A FunASR server in offline mode, one WebSocket connection per recording."""

    def __init__(self, url: str, *, timeout: float = 30.0, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
        """Check the address now, so that a bad ASR_URL fails at start-up, not on the first voice."""
        self.url, insecure = split_insecure(url)
        parts = urlsplit(self.url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"FunASR URL must be ws:// or wss://host:port, got {url!r}")
        if timeout <= 0 or chunk_bytes <= 0:
            raise ValueError("timeout and chunk_bytes must be positive")
        self.timeout = timeout
        self.chunk_bytes = chunk_bytes
        # Named by host and port only: the URL's query or user part is nobody's business in a log.
        self.server = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'wss' else 80)}"
        self._ssl = self._tls_context(insecure) if parts.scheme == "wss" else None

    @staticmethod
    def _tls_context(insecure: bool) -> ssl.SSLContext:
        """Verifying TLS, or, for `?insecure=1`, TLS that accepts any certificate."""
        context = ssl.create_default_context()
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def transcribe(self, pcm: bytes, *, name: str) -> str:
        """Text for 16 kHz mono s16le PCM ("" when nothing was said); AsrError when it cannot tell now.

        Waits at most `timeout` for the answer, and then at most CLOSE_TIMEOUT_SECONDS to close.
        """
        if not pcm:
            # The server answers an empty recording with empty text: no need to ask.
            return ""
        deadline = time.monotonic() + self.timeout
        started = time.monotonic()
        try:
            with connect(
                self.url,
                ssl=self._ssl,
                open_timeout=self.timeout,
                close_timeout=min(CLOSE_TIMEOUT_SECONDS, self.timeout),
                # PCM hardly compresses; deflating it would only cost CPU on both sides.
                compression=None,
            ) as ws:
                ws.send(json.dumps(offline_config(name), ensure_ascii=False))
                for start in range(0, len(pcm), self.chunk_bytes):
                    ws.send(pcm[start:start + self.chunk_bytes])
                ws.send(json.dumps({"is_speaking": False}))
                text = self._result(ws, deadline)
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise AsrError(f"FunASR at {self.server} refused the connection (HTTP {status})") from None
        except TimeoutError:
            raise AsrError(f"FunASR at {self.server} did not answer within {self.timeout:g} s") from None
        except ConnectionClosed as exc:
            raise AsrError(f"FunASR at {self.server} closed the connection without an answer ({exc})") from None
        except (OSError, WebSocketException) as exc:
            raise AsrError(f"FunASR at {self.server} failed: {type(exc).__name__}: {exc}") from None
        logger.debug("FunASR transcribed %s (%d bytes) in %.2f s", name, len(pcm), time.monotonic() - started)
        return text

    def _result(self, ws, deadline: float) -> str:
        """Wait for the offline result and return its text, stripped."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            message = ws.recv(timeout=remaining)
            if isinstance(message, bytes):
                continue  # the protocol answers in text frames; nothing binary is meant for us
            try:
                answer = json.loads(message)
            except ValueError:
                raise AsrError(f"FunASR at {self.server} answered something that is not JSON") from None
            if not isinstance(answer, dict):
                raise AsrError(f"FunASR at {self.server} answered JSON that is not an object")
            # Offline mode answers once with mode "offline"; a 2pass server's partial results are skipped.
            if answer.get("mode") == "offline":
                text = answer.get("text", "")
                if not isinstance(text, str):
                    raise AsrError(f"FunASR at {self.server} answered a text that is not a string")
                return text.strip()


def make_recognizer(url: str | None, *, timeout: float = 30.0) -> SpeechRecognizer | None:
    """The recognizer for ASR_URL, or None when no server is configured (voice is kept, not transcribed)."""
    if not url or not url.strip():
        return None
    return FunAsrRecognizer(url.strip(), timeout=timeout)
