"""The fenced code blocks of README.md and docs/*.md, with the ``docs-test`` comment that precedes each.

A block is run by the docs tier when the line before its opening fence (blank lines aside) is
``<!-- docs-test: <id> -->``, ``<id>`` naming the test that runs it (``tests/docs/test_docs.py``).
A block that cannot run says why: ``<!-- docs-test: no-run: <reason> -->``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<body>.*?)\s*-->$")
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its info string (``python``), its text and its marker."""

    path: str
    line: int
    info: str
    text: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def block_id(self) -> str | None:
        """The id of the test that runs the block, or None (no marker, or ``no-run``)."""
        if self.marker is None or self.marker.startswith("no-run"):
            return None
        return self.marker

    @property
    def no_run_reason(self) -> str | None:
        if self.marker is None or not self.marker.startswith("no-run"):
            return None
        return self.marker.removeprefix("no-run").lstrip(":").strip()


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def parse(path: Path) -> list[Block]:
    """Every fenced block of one Markdown file, in order."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    previous = ""  # the last non-blank line outside a block
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        fence = opening["fence"]
        end = i + 1
        while end < len(lines) and not (
            lines[end].startswith(fence[0] * len(fence)) and not lines[end].strip(fence[0])
        ):
            end += 1
        if end == len(lines):
            raise ValueError(f"{path.name}:{i + 1}: the fence is never closed")
        marker = MARKER.match(previous)
        blocks.append(
            Block(
                path=str(path.relative_to(ROOT)),
                line=i + 1,
                info=opening["info"].strip(),
                text="\n".join(lines[i + 1 : end]) + "\n",
                marker=marker["body"] if marker else None,
            )
        )
        previous = ""
        i = end + 1
    return blocks


def all_blocks() -> list[Block]:
    return [block for path in doc_files() for block in parse(path)]


def block(block_id: str) -> Block:
    """The one block marked ``<!-- docs-test: <block_id> -->``."""
    found = [b for b in all_blocks() if b.block_id == block_id]
    if len(found) != 1:
        raise LookupError(f"{len(found)} blocks are marked docs-test: {block_id}")
    return found[0]
