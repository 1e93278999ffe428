"""Reading the deployment files as Docker does, for the tests of the image and the installed package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def dockerfile_instructions(path: Path = ROOT / "Dockerfile") -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments) pairs, `\\` continuations joined."""
    instructions, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        # Docker drops comment and blank lines, even inside a continued instruction.
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions
