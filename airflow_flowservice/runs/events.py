"""Finished runs as events: the watch behind :class:`FlowServiceRunEventTrigger`, from either source.

A watch reports each run of a flow (or of every flow of the sandbox, ``flow_id=None``) that finishes in
the statuses it asks for. Two sources, picked by ``source`` (``auto``: the journal when the connection
has one, else polling):

- **poll** (:mod:`.poll_watch`): one ``GET /runs`` per interval for the flow (or the sandbox), the runs
  updated since a :class:`RunCursor` on the service's clock, made by the event loop's shared
  :class:`~airflow_flowservice.runs.poller.RunPoller` in the same rounds as the loop's run waits;
- **journal** (:mod:`.journal_watch`): Adobe I/O Events' flow-run notifications, read from the
  connection's journal by the loop's one :class:`~airflow_flowservice.runs.journal.JournalReader`,
  one read per interval whatever the number of watches and flows. A journal that stays down makes the
  watch fall back to polling (it says so once).

Delivery is **at least once**: where the watch is (a cursor, or a journal position) is saved in the
asset state store (Airflow 3.3+) only a round after the runs before it were handed to the triggerer,
never before, so a triggerer that dies in between reports them again; each payload carries the run id
and an event id for a consumer to de-duplicate on (``docs/events.md``). Within one watch a run is
reported once (runs at the cursor's millisecond and the last run and event ids handled are remembered).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, Protocol

from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceError
from airflow_flowservice.runs.judge import run_metrics, run_state
from airflow_flowservice.runs.poller import TRANSIENT_ERRORS

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Flow, Run
    from airflow_flowservice.run_heads import RunHead

Source = Literal["auto", "journal", "poll"]
#: Finished run (and event) ids remembered against a second report of the same run.
REMEMBERED = 200
#: The asset state store key of a watch's cursor.
CURSOR_KEY = "flowservice_run_cursor"


def scope_of(flow_id: str | None) -> str:
    """How the logs name what a watch watches: ``Flow <id>`` or ``Every flow of the sandbox``."""
    return f"Flow {flow_id}" if flow_id else "Every flow of the sandbox"


def iso(epoch_seconds: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC (``2026-01-01T06:00:00Z``), ``None`` for ``None``."""
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RunCursor:
    """How far a poll watch of ``flow_id`` (``None``: the sandbox) has read (service clock, epoch ms)."""

    flow_id: str | None
    updated_at: int
    at_cursor: tuple[str, ...] = ()
    handled: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": "poll",
            "flow_id": self.flow_id,
            "updated_at": self.updated_at,
            "updated_at_iso": iso(self.updated_at / 1000),
            "at_cursor": list(self.at_cursor),
            "handled": list(self.handled),
        }

    @classmethod
    def from_json(cls, value: Any, flow_id: str | None) -> RunCursor | None:
        """The stored cursor of ``flow_id``, or ``None`` if ``value`` is absent, malformed or another flow's.

        A journal watch's saved state becomes a cursor at the time of the last run it handled.
        """
        if not isinstance(value, dict) or value.get("flow_id") != flow_id:
            return None
        try:
            if value.get("source") == "journal":
                return cls(flow_id, int(value["since_ms"]), (), tuple(str(i) for i in value.get("run_ids") or ()))
            return cls(
                flow_id,
                int(value["updated_at"]),
                tuple(str(i) for i in value.get("at_cursor") or ()),
                tuple(str(i) for i in value.get("handled") or ()),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def after(self, run: Run | RunHead) -> RunCursor:
        """This cursor once ``run`` (read in ``updatedAt`` order) is behind it."""
        updated = run.updated_at or self.updated_at
        finished = run_state(run.status) != "running"
        at_cursor = self.at_cursor if updated == self.updated_at else ()
        if finished:
            at_cursor = (*at_cursor, run.id)
        handled = (*self.handled, run.id)[-REMEMBERED:] if finished else self.handled
        return replace(self, updated_at=max(updated, self.updated_at), at_cursor=at_cursor, handled=handled)

    def is_new(self, run: Run | RunHead) -> bool:
        """Whether ``run`` is ahead of this cursor (not yet handled)."""
        updated = run.updated_at
        if updated is None or updated < self.updated_at or run.id in self.handled:
            return False
        return not (updated == self.updated_at and run.id in self.at_cursor)


class CursorStore(Protocol):
    """Where a watch keeps its cursor across triggerer restarts (the asset state store on Airflow 3.3+)."""

    async def load(self) -> Any: ...

    async def save(self, value: dict[str, Any]) -> None: ...


def event_payload(run: Run, *, event_id: str, source: str) -> dict[str, Any]:
    """The event of a finished run: ``run_id``, ``flow_id``, ``event_id``, ``source``, ``status``, ``window``,
    ``metrics``.

    ``metrics`` is what the run operator pushes (:func:`~airflow_flowservice.runs.judge.run_metrics`);
    ``window`` is ``{"start", "end"}`` in epoch seconds with ``start_iso``/``end_iso`` (ISO 8601, UTC), or
    ``None`` for a run without one; ``event_id`` is the journal's id of the notification, or
    ``<run id>:<status>`` for a polled run.
    """
    window = run.window()
    return {
        "run_id": run.id,
        "flow_id": run.flow_id,
        "event_id": event_id,
        "source": source,
        "status": run_state(run.status),
        "window": (
            {"start": window[0], "end": window[1], "start_iso": iso(window[0]), "end_iso": iso(window[1])}
            if window
            else None
        ),
        "metrics": run_metrics(run),
    }


class WatchListener:
    """What the poll and journal watches share: a wake-up future, the transient-failure cap, the error that ends it."""

    def __init__(self, flow_id: str | None, statuses: Collection[str], max_failures: int, log: Any) -> None:
        self.flow_id = flow_id
        self.statuses = statuses
        self.max_failures = max_failures
        self.log = log
        self.failures = 0
        self.error: BaseException | None = None
        self._wake: asyncio.Future[None] | None = None

    def count_failure(
        self, error: BaseException, doing: str = "polling for finished runs", calls: str = "polls for finished runs"
    ) -> BaseException | None:
        """A transient ``error`` is counted and logged; the error that ends the watch once there are too many
        in a row (or at once for any other error), else ``None``.

        :param doing: what failed, for the warning (``polling for finished runs``).
        :param calls: the calls that failed, for the final error (``polls for finished runs``).
        """
        if not isinstance(error, TRANSIENT_ERRORS):
            return error
        self.failures += 1
        self.log.warning(
            "%s: %s failed (%s, %d of %d in a row); trying again",
            scope_of(self.flow_id),
            doing,
            error,
            self.failures,
            self.max_failures,
        )
        if self.failures < self.max_failures:
            return None
        return FlowServiceError(
            f"{scope_of(self.flow_id).lower()}: {self.failures} consecutive {calls} failed; last error: {error}"
        )

    def end(self, error: BaseException) -> None:
        self.error = error
        self.wake()

    async def woken(self) -> None:
        """Wait until the listener has something for the watch (or an error ends it)."""
        if self.error is None:
            self._wake = asyncio.get_running_loop().create_future()
            try:
                await self._wake
            finally:
                self._wake = None
        if self.error is not None:
            raise self.error

    def wake(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)


async def check_flow_exists(hook: FlowServiceHook, flow_id: str | None) -> Flow | None:
    """The flow; a watch or wait on a flow that does not exist fails at its first read, naming the flow."""
    from airflow_flowservice.exceptions import FlowServiceNotFoundError

    if flow_id is None:
        return None
    try:
        return await hook.aget_flow(flow_id)
    except FlowServiceNotFoundError:
        raise FlowServiceConfigError(
            f"flow_id: flow {flow_id} does not exist in this org and sandbox; check the flow id (and the "
            "connection's sandbox) the DAG was given"
        ) from None


@dataclass
class JournalFallback:
    """Filled by a journal watch that gives up on its journal: why, and its state for the poll watch to go on from."""

    reason: str = ""
    state: Any = None
    since: float = field(default_factory=time.time)
