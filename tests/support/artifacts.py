"""Where tests leave screenshots and PDFs for people to look at: test-artifacts/ in the checkout, or
TEST_ARTIFACTS (CI gives each of its two passes, run side by side, a folder of its own)."""

from __future__ import annotations

import os
from pathlib import Path

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")
