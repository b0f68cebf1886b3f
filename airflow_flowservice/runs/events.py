"""Finished runs of one flow, as events: the polling behind :class:`FlowServiceRunEventTrigger`.

A :class:`RunCursor` marks how far the watch has read, on the service's own clock: the runs'
``updatedAt`` (epoch ms; a run's document changes when it finishes, so a run finishing after the
cursor has a later ``updatedAt``). Each interval costs **one** list call per flow::

    GET /runs?property=flowId==<flow>&property=updatedAt>=<cursor>&orderby=updatedAt&limit=100

(``property`` comparisons and ``orderby`` as in Adobe's "Filter and sort Flow Service API
responses"). The event loop's shared :class:`~airflow_flowservice.runs.poller.RunPoller` makes the
call, in the same rounds as that loop's run waits; the watches of one flow share it (from the
earliest cursor among them), so a flow costs one call per interval however many assets watch it.
The oldest changes come first, so a burst of more than 100 finished runs is read over several
intervals, none skipped. The first call of a watch (no stored cursor) reads the flow's
latest runs to place the cursor at the newest change the service has: runs finished before the
watch started are behind it and never reported.

Within one watch, each finished run is reported once: runs finished at exactly the cursor's
millisecond are remembered (``at_cursor``), and the ids of the last finished runs handled are kept
(``handled``, bounded), so a run whose document changes again after it finished is not reported
twice. Across a triggerer restart, delivery is **at least once**: the cursor is saved (when there is
a store) only a round after the runs before it were handed to the triggerer, so a triggerer that
stops in between reports them again, and a consumer that must not act twice keys on ``run_id``
(``docs/events.md``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from airflow_flowservice.exceptions import FlowServiceError
from airflow_flowservice.runs.judge import run_metrics, run_state
from airflow_flowservice.runs.poller import TRANSIENT_ERRORS

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run
    from airflow_flowservice.run_heads import PolledRun, RunHead
#: Finished run ids remembered against a second report of the same run.
REMEMBERED = 200
#: The asset state store key of a watch's cursor.
CURSOR_KEY = "flowservice_run_cursor"


@dataclass(frozen=True)
class RunCursor:
    """How far a watch of ``flow_id`` has read (service clock, epoch ms); JSON via :meth:`to_json`."""

    flow_id: str
    updated_at: int
    at_cursor: tuple[str, ...] = ()
    handled: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "updated_at": self.updated_at,
            "at_cursor": list(self.at_cursor),
            "handled": list(self.handled),
        }

    @classmethod
    def from_json(cls, value: Any, flow_id: str) -> RunCursor | None:
        """The stored cursor of ``flow_id``, or ``None`` if ``value`` is absent, malformed or another flow's."""
        if not isinstance(value, dict) or value.get("flow_id") != flow_id:
            return None
        try:
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


def event_payload(run: Run) -> dict[str, Any]:
    """The event of a finished run: ``run_id``, ``flow_id``, ``status``, ``window``, ``metrics``.

    ``metrics`` is what the run operator pushes (:func:`~airflow_flowservice.runs.judge.run_metrics`);
    ``window`` is ``{"start", "end"}`` in epoch seconds, or ``None`` for a run without one.
    """
    window = run.window()
    return {
        "run_id": run.id,
        "flow_id": run.flow_id,
        "status": run_state(run.status),
        "window": {"start": window[0], "end": window[1]} if window else None,
        "metrics": run_metrics(run),
    }


async def start_cursor(hook: FlowServiceHook, flow_id: str) -> RunCursor:
    """A cursor at the newest change of the flow's runs: everything finished so far is behind it."""
    heads = [polled.head for polled in await hook.aread_runs(flow_id=flow_id, orderby="-updatedAt")]
    newest = max((head.updated_at or 0 for head in heads), default=0)
    finished = [head for head in heads if run_state(head.status) != "running"]
    return RunCursor(
        flow_id,
        newest,
        tuple(head.id for head in finished if head.updated_at == newest),
        tuple(head.id for head in finished)[:REMEMBERED],
    )


