"""Real Mandarin voice messages for the simulator and tests: espeak-ng speaks, ffmpeg encodes AMR-NB."""

from __future__ import annotations


from runtime.audio import run_tool, with_temp_file


def speak_amr(text: str) -> bytes:
    """Mandarin speech for `text` as AMR-NB, as a WeChat voice message carries it (espeak-ng, ffmpeg).

    For the simulator and tests; needs Debian's espeak-ng and libavcodec-extra.
    """

    def speak(_source: Path, folder: Path) -> bytes:
        wav, amr = folder / "speech.wav", folder / "speech.amr"
        run_tool(["espeak-ng", "-v", "cmn", "-w", str(wav), text])
        run_tool(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-ar", "8000", "-ac", "1",
              "-c:a", "libopencore_amrnb", "-b:a", "12.2k", str(amr)])
        return amr.read_bytes()

    return with_temp_file(b"", speak)
