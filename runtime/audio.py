"""Audio through ffmpeg: WeChat's AMR and Speex voice made playable in every browser, and PCM for
speech recognition.

ffmpeg (Debian's package) runs as a child process on temporary files: it probes a file more
reliably than a pipe, and a voice message is small. Nothing here touches the database.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # nosec B404  # runs ffmpeg with an argument list, never a shell
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Every browser, WeChat's own included, plays MP3; mono at 48 kb/s keeps a 60 s voice under 400 kB.
PLAYABLE_CONTENT_TYPE = "audio/mpeg"
PLAYABLE_EXTENSION = "mp3"
# What speech recognisers take: 16 kHz, mono, 16-bit little-endian samples.
PCM_SAMPLE_RATE = 16000
# A voice message is at most 60 s; ffmpeg never needs long for one.
FFMPEG_TIMEOUT_SECONDS = 60


class AudioError(Exception):
    """ffmpeg could not read or convert the audio (the message says what it printed)."""


@dataclass(frozen=True)
class Converted:
    """Audio in another format, with its duration."""

    data: bytes
    content_type: str
    duration_seconds: float


def ffmpeg_available() -> bool:
    """True when ffmpeg and ffprobe are on the PATH."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def run_tool(args: list[str]) -> bytes:
    """Run an ffmpeg tool and return its standard output; AudioError with its last words if it fails."""
    return _run(args).stdout


def _run(args: list[str]) -> subprocess.CompletedProcess:
    """Run a tool, raising AudioError with its last words when it fails."""
    try:
        done = subprocess.run(args, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False)  # nosec B603
    except FileNotFoundError:
        raise AudioError(f"{args[0]} is not installed (Debian package ffmpeg)") from None
    except subprocess.TimeoutExpired:
        raise AudioError(f"{args[0]} took longer than {FFMPEG_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise AudioError(f"{args[0]} failed: {tail[0][:200]}")
    return done


def with_temp_file(data: bytes, work):
    """Call `work(path)` with the bytes in a temporary file that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="sanzhida-audio-") as folder:
        source = Path(folder) / "in"
        source.write_bytes(data)
        return work(source, Path(folder))


def duration_seconds(data: bytes) -> float:
    """How long the audio plays, read by ffprobe (0.0 when it cannot tell)."""

    def probe(source: Path, _folder: Path) -> float:
        out = run_tool(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(source)])
        try:
            return float(json.loads(out)["format"]["duration"])
        except (KeyError, ValueError, TypeError):
            return 0.0

    return with_temp_file(data, probe)


def to_playable(data: bytes) -> Converted:
    """The audio as mono MP3, which every browser and WeChat's browser play."""

    def convert(source: Path, folder: Path) -> Converted:
        target = folder / f"out.{PLAYABLE_EXTENSION}"
        # ffmpeg's progress report gives the duration it wrote: no second process (ffprobe) to start.
        done = _run(["ffmpeg", "-nostdin", "-v", "error", "-progress", "pipe:2", "-y", "-i", str(source), "-vn",
                     "-ac", "1", "-ar", "22050", "-c:a", "libmp3lame", "-b:a", "48k", str(target)])
        written = re.findall(rb"out_time_us=(\d+)", done.stderr)
        seconds = int(written[-1]) / 1_000_000 if written else 0.0
        return Converted(target.read_bytes(), PLAYABLE_CONTENT_TYPE, seconds)

    return with_temp_file(data, convert)


def to_pcm16k(data: bytes) -> bytes:
    """The audio as raw 16 kHz mono signed 16-bit little-endian PCM, for speech recognition.

    The same input always gives the same bytes, so a stand-in can recognise audio by their hash.
    """

    def convert(source: Path, _folder: Path) -> bytes:
        return run_tool(["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-vn", "-ac", "1",
                     "-ar", str(PCM_SAMPLE_RATE), "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"])

    return with_temp_file(data, convert)