class _FlowWatch:
    """The :class:`~.poller.FlowListener` of one watch: the finished runs found, not yet handed over.

    The poller offers it the flow's changed runs each round; it keeps those ahead of its cursor that
    finished in ``statuses`` (``ready``) and wakes the watch only when there is something to do: runs to
    hand over, a cursor to save (a round after runs were handed over), or an error that ends the watch.
    """

    def __init__(self, cursor: RunCursor, statuses: Collection[str], max_failures: int, log: Any) -> None:
        self.flow_id: str | None = cursor.flow_id
        self.cursor = cursor  # how far the rounds have read
        self.statuses = statuses
        self.max_failures = max_failures
        self.log = log
        self.ready: list[tuple[PolledRun, RunCursor]] = []  # each with the cursor just past it
        self.handed: RunCursor | None = None  # the cursor past the last run handed over, not saved yet
        self.failures = 0
        self.error: BaseException | None = None
        self._wake: asyncio.Future[None] | None = None

    @property
    def since_ms(self) -> int:
        return self.cursor.updated_at

    def offer(self, runs: list[PolledRun]) -> None:
        self.failures = 0
        for polled in sorted(runs, key=lambda p: p.head.updated_at or 0):  # the order the cursor moves in
            if not self.cursor.is_new(polled.head):
                continue
            self.cursor = self.cursor.after(polled.head)
            if run_state(polled.head.status) in self.statuses:
                self.ready.append((polled, self.cursor))
        if self.ready or self.handed is not None:
            self._set_wake()

    def fail(self, error: BaseException) -> None:
        if isinstance(error, TRANSIENT_ERRORS):
            self.failures += 1
            self.log.warning(
                "Flow %s: polling for finished runs failed (%s, %d of %d in a row); polling again",
                self.flow_id,
                error,
                self.failures,
                self.max_failures,
            )
            if self.failures < self.max_failures:
                return
            error = FlowServiceError(
                f"flow {self.flow_id}: {self.failures} consecutive polls for finished runs failed; last error: {error}"
            )
        self.error = error
        self._set_wake()

    async def woken(self) -> None:
        """Wait until :meth:`offer` or :meth:`fail` has something for the watch."""
        if self.error is None:
            self._wake = asyncio.get_running_loop().create_future()
            try:
                await self._wake
            finally:
                self._wake = None
        if self.error is not None:
            raise self.error

    def _set_wake(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)


async def load_cursor(store: CursorStore | None, flow_id: str, log: logging.Logger | Any) -> RunCursor | None:
    """The cursor a previous run of this watch saved, if any."""
    if store is None:
        return None
    stored = await store.load()
    cursor = RunCursor.from_json(stored, flow_id)
    if stored is not None and cursor is None:
        log.warning("Flow %s: ignoring a stored cursor that is not this flow's: %r", flow_id, stored)
    elif cursor is not None:
        log.info("Flow %s: resuming after runs updated at %s (from the asset state store)", flow_id, cursor.updated_at)
    return cursor


async def watch_finished_runs(
    hook: FlowServiceHook,
    flow_id: str,
    *,
    statuses: Collection[str],
    poll_interval: float,
    max_consecutive_failures: int,
    log: logging.Logger | Any,
    store: CursorStore | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield :func:`event_payload` once per run of ``flow_id`` that finishes in ``statuses``; forever.

    One list call per interval, shared with the other watches of the flow on this event loop (the
    loop's :class:`~airflow_flowservice.runs.poller.RunPoller` for ``poll_interval`` makes it).
    Transient errors (5xx, 429, transport, after the client's own retries) keep it polling; after
    ``max_consecutive_failures`` of them in a row it raises
    :class:`~airflow_flowservice.exceptions.FlowServiceError`. Any other error (auth, permission,
    a flow that does not exist) raises at once.

    With a ``store``, the cursor is loaded from it, and saved at least once: a new watch saves where it
    starts, and the cursor past the runs it handed over is saved at the next round after they were
    handed over, never before: a triggerer that stops in between hands them over again after a
    restart (at least once; the payload's ``run_id`` tells a repeat).
    """
    from airflow_flowservice.runs.poller import RunPoller

    cursor = await load_cursor(store, flow_id, log)
    if cursor is None:
        # Watches started together (a triggerer restart) do not place their cursors in lockstep.
        await asyncio.sleep(random.uniform(0, poll_interval / 10))
        cursor = await _placed_cursor(hook, flow_id, poll_interval, max_consecutive_failures, log)
        log.info("Flow %s: watching runs updated after %s", flow_id, cursor.updated_at)
        if store is not None:  # where the watch starts: runs finishing from now on are never missed
            await store.save(cursor.to_json())
    watch = _FlowWatch(cursor, statuses, max_consecutive_failures, log)
    poller = await RunPoller.of(hook, poll_interval)
    poller.listen(watch)
    try:
        while True:
            await watch.woken()
            batch, watch.ready = watch.ready, []
            if watch.handed is not None:  # handed over a round ago: Airflow has them
                saved = watch.handed if batch else watch.cursor  # with nothing new, all before the read cursor is done
                if store is not None:
                    await store.save(saved.to_json())
                watch.handed = None
            for polled, after in batch:
                run = polled.run()
                log.info("Flow %s: run %s finished (%s)", flow_id, run.id, run.status)
                yield event_payload(run)
                watch.handed = after
    finally:
        poller.unlisten(watch)


async def _placed_cursor(
    hook: FlowServiceHook, flow_id: str, poll_interval: float, max_failures: int, log: logging.Logger | Any
) -> RunCursor:
    """:func:`start_cursor`, read again after each transient error, at most ``max_failures`` times in a row."""
    failures = 0
    while True:
        try:
            return await start_cursor(hook, flow_id)
        except TRANSIENT_ERRORS as exc:
            failures += 1
            if failures >= max_failures:
                raise FlowServiceError(
                    f"flow {flow_id}: {failures} consecutive polls for finished runs failed; last error: {exc}"
                ) from exc
            log.warning(
                "Flow %s: polling for finished runs failed (%s, %d of %d in a row); polling again",
                flow_id,
                exc,
                failures,
                max_failures,
            )
        await asyncio.sleep(poll_interval * random.uniform(1.0, 1.1))
