"""The "still waiting" lines of a long wait, in the worker and in the triggerer."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol

#: Seconds between "still waiting" lines while a run's status does not change (the worker's poll
#: loop and the triggerer's poller both log one), so a run that stays ``inProgress`` for hours is visible.
HEARTBEAT_INTERVAL = 600.0


class RunLike(Protocol):
    """What a heartbeat line reads of a run (a :class:`~airflow_flowservice.models.Run` or a ``RunHead``)."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def created_at(self) -> int | None: ...


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def iso_utc(epoch_seconds: float) -> str:
    """``epoch_seconds`` as ISO 8601 in UTC, to the second (``2026-01-01T06:00:00Z``)."""
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def heartbeat_message(
    run: RunLike, waiting_since: float, deadline: float, url: str | None, now: float | None = None
) -> str:
    """One "still waiting" line: status, time since the run was created (or since the wait began), deadline, URL.

    :param waiting_since: epoch seconds when this wait began (used when the run has no ``createdAt``).
    :param deadline: epoch seconds when the wait times out.
    """
    current = time.time() if now is None else now
    since = run.created_at / 1000 if run.created_at else waiting_since
    return (
        f"Run {run.id} is still {run.status or 'unknown'} after {_duration(current - since)}; waiting until "
        f"{iso_utc(deadline)} ({_duration(deadline - current)} left){f': {url}' if url else ''}"
    )


class Heartbeat:
    """When the next "still waiting" line is due: :data:`HEARTBEAT_INTERVAL` after the last status line.

    Two floats, no other object: the triggerer's poller keeps one per wait and checks it every round.
    """

    __slots__ = ("last", "started")

    def __init__(self) -> None:
        self.started = time.time()
        self.last = time.monotonic()

    def status_changed(self) -> None:
        self.last = time.monotonic()

    def due(self) -> bool:
        if time.monotonic() - self.last < HEARTBEAT_INTERVAL:
            return False
        self.last = time.monotonic()
        return True
