"""The two poll loops of a wait: in the worker (sync) and in the triggerer (async), side by side.

Both read the run until it is terminal, log status changes, and end at an absolute deadline. The
worker loop returns the finished run or raises; the async loop returns a :class:`WaitOutcome`,
which the trigger turns into its one event.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.exceptions import (
    FlowServiceRateLimitError,
    FlowServiceServerError,
    FlowServiceTimeoutError,
    FlowServiceTransportError,
)
from airflow_flowservice.runs.judge import run_state

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run

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
    at or after that time. Transient errors keep it polling; any other error ends the wait with an
    ``error`` outcome.
    """
    last_status: str | None = None
    # Spread the first polls of waits deferred together (a backfill, a triggerer restart) over a
    # tenth of the interval, and lengthen each pause by up to 10%: never more than one poll per
    # interval, and no poll rounds in lockstep on the loop.
    await asyncio.sleep(random.uniform(0, poll_interval / 10))
    while True:
        try:
            if run_id is None:
                assert flow_id is not None and created_after_ms is not None
                found = await hook.afind_run_created_after(flow_id, created_after_ms)
                if found is not None:
                    run_id = found.id
                    log.info("Flow %s: waiting for run %s", flow_id, found.id)
            if run_id is not None:
                run = await hook.aget_run(run_id)
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
        pause = poll_interval * random.uniform(1.0, 1.1)
        await asyncio.sleep(min(pause, max(0.0, end_time - time.time())))
