"""The two poll loops of a wait: in the worker (sync) and in the triggerer (async), side by side.

Both read the run until it is terminal, log status changes, and end at an absolute deadline. The
worker loop returns the finished run or raises; the async loop returns a :class:`WaitOutcome`,
which the trigger turns into its one event.

The async waits of one event loop do not poll one by one: a :class:`RunPoller` per client (one
connection and token) and poll interval reads, each interval, every run waited for with
``GET /runs?property=id==a,b,c`` (up to 100 ids a call; a comma ORs values, Adobe's "Filter
Platform API responses" page), and hands each waiter its run. In the same rounds it reads, for the
event triggers that watch a flow's finished runs (:mod:`airflow_flowservice.runs.events`), the
flow's changed runs: one call per flow, however many watches of that flow there are.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.client import property_in, unwrap_items
from airflow_flowservice.exceptions import (
    FlowServiceError,
    FlowServiceNotFoundError,
    FlowServiceRateLimitError,
    FlowServiceServerError,
    FlowServiceTimeoutError,
    FlowServiceTransportError,
)
from airflow_flowservice.models import Run
from airflow_flowservice.runs.judge import run_state
from airflow_flowservice.ui import run_url

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.client import AsyncFlowServiceClient
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

# Errors worth polling through (the client already retried them); anything else ends the wait.
TRANSIENT_ERRORS = (FlowServiceServerError, FlowServiceTransportError, FlowServiceRateLimitError)

OutcomeStatus = Literal["success", "failed", "timeout", "error"]

#: Seconds between "still waiting" lines while a run's status does not change (the worker's poll
#: loop and the trigger both log one), so a run that stays ``inProgress`` for hours is visible.
HEARTBEAT_INTERVAL = 600.0


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def heartbeat_message(
    run: Run, waiting_since: float, deadline: float, url: str | None, now: float | None = None
) -> str:
    """One "still waiting" line: status, time since the run was created (or since the wait began), deadline, URL.

    :param waiting_since: epoch seconds when this wait began (used when the run has no ``createdAt``).
    :param deadline: epoch seconds when the wait times out.
    """
    current = time.time() if now is None else now
    since = run.created_at / 1000 if run.created_at else waiting_since
    until = datetime.fromtimestamp(deadline, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"Run {run.id} is still {run.status or 'unknown'} after {_duration(current - since)}; waiting until "
        f"{until} ({_duration(deadline - current)} left){f': {url}' if url else ''}"
    )


class _Heartbeat:
    """When the next "still waiting" line is due: :data:`HEARTBEAT_INTERVAL` after the last status line."""

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


@dataclass(frozen=True)
class WaitOutcome:
    """How an async wait ended; :meth:`payload` is the trigger event's payload."""

    status: OutcomeStatus
    message: str
    run_id: str | None
    run_status: str | None = None
    run: Run | None = None

    def payload(self) -> dict[str, Any]:
        """``{"status", "run_id", "run_status", "message"}``, plus ``run`` (the finished run's document)."""
        payload: dict[str, Any] = {
            "status": self.status,
            "run_id": self.run_id,
            "run_status": self.run_status,
            "message": self.message,
        }
        if self.run is not None:  # the finished run, so that resuming the task needs no GET
            payload["run"] = self.run.model_dump(mode="json", by_alias=True, exclude_none=True)
        return payload


IDS_PER_CALL = 100  # the most a page of runs holds
#: Calls of one round in flight at once: the answers (100 run documents each) then come back spread
#: out, so the event loop parses a few at a time instead of all of them in one pause, and the service
#: is never asked for more than this many pages at once by one poller.
CALLS_IN_FLIGHT = 2


def flow_runs_params(flow_id: str, filters: Sequence[str], orderby: str, limit: int) -> list[tuple[str, str]]:
    """The query of one ``GET /runs`` page of ``flow_id``'s runs matching ``filters`` (each a ``property=``)."""
    return [
        property_in("flowId", [flow_id], "flow_id"),
        *(("property", f) for f in filters),
        ("orderby", orderby),
        ("limit", str(limit)),
    ]


