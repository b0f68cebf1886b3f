"""The emulator's clock: real time, or a manual clock that only moves when a test moves it."""

from __future__ import annotations

import threading
import time


class Clock:
    """Time source for the emulator (epoch seconds, float).

    ``mode="real"`` follows ``time.time()`` plus an offset (``advance``/``set`` shift the offset, so
    tests can still jump ahead). ``mode="manual"`` starts at the real time of construction (or
    ``start``) and only moves through :meth:`advance` and :meth:`set`.
    """

    def __init__(self, mode: str = "real", start: float | None = None) -> None:
        if mode not in ("real", "manual"):
            raise ValueError(f"clock must be 'real' or 'manual', got {mode!r}")
        self.mode = mode
        self._lock = threading.Lock()
        self._offset = 0.0
        self._manual = float(start if start is not None else int(time.time()))
        if mode == "real" and start is not None:
            self._offset = float(start) - time.time()

    def now(self) -> float:
        """Current emulator time in epoch seconds."""
        with self._lock:
            if self.mode == "manual":
                return self._manual
            return time.time() + self._offset

    def now_ms(self) -> int:
        """Current emulator time in epoch milliseconds."""
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> float:
        """Move the clock forward (or backward with a negative value); returns the new time."""
        with self._lock:
            if self.mode == "manual":
                self._manual += float(seconds)
                return self._manual
            self._offset += float(seconds)
            return time.time() + self._offset

    def set(self, epoch_seconds: float) -> float:
        """Set the clock to ``epoch_seconds``; returns the new time."""
        with self._lock:
            if self.mode == "manual":
                self._manual = float(epoch_seconds)
                return self._manual
            self._offset = float(epoch_seconds) - time.time()
            return float(epoch_seconds)
