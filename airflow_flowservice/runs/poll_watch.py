"""A watch by polling: the runs of a flow (or of the sandbox) updated since a cursor, one call per interval.

Each interval costs **one** list call per flow (or one for the whole sandbox)::

    GET /runs?property=flowId==<flow>&property=updatedAt>=<cursor>&orderby=updatedAt&limit=100

(``property`` comparisons and ``orderby`` as in Adobe's "Filter and sort Flow Service API responses"),
made by the event loop's shared :class:`~airflow_flowservice.runs.poller.RunPoller` in the same rounds as
that loop's run waits; the watches of one flow share it, from the earliest cursor among them. The
oldest changes come first, so a burst of more than 100 finished runs is read over several intervals,
none skipped. The first call of a new watch (no stored cursor) reads the newest runs to place the
cursor at the newest change the service has: runs finished before the watch started are behind it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Collection
from typing import TYPE_CHECKING, Any

from airflow_flowservice.runs.events import (
    REMEMBERED,
    CursorStore,
    RunCursor,
    WatchListener,
    event_payload,
    iso,
    scope_of,
)
from airflow_flowservice.runs.judge import run_state
from airflow_flowservice.runs.poller import RunPoller

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.run_heads import PolledRun


async def start_cursor(hook: FlowServiceHook, flow_id: str | None) -> RunCursor:
    """A cursor at the newest change of the flow's (the sandbox's) runs: everything finished so far is behind it."""
    heads = [polled.head for polled in await hook.aread_runs(flow_id=flow_id, orderby="-updatedAt")]
    newest = max((head.updated_at or 0 for head in heads), default=0)
    finished = [head for head in heads if run_state(head.status) != "running"]
    return RunCursor(
        flow_id,
        newest,
        tuple(head.id for head in finished if head.updated_at == newest),
        tuple(head.id for head in finished)[:REMEMBERED],
    )


class FlowWatch(WatchListener):
    """The :class:`~.poller.FlowListener` of one poll watch: the finished runs found, not yet handed over.

    The poller offers it the flow's changed runs each round; it keeps those ahead of its cursor that
    finished in ``statuses`` (``ready``) and wakes the watch only when there is something to do: runs to
    hand over, a cursor to save (a round after runs were handed over), or an error that ends the watch.
    """

    def __init__(self, cursor: RunCursor, statuses: Collection[str], max_failures: int, log: Any) -> None:
        super().__init__(cursor.flow_id, statuses, max_failures, log)
        self.cursor = cursor  # how far the rounds have read
        self.ready: list[tuple[PolledRun, RunCursor]] = []  # each with the cursor just past it
        self.handed: RunCursor | None = None  # the cursor past the last run handed over, not saved yet

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
            self.wake()

    def fail(self, error: BaseException) -> None:
        ending = self.count_failure(error)
        if ending is not None:
            self.end(ending)


async def load_cursor(stored: Any, flow_id: str | None, log: logging.Logger | Any) -> RunCursor | None:
    """The cursor a previous run of this watch saved (``stored``), if it is this flow's."""
    cursor = RunCursor.from_json(stored, flow_id)
    if stored is not None and cursor is None:
        log.warning("%s: ignoring a stored cursor that is not this watch's: %r", scope_of(flow_id), stored)
    elif cursor is not None:
        log.info(
            "%s: resuming after runs updated at %s (%d, from the asset state store)",
            scope_of(flow_id),
            iso(cursor.updated_at / 1000),
            cursor.updated_at,
        )
    return cursor


async def watch_by_polling(
    hook: FlowServiceHook,
    flow_id: str | None,
    statuses: Collection[str],
    poll_interval: float,
    max_failures: int,
    log: logging.Logger | Any,
    store: CursorStore | None,
    stored: Any,
) -> AsyncIterator[dict[str, Any]]:
    """Yield each finished run's payload, found by polling (module docstring), forever.

    With a ``store``: a new watch saves where it starts, and the cursor past the runs it handed over is
    saved at the next round after they were handed over, never before (at least once).
    """
    cursor = await load_cursor(stored, flow_id, log)
    if cursor is None:
        # Watches started together (a triggerer restart) do not place their cursors in lockstep.
        await asyncio.sleep(random.uniform(0, poll_interval / 10))
        cursor = await _placed_cursor(hook, flow_id, poll_interval, max_failures, log)
        log.info(
            "%s: watching runs updated after %s (%d)",
            scope_of(flow_id),
            iso(cursor.updated_at / 1000),
            cursor.updated_at,
        )
        if store is not None:  # where the watch starts: runs finishing from now on are never missed
            await store.save(cursor.to_json())
    watch = FlowWatch(cursor, statuses, max_failures, log)
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
                log.info("%s: run %s finished (%s)", scope_of(run.flow_id), run.id, run.status)
                yield event_payload(run, event_id=f"{run.id}:{run_state(run.status)}", source="poll")
                watch.handed = after
    finally:
        poller.unlisten(watch)


async def _placed_cursor(
    hook: FlowServiceHook, flow_id: str | None, poll_interval: float, max_failures: int, log: logging.Logger | Any
) -> RunCursor:
    """:func:`start_cursor`, read again after each transient error, at most ``max_failures`` times in a row."""
    failing = WatchListener(flow_id, (), max_failures, log)
    while True:
        try:
            return await start_cursor(hook, flow_id)
        except Exception as exc:
            ending = failing.count_failure(exc)
            if ending is exc:
                raise
            if ending is not None:
                raise ending from exc
        await asyncio.sleep(poll_interval * random.uniform(1.0, 1.1))
