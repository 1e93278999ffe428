"""Real media for the simulator: a spoken voice message and a drawn photo, put in the WeChat stand-in
as a follower's file, with the voice's words registered at the speech-recognition stand-in.

The simulator's page plays and shows them through its own route, so these helpers also turn what
the stand-in holds into something every browser plays (WeChat's AMR is not).
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from devtools.speech import speak_amr
from runtime import audio

# The CJK font Debian's fonts-wqy-zenhei installs (`make media-tools`); without it the card has no words.
CARD_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
CARD_SIZE = "480x320"
CARD_LINE_CHARS = 12
# WeChat's voice arrives as AMR (or Speex); browsers play neither.
UNPLAYABLE_AUDIO = ("audio/amr", "audio/speex", "audio/x-speex")
LOCAL_HOSTS = ("127.0.0.1", "localhost")


class SimMediaError(Exception):
    """Making or handing over a simulated file failed (the message says what to install or start)."""


def voice_amr(text: str) -> bytes:
    """The words spoken in Mandarin, as the AMR file a WeChat voice message carries."""
    try:
        return speak_amr(text)
    except audio.AudioError as exc:
        raise SimMediaError(f"合成语音失败（需要 espeak-ng 和 ffmpeg：make media-tools）：{exc}") from None


def photo_png(text: str) -> bytes:
    """A small card photo with the words drawn on it (PNG, drawn by ffmpeg)."""
    lines = "\n".join(textwrap.wrap(text, CARD_LINE_CHARS)[:5]) or " "

    def draw(_source: Path, folder: Path) -> bytes:
        """Draw the card in a temporary folder and return its bytes."""
        words, card = folder / "words.txt", folder / "card.png"
        words.write_text(lines, encoding="utf-8")
        font = f"fontfile={CARD_FONT}:" if CARD_FONT.exists() else ""
        # textfile and expansion=none: the typed words are never read as drawtext's own syntax.
        drawtext = (f"drawtext={font}textfile={words}:expansion=none:fontsize=34:fontcolor=0x333333:"
                    "line_spacing=14:x=(w-text_w)/2:y=(h-text_h)/2")
        audio.run_tool(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"color=c=0xf4efe6:s={CARD_SIZE}", "-vf", drawtext, "-frames:v", "1", str(card)])
        return card.read_bytes()

    try:
        return audio.with_temp_file(b"", draw)
    except audio.AudioError as exc:
        raise SimMediaError(f"生成图片失败（需要 ffmpeg：make media-tools）：{exc}") from None


def put_media(standin_base: str, data: bytes, media_type: str, filename: str) -> str:
    """Hand a file to the WeChat stand-in as one a follower sent; its media_id."""
    try:
        answer = requests.post(f"{standin_base}_media", files={"media": (filename, data)},
                               data={"type": media_type}, timeout=5)
        answer.raise_for_status()
        return answer.json()["media_id"]
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise SimMediaError(f"微信接口替身没有收下文件：{exc}") from None


def asr_control_url(asr_url: str | None) -> str | None:
    """The HTTP root of a local speech-recognition stand-in at ASR_URL, or None when there is none."""
    if not asr_url:
        return None
    parts = urlsplit(asr_url)
    if parts.scheme not in ("ws", "wss") or parts.hostname not in LOCAL_HOSTS:
        return None
    return urlunsplit(("http" if parts.scheme == "ws" else "https", parts.netloc, "", "", ""))


def register_transcript(asr_url: str | None, amr: bytes, text: str) -> bool:
    """Tell the local ASR stand-in what this voice says, keyed as the product will send it; False without one."""
    control = asr_control_url(asr_url)
    if control is None:
        return False
    # The product sends exactly to_pcm16k(amr) (deterministic), so its hash is the key.
    digest = hashlib.sha256(audio.to_pcm16k(amr)).hexdigest()
    try:
        requests.post(f"{control}/_transcripts", json={"sha256": digest, "text": text}, timeout=5).raise_for_status()
    except requests.RequestException as exc:
        raise SimMediaError(f"语音识别替身没有响应（{control}）：{exc}") from None
    return True


def fetch_playable(standin_base: str, media_id: str) -> tuple[bytes, str] | None:
    """A file the WeChat stand-in holds, as a browser can play or show it; None when it has none."""
    try:
        answer = requests.get(f"{standin_base}_media/{media_id}", timeout=5)
    except requests.RequestException as exc:
        raise SimMediaError(f"微信接口替身没有响应：{exc}") from None
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    content_type = answer.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
    if content_type in UNPLAYABLE_AUDIO:
        converted = audio.to_playable(answer.content)
        return converted.data, converted.content_type
    return answer.content, content_type
