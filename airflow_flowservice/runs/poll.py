"""The two poll loops of a wait: in the worker (sync) and in the triggerer (async), side by side.

Both read the run until it is terminal, log status changes, and end at an absolute deadline. The
worker loop returns the finished run or raises; the async loop returns a :class:`WaitOutcome`,
which the trigger turns into its one event.

The async waits of one event loop do not poll one by one: a :class:`RunPoller` per client (one
connection and token) and poll interval reads, each interval, every run waited for with
``GET /runs?property=id==a,b,c`` (up to 100 ids a call; a comma ORs values, Adobe's "Filter
Platform API responses" page), and hands each waiter its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.client import property_in, unwrap_items
from airflow_flowservice.exceptions import (
    FlowServiceNotFoundError,
    FlowServiceRateLimitError,
    FlowServiceServerError,
    FlowServiceTimeoutError,
    FlowServiceTransportError,
)
from airflow_flowservice.models import Run
from airflow_flowservice.runs.judge import run_state

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.client import AsyncFlowServiceClient
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

# Errors worth polling through (the client already retried them); anything else ends the wait.
TRANSIENT_ERRORS = (FlowServiceServerError, FlowServiceTransportError, FlowServiceRateLimitError)

OutcomeStatus = Literal["success", "failed", "timeout", "error"]


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


class RunPoller:
    """Reads every run its waiters wait for, each interval, in ``ceil(N / 100)`` calls.

    One per async client (so per event loop and credentials) and poll interval: see :meth:`for_client`.
    :meth:`read` returns a run's document at the next round. A round lists the waited-for ids with
    ``GET /runs?property=id==a,b,c&limit=100``; a run missing from the answer fails its waiters with
    :class:`~airflow_flowservice.exceptions.FlowServiceNotFoundError` naming it; a failed call fails
    only the waiters of its ids (with its error); the poller itself never stops while waited on.

    :param client: the async client the calls go through.
    :param poll_interval: seconds between rounds (each pause up to 10% longer).
    """

    _registry: weakref.WeakKeyDictionary[AsyncFlowServiceClient, dict[float, RunPoller]] = weakref.WeakKeyDictionary()

    def __init__(self, client: AsyncFlowServiceClient, poll_interval: float) -> None:
        self.client = client
        self.poll_interval = poll_interval
        self._waiters: dict[str, list[asyncio.Future[Run]]] = {}
        self._task: asyncio.Task[None] | None = None
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
        return sum(len(futures) for futures in self._waiters.values())

    async def read(self, run_id: str) -> Run:
        """The run's document, read in the poller's next round."""
        future: asyncio.Future[Run] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(run_id, []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name=f"flowservice-run-poller-{self.poll_interval:g}s")
        try:
            return await future
        finally:  # cancelled (the wait's deadline, or the trigger cancelled): stop asking for it
            futures = self._waiters.get(run_id)
            if futures is not None and future in futures:
                futures.remove(future)
                if not futures:
                    del self._waiters[run_id]

    async def _loop(self) -> None:
        # The first round comes within a tenth of the interval, so that waits deferred together
        # (a backfill, a triggerer restart) join it; later rounds every interval plus up to 10%,
        # never sooner than that after the last round, even when the loop restarts.
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(random.uniform(0, self.poll_interval / 10), self._not_before - loop.time()))
        while self._waiters:
            waiters, self._waiters = self._waiters, {}
            ids = list(waiters)
            await asyncio.gather(
                *(self._round(ids[i : i + IDS_PER_CALL], waiters) for i in range(0, len(ids), IDS_PER_CALL))
            )
            self.rounds += 1
            self._not_before = loop.time() + self.poll_interval * random.uniform(1.0, 1.1)
            await asyncio.sleep(self._not_before - loop.time())

    async def _round(self, ids: list[str], waiters: dict[str, list[asyncio.Future[Run]]]) -> None:
        """One call for up to 100 ids; every waiter of these ids gets its run or an error."""
        self.calls += 1
        params = [property_in("id", ids, "run_id"), ("limit", str(IDS_PER_CALL))]
        try:
            items = unwrap_items(await self.client.request("GET", "/runs", params=params))
        except Exception as exc:  # handed to the waiters of these ids, each decides (transient: poll on)
            for run_id in ids:
                _settle(waiters[run_id], exc)
            return
        found = {str(item.get("id")): item for item in items if isinstance(item, dict)}
        for run_id in ids:
            item = found.get(run_id)
            if item is None:
                _settle(waiters[run_id], FlowServiceNotFoundError(f"run {run_id} was not found", status=404))
                continue
            try:
                _settle(waiters[run_id], Run.model_validate(item))
            except Exception as exc:  # one malformed run fails its own waiters only
                _settle(waiters[run_id], exc)


def _settle(futures: list[asyncio.Future[Run]], outcome: Run | BaseException) -> None:
    for future in futures:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def poll_in_worker(
    hook: FlowServiceHook, run_id: str, *, poll_interval: float, timeout: float, log: logging.Logger | Any
) -> Run:
    """Poll ``GET /runs/{id}`` in the worker until the run is terminal; log status changes."""
    deadline = time.monotonic() + timeout
    last: str | None = None
    while True:
        run = hook.get_run(run_id)
        if run.status != last:
            log.info("Run %s status: %s", run_id, run.status or "unknown")
            last = run.status
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
    any other error ends the wait with an ``error`` outcome.
    """
    last_status: str | None = None
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
                run: Run | None = None
                if remaining > 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        run = await asyncio.wait_for(poller.read(run_id), timeout=remaining)
                if run is not None:
                    if run.status != last_status:
                        log.info("Run %s status: %s", run_id, run.status or "unknown")
                        last_status = run.status
                    state = run_state(run.status)
                    if state != "running":
                        return WaitOutcome(state, f"run {run_id} finished: {run.status}", run_id, run.status, run)
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