@dataclass
class _FlowAsk:
    """What a round asks of one flow for its watches: changes since the earliest cursor, the largest page."""

    since_ms: int
    limit: int
    futures: list[asyncio.Future[Any]]


class RunPoller:
    """Reads every run its waiters wait for, each interval, in ``ceil(N / 100)`` calls.

    One per async client (so per event loop and credentials) and poll interval: see :meth:`for_client`.
    :meth:`read` returns a run's document at the next round. A round lists the waited-for ids with
    ``GET /runs?property=id==a,b,c&limit=100``; a run missing from the answer fails its waiters with
    :class:`~airflow_flowservice.exceptions.FlowServiceNotFoundError` naming it; a failed call fails
    only the waiters of its ids (with its error); the poller never stops while waited on.

    :meth:`changes` returns, at the next round, a flow's runs updated since a time: the round makes
    one call per flow (from the earliest time any watch of it asked for) and hands every watch the
    same answer, which each filters by its own cursor.

    It holds few objects per wait, because a triggerer's full garbage collections scan them all: one
    future per pending read (no task, no model: the round hands each waiter the run's JSON
    document), and a timer only for a read whose deadline may come before the next round. Its
    task lives only while someone waits: it ends after a round nobody waits past, and the last
    waiter to leave early cancels it, so an event loop that closes finds no pending task.

    :param client: the async client the calls go through.
    :param poll_interval: seconds between rounds (each pause up to 10% longer).
    """

    _registry: weakref.WeakKeyDictionary[AsyncFlowServiceClient, dict[float, RunPoller]] = weakref.WeakKeyDictionary()

    def __init__(self, client: AsyncFlowServiceClient, poll_interval: float) -> None:
        # Weakly: the registry is keyed (weakly) by the client, which a strong reference here would keep
        # alive for ever, and with it the poller of every closed event loop.
        self._client = weakref.ref(client)
        self.poll_interval = poll_interval
        self._waiters: dict[str, list[asyncio.Future[Any]]] = {}  # run id -> pending reads
        # (flow id, updated since in epoch ms, page size) -> pending reads of the flow's changed runs
        self._watchers: dict[tuple[str, int, int], list[asyncio.Future[Any]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._in_round = False
        self._not_before = 0.0  # event-loop time before which no round starts
        self.rounds = 0
        self.calls = 0

    @classmethod
    def for_client(cls, client: AsyncFlowServiceClient, poll_interval: float) -> RunPoller:
        """The poller of ``client`` (shared per event loop) for ``poll_interval``, created on first use."""
        pollers = cls._registry.setdefault(client, {})
        poller = pollers.get(poll_interval)
        if poller is None:
            poller = pollers[poll_interval] = cls(client, poll_interval)
        return poller

    @property
    def waiting(self) -> int:
        """How many reads are pending."""
        return sum(len(futures) for table in (self._waiters, self._watchers) for futures in table.values())

    @property
    def active(self) -> bool:
        """Whether the poller's task exists (it does only while reads are pending or a round runs)."""
        return self._task is not None and not self._task.done()

    def read(self, run_id: str, timeout: float | None = None) -> Coroutine[Any, Any, dict[str, Any] | None]:
        """The run's JSON document, read in the poller's next round; ``None`` if ``timeout`` seconds pass first.

        Not a coroutine function of its own: every wait reads once a round, and one coroutine object
        fewer per read is 10,000 objects fewer a round for the collector with 10,000 waits.
        """
        return self._pending("_waiters", run_id, timeout)

    async def changes(self, flow_id: str, since_ms: int, limit: int = IDS_PER_CALL) -> list[dict[str, Any]]:
        """The JSON documents of ``flow_id``'s runs updated at or after ``since_ms``, oldest change first.

        Read in the poller's next round, by one ``GET /runs?property=flowId==<flow>&property=updatedAt>=<t>
        &orderby=updatedAt&limit=<n>`` for all the watches of the flow (``t`` the earliest they asked for,
        ``n`` the largest page), so a watch may also get runs older than its own ``since_ms``.
        """
        items: list[dict[str, Any]] = await self._pending("_watchers", (flow_id, since_ms, limit), None)
        return items

    async def _pending(self, table: Literal["_waiters", "_watchers"], key: Any, timeout: float | None) -> Any:
        """Wait for the next round's answer to ``key`` (a run id, or a flow watch) in the ``table`` attribute.

        By name, not the dict: a round takes the pending reads' dict for itself and puts a new one in
        its place, and a read that leaves must stop asking in the current one, never the round's.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        pending: dict[Any, list[asyncio.Future[Any]]] = getattr(self, table)
        futures = pending.get(key)
        if futures is None:
            pending[key] = [future]
        else:
            futures.append(future)
        if not self.active:
            self._task = loop.create_task(self._loop(), name=f"flowservice-run-poller-{self.poll_interval:g}s")
        # A round comes at least every 1.1 intervals: a later deadline needs no timer of its own.
        timer = (
            loop.call_later(max(0.0, timeout), _expire, future)
            if timeout is not None and timeout < 2 * self.poll_interval
            else None
        )
        try:
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            pending = getattr(self, table)
            futures = pending.get(key)
            if futures is not None and future in futures:  # left before its round: stop asking for it
                futures.remove(future)
                if not futures:
                    del pending[key]
            if not self._waiters and not self._watchers and not self._in_round and self._task is not None:
                self._task.cancel()  # nobody waits: end the sleeping task now, not at loop close
                self._task = None

    async def _loop(self) -> None:
        # The first round comes within a tenth of the interval, so that waits deferred together
        # (a backfill, a triggerer restart) join it; later rounds every interval plus up to 10%,
        # never sooner than that after the last round, even when the task is re-created.
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(max(random.uniform(0, self.poll_interval / 10), self._not_before - loop.time()))
            while self._waiters or self._watchers:
                waiters, self._waiters = self._waiters, {}
                watchers, self._watchers = self._watchers, {}
                ids = list(waiters)
                if _frozen:
                    freeze_waits()  # the waits and their pending reads, all long-lived next to a round
                flows: dict[str, _FlowAsk] = {}  # one call per flow, from the earliest cursor, the largest page
                for (flow_id, since_ms, limit), futures in watchers.items():
                    ask = flows.get(flow_id)
                    if ask is None:
                        flows[flow_id] = _FlowAsk(since_ms, limit, list(futures))
                    else:
                        ask.since_ms, ask.limit = min(ask.since_ms, since_ms), max(ask.limit, limit)
                        ask.futures += futures
                calls: list[Callable[[], Awaitable[None]]] = [
                    *(
                        partial(self._round, ids[i : i + IDS_PER_CALL], waiters)
                        for i in range(0, len(ids), IDS_PER_CALL)
                    ),
                    *(partial(self._flow_round, flow_id, ask) for flow_id, ask in flows.items()),
                ]
                self._in_round = True
                try:
                    await _run_few_at_a_time(calls, CALLS_IN_FLIGHT)
                finally:
                    self._in_round = False
                self.rounds += 1
                self._not_before = loop.time() + self.poll_interval * random.uniform(1.0, 1.1)
                if not self._waiters and not self._watchers:  # they come back after handling their answers
                    return
                await asyncio.sleep(self._not_before - loop.time())
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _list(self, params: list[tuple[str, str]]) -> list[Any]:
        """One ``GET /runs`` page through the client."""
        self.calls += 1
        client = self._client()
        if client is None:  # only a client no longer in use goes away: its loop is closing
            raise FlowServiceError("the Flow Service client of this event loop is gone (the loop closed)")
        return unwrap_items(await client.request("GET", "/runs", params=params))

    async def _flow_round(self, flow_id: str, ask: _FlowAsk) -> None:
        """One call for every watch of ``flow_id``; each gets the same runs, or the call's error."""
        params = flow_runs_params(flow_id, [f"updatedAt>={int(ask.since_ms)}"], "updatedAt", ask.limit)
        try:
            items = await self._list(params)
        except Exception as exc:  # handed to the watches, each decides (transient: poll on)
            _settle(ask.futures, exc)
            return
        _settle(ask.futures, [item for item in items if isinstance(item, dict)])

    async def _round(self, ids: list[str], waiters: dict[str, list[asyncio.Future[Any]]]) -> None:
        """One call for up to 100 ids; every waiter of these ids gets its run or an error."""
        params = [property_in("id", ids, "run_id"), ("limit", str(IDS_PER_CALL))]
        try:
            items = await self._list(params)
        except Exception as exc:  # handed to the waiters of these ids, each decides (transient: poll on)
            for run_id in ids:
                _settle(waiters[run_id], exc)
            return
        found = {str(item.get("id")): item for item in items if isinstance(item, dict)}
        for run_id in ids:
            item = found.get(run_id)
            if item is None:
                _settle(waiters[run_id], FlowServiceNotFoundError(f"run {run_id} was not found", status=404))
            else:
                _settle(waiters[run_id], item)


async def _run_few_at_a_time(calls: list[Callable[[], Awaitable[None]]], at_once: int) -> None:
    """Await every call, at most ``at_once`` at a time, each started only when a slot is free.

    Started late, a call also builds its request late: a round of 10,000 ids does not prepare its
    100 requests in one pause of the event loop.
    """
    queue = iter(calls)

    async def worker() -> None:
        for call in queue:  # the workers share the iterator: each takes the next call
            await call()

    await asyncio.gather(*(worker() for _ in range(min(at_once, len(calls)))))


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(None)


def _settle(futures: list[asyncio.Future[Any]], outcome: Any) -> None:
    for future in futures:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def item_status(item: dict[str, Any]) -> str:
    """A run document's ``metrics.statusSummary.status`` (``""`` when not reported), without building a :class:`Run`."""
    metrics = item.get("metrics")
    summary = metrics.get("statusSummary") if isinstance(metrics, dict) else None
    status = summary.get("status") if isinstance(summary, dict) else None
    return status if isinstance(status, str) else ""


_frozen = False


def freeze_startup_objects() -> int | None:
    """Move every object alive now to the collector's permanent generation, once per process.

    Called by the trigger before its first wait in a process (the triggerer, after start-up): the
    modules and long-lived state loaded by then are never scanned again, so a full (oldest
    generation) garbage collection scans only what was made later, mostly the waits themselves,
    and pauses the event loop for milliseconds instead of up to a second. Objects frozen here are
    never freed, including any garbage cycle that happens to exist at this moment (bounded: one
    snapshot per process). See :func:`gc.freeze`.

    :return: how many objects are now frozen, or ``None`` if an earlier call already froze them.
    """
    global _frozen
    if _frozen:
        return None
    _frozen = True
    gc.freeze()
    return gc.get_freeze_count()


def freeze_waits() -> None:
    """Collect, then freeze, the objects alive at the start of a poller's round: the waits, their reads.

    A poller calls it before each round, once the process froze its start-up objects
    (:func:`freeze_startup_objects`, the same option). A wait lives for minutes to hours and holds a
    few dozen objects, and each round's answers age into the oldest generation, so with thousands of
    waits a full collection would come about every round and scan them all, pausing the loop for
    100 ms and more. Frozen, they are skipped: this collection, and any the interpreter starts, scan
    only what was made since the last round. Collecting first keeps garbage cycles out of the frozen
    set (nothing frozen is ever collected); frozen objects are still freed when their last reference
    goes, as a finished wait's or a settled read's are (:func:`gc.freeze`).
    """
    gc.collect(1)
    gc.freeze()


def poll_in_worker(
    hook: FlowServiceHook,
    run_id: str,
    *,
    poll_interval: float,
    timeout: float,
    log: logging.Logger | Any,
    url: str | None = None,
) -> Run:
    """Poll ``GET /runs/{id}`` in the worker until the run is terminal.

    Logs each status change, and every :data:`HEARTBEAT_INTERVAL` seconds without one a "still
    waiting" line (status, time since the run was created, deadline, ``url``).
    """
    deadline = time.monotonic() + timeout
    heartbeat = _Heartbeat()
    last: str | None = None
    while True:
        run = hook.get_run(run_id)
        if run.status != last:
            log.info("Run %s status: %s", run_id, run.status or "unknown")
            last = run.status
            heartbeat.status_changed()
        elif heartbeat.due():
            log.info("%s", heartbeat_message(run, heartbeat.started, heartbeat.started + timeout, url))
        if run_state(run.status) != "running":
            return run
        if time.monotonic() >= deadline:
            raise FlowServiceTimeoutError(f"run {run_id} did not finish within {timeout:.0f}s (status {last})")
        time.sleep(poll_interval)


async def poll_in_triggerer(
    hook: FlowServiceHook,
    *,
    end_time: float,
    poll_interval: float,
    log: logging.Logger | Any,
    run_id: str | None = None,
    flow_id: str | None = None,
    created_after_ms: int | None = None,
) -> WaitOutcome:
    """Poll asynchronously until the run is terminal or ``end_time`` (epoch seconds) passes.

    Give ``run_id``, or ``flow_id`` and ``created_after_ms`` to wait for the flow's first run created
    at or after that time. The run is read by the loop's shared :class:`RunPoller` (which paces the
    reads); looking for a flow's run lists it once per interval. Transient errors keep it polling;
    any other error ends the wait with an ``error`` outcome. Logs status changes, and a "still
    waiting" line with the run's URL every :data:`HEARTBEAT_INTERVAL` seconds without one.
    """
    last_status: str | None = None
    heartbeat = _Heartbeat()
    poller: RunPoller | None = None
    while True:
        try:
            if run_id is None:
                assert flow_id is not None and created_after_ms is not None
                found = await hook.afind_run_created_after(flow_id, created_after_ms)
                if found is not None:
                    run_id = found.id
                    log.info("Flow %s: waiting for run %s", flow_id, found.id)
            if run_id is not None:
                if poller is None:
                    poller = RunPoller.for_client(await hook.get_async_client(), poll_interval)
                remaining = end_time - time.time()
                item = await poller.read(run_id, timeout=remaining) if remaining > 0 else None
                if item is not None:
                    status = item_status(item)
                    if status != last_status:
                        log.info("Run %s status: %s", run_id, status or "unknown")
                        last_status = status
                        heartbeat.status_changed()
                    elif heartbeat.due():  # rare: only then does a running run become a model
                        seen = Run.model_validate(item)
                        creds = hook.credentials  # read by get_async_client already: no sync call here
                        url = run_url(creds.org_id, creds.sandbox, seen.flow_id, seen.id) if seen.flow_id else None
                        log.info("%s", heartbeat_message(seen, heartbeat.started, end_time, url))
                    state = run_state(status)
                    if state != "running":  # only the finished run becomes a model (the event's payload)
                        run = Run.model_validate(item)
                        return WaitOutcome(state, f"run {run_id} finished: {run.status}", run_id, run.status, run)
                    item = None  # not kept alive (with its nested dicts) while waiting for the next round
        except TRANSIENT_ERRORS as exc:
            log.warning("Polling run %s failed (%s); polling again", run_id, exc)
        except Exception as exc:  # a permanent error (not found, auth, bad config) ends the wait
            return WaitOutcome("error", f"waiting for run {run_id} failed: {exc}", run_id, last_status)
        if time.time() >= end_time:
            what = f"run {run_id}" if run_id else f"a run of flow {flow_id}"
            return WaitOutcome(
                "timeout", f"timed out waiting for {what} (last status {last_status})", run_id, last_status
            )
        if run_id is None:  # still looking for the flow's run: list again after an interval
            pause = poll_interval * random.uniform(1.0, 1.1)
            await asyncio.sleep(min(pause, max(0.0, end_time - time.time())))
