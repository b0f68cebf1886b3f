"""Waiting for a condition in tests: by the condition, with a deadline that only a failure reaches.

A test that naps a fixed number of times and then goes on anyway passes or fails with the machine's
load; ``until`` waits exactly as long as the condition takes and fails naming what never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Generous: a passing test never waits this long, and a shared 2-core CI machine can be slow.
DEADLINE = 60.0


async def until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Return as soon as ``condition()`` holds; raise ``AssertionError`` naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}")
        await asyncio.sleep(0.005)
