"""Looking at a PDF as a reader would: a page turned into PNG with poppler's pdftoppm, how much of it
is ink and how much a given colour, its text (pdftotext) and its fonts (pdffonts)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy
from PIL import Image
from tests.support.artifacts import ARTIFACTS  # noqa: F401  (re-exported for the readers of PDFs)



def poppler(tool: str) -> str:
    """The path of a poppler-utils tool (`make report-tools` installs them)."""
    found = shutil.which(tool)
    assert found, f"{tool} is missing: run `make report-tools` (Debian's poppler-utils)"
    return found


def page_png(pdf: bytes, page: int, out: Path, dpi: int = 60) -> Image.Image:
    """Page `page` (from 1) of the PDF as an RGB image, also written to `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.with_suffix(".pdf")
    source.write_bytes(pdf)
    stem = out.with_suffix("")
    subprocess.run([poppler("pdftoppm"), "-png", "-singlefile", "-f", str(page), "-l", str(page), "-r", str(dpi),
                    str(source), str(stem)], check=True, capture_output=True)
    source.unlink()
    return Image.open(out).convert("RGB")


def ink_share(image: Image.Image) -> float:
    """The share of pixels that are not (near) white."""
    pixels = numpy.asarray(image)
    return float((pixels.min(axis=2) < 235).mean())


def pixels_near(image: Image.Image, colour: str, tolerance: int = 40) -> int:
    """How many pixels are within `tolerance` (per channel) of a `#rrggbb` colour."""
    want = numpy.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    distance = numpy.abs(numpy.asarray(image).astype(int) - want)
    return int((distance <= tolerance).all(axis=2).sum())


def text(pdf: bytes, tmp: Path, first: int = 1, last: int = 1) -> str:
    """The text of pages `first` to `last`, as pdftotext reads it."""
    source = tmp / "read.pdf"
    source.write_bytes(pdf)
    done = subprocess.run([poppler("pdftotext"), "-f", str(first), "-l", str(last), "-layout", str(source), "-"],
                          check=True, capture_output=True, text=True)
    return done.stdout


def fonts(pdf: bytes, tmp: Path) -> list[dict[str, str]]:
    """The fonts pdffonts lists: name, type and whether each is embedded."""
    source = tmp / "fonts.pdf"
    source.write_bytes(pdf)
    done = subprocess.run([poppler("pdffonts"), str(source)], check=True, capture_output=True, text=True)
    rows = []
    for line in done.stdout.splitlines()[2:]:
        parts = line.split()
        if len(parts) >= 7:
            # name, type (may be two words), encoding, emb, sub, uni, object id, generation
            rows.append({"name": parts[0], "embedded": parts[-5], "type": " ".join(parts[1:-6])})
    return rows
