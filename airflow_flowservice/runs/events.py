"""Finished runs of one flow, as events: the polling behind :class:`FlowServiceRunEventTrigger`.

A :class:`RunCursor` marks how far the watch has read, on the service's own clock: the runs'
``updatedAt`` (epoch ms; a run's document changes when it finishes, so a run finishing after the
cursor has a later ``updatedAt``). Each interval costs **one** list call per flow::

    GET /runs?property=flowId==<flow>&property=updatedAt>=<cursor>&orderby=updatedAt&limit=100

(``property`` comparisons and ``orderby`` as in Adobe's "Filter and sort Flow Service API
responses"). The event loop's shared :class:`~airflow_flowservice.runs.poll.RunPoller` makes the
call, in the same rounds as that loop's run waits; the watches of one flow share it (from the
earliest cursor among them), so a flow costs one call per interval however many assets watch it.
The oldest changes come first, so a burst of more than 100 finished runs is read over several
intervals, none skipped. The first call of a watch (no stored cursor) reads the flow's
latest runs to place the cursor at the newest change the service has: runs finished before the
watch started are behind it and never reported.

Exactly-once bookkeeping: runs finished at exactly the cursor's millisecond are remembered
(``at_cursor``), and the ids of the last finished runs handled are kept (``handled``, bounded) so
a run whose document changes again after it finished is not reported twice. The cursor is saved,
when there is a store, *before* the event is handed over, so a restart resumes after the last
reported run.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from airflow_flowservice.exceptions import FlowServiceError
from airflow_flowservice.runs.judge import run_metrics, run_state
from airflow_flowservice.runs.poll import TRANSIENT_ERRORS, RunPoller, flow_runs_params

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run

#: Runs read per call (the page size Flow Service allows on ``/runs``).
PAGE_SIZE = 100
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

    def after(self, run: Run) -> RunCursor:
        """This cursor once ``run`` (read in ``updatedAt`` order) is behind it."""
        updated = run.updated_at or self.updated_at
        finished = run_state(run.status) != "running"
        at_cursor = self.at_cursor if updated == self.updated_at else ()
        if finished:
            at_cursor = (*at_cursor, run.id)
        handled = (*self.handled, run.id)[-REMEMBERED:] if finished else self.handled
        return replace(self, updated_at=max(updated, self.updated_at), at_cursor=at_cursor, handled=handled)

    def is_new(self, run: Run) -> bool:
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


async def _list_runs(hook: FlowServiceHook, flow_id: str, filters: Sequence[str], orderby: str) -> list[Run]:
    """One ``GET /runs`` page (never a second call): the flow's runs matching ``filters``."""
    from airflow_flowservice.client import unwrap_items
    from airflow_flowservice.models import Run

    client = await hook.get_async_client()
    body = await client.request("GET", "/runs", params=flow_runs_params(flow_id, filters, orderby, PAGE_SIZE))
    return [Run.model_validate(item) for item in unwrap_items(body)]


async def start_cursor(hook: FlowServiceHook, flow_id: str) -> RunCursor:
    """A cursor at the newest change of the flow's runs: everything finished so far is behind it."""
    runs = await _list_runs(hook, flow_id, (), "-updatedAt")
    newest = max((r.updated_at or 0 for r in runs), default=0)
    finished = [r for r in runs if run_state(r.status) != "running"]
    return RunCursor(
        flow_id,
        newest,
        tuple(r.id for r in finished if r.updated_at == newest),
        tuple(r.id for r in finished)[:REMEMBERED],
    )


async def finished_since(
    poller: RunPoller, cursor: RunCursor, statuses: Collection[str]
) -> tuple[list[tuple[Run, RunCursor]], RunCursor]:
    """At ``poller``'s next round: the runs to report since ``cursor``, each with the cursor just past it,
    and the new cursor."""
    from airflow_flowservice.models import Run

    items = await poller.changes(cursor.flow_id, cursor.updated_at, PAGE_SIZE)
    runs = [Run.model_validate(item) for item in items]
    runs.sort(key=lambda r: r.updated_at or 0)  # the order the cursor moves in, whatever the service sent
    found: list[tuple[Run, RunCursor]] = []
    for run in runs:
        if not cursor.is_new(run):
            continue
        cursor = cursor.after(run)
        if run_state(run.status) in statuses:
            found.append((run, cursor))
    return found, cursor


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
    loop's :class:`~airflow_flowservice.runs.poll.RunPoller` for ``poll_interval`` paces it).
    Transient errors (5xx, 429, transport, after the client's own retries) keep it polling; after
    ``max_consecutive_failures`` of them in a row it raises
    :class:`~airflow_flowservice.exceptions.FlowServiceError`. Any other error (auth, permission,
    a flow that does not exist) raises at once. With a ``store``, the cursor is loaded from it and
    saved to it before each event is yielded.
    """
    cursor = await load_cursor(store, flow_id, log)
    saved = cursor
    failures = 0
    poller: RunPoller | None = None
    if cursor is None:  # watches started together (a triggerer restart) do not place their cursors in lockstep
        await asyncio.sleep(random.uniform(0, poll_interval / 10))
    while True:
        found: list[tuple[Run, RunCursor]] = []
        starting = cursor is None
        try:
            if cursor is None:
                cursor = await start_cursor(hook, flow_id)
                log.info("Flow %s: watching runs updated after %s", flow_id, cursor.updated_at)
                final = cursor
            else:
                if poller is None:
                    poller = RunPoller.for_client(await hook.get_async_client(), poll_interval)
                found, final = await finished_since(poller, cursor, statuses)  # paced by the poller's rounds
        except TRANSIENT_ERRORS as exc:
            failures += 1
            if failures >= max_consecutive_failures:
                raise FlowServiceError(
                    f"flow {flow_id}: {failures} consecutive polls for finished runs failed; last error: {exc}"
                ) from exc
            log.warning(
                "Flow %s: polling for finished runs failed (%s, %d of %d in a row); polling again",
                flow_id,
                exc,
                failures,
                max_consecutive_failures,
            )
        else:
            failures = 0
            for run, after in found:
                if store is not None:  # saved before the event leaves: a restart resumes after it
                    await store.save(after.to_json())
                saved = cursor = after
                log.info("Flow %s: run %s finished (%s)", flow_id, run.id, run.status)
                yield event_payload(run)
            cursor = final
            if store is not None and final != saved:
                await store.save(final.to_json())
                saved = final
        if starting:  # the poller paces the reads of changes; placing the cursor is this watch's own call
            await asyncio.sleep(poll_interval * random.uniform(1.0, 1.1))
