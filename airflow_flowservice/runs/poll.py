"""The two poll loops of a wait: in the worker (sync) and in the triggerer (async), side by side.

Both read the run until it is terminal, log status changes and a heartbeat line
(:mod:`~airflow_flowservice.runs.heartbeat`), and end at an absolute deadline. The worker loop returns the
finished run or raises; the async wait returns a :class:`WaitOutcome`, which the trigger turns into its
one event. The async waits of one event loop do not poll one by one: they register with the loop's
shared :class:`~airflow_flowservice.runs.poller.RunPoller`, which reads all their runs each interval.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.exceptions import FlowServiceTimeoutError
from airflow_flowservice.runs.heartbeat import Heartbeat, heartbeat_message
from airflow_flowservice.runs.judge import run_state

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run
    from airflow_flowservice.runs.windows import RunWindow

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
        """``{"status", "run_id", "run_status", "message"}``, plus ``summary``: the finished run's metrics
        (:func:`~airflow_flowservice.runs.judge.run_metrics`), all resuming the task needs, with no call."""
        payload: dict[str, Any] = {
            "status": self.status,
            "run_id": self.run_id,
            "run_status": self.run_status,
            "message": self.message,
        }
        if self.run is not None:
            from airflow_flowservice.runs.judge import run_metrics

            payload["summary"] = run_metrics(self.run)
        return payload


def poll_in_worker(
    hook: FlowServiceHook,
    run_id: str,
    *,
    poll_interval: float,
    timeout: float,
    log: logging.Logger | Any,
    url: str | None = None,
    window: tuple[str, RunWindow] | None = None,
) -> Run:
    """Poll the run in the worker until it is terminal: ``GET /runs/{id}``, or, given its ``(flow id, window)``,
    the flow's newest page of runs, which costs the same one call and also shows another run of the window
    (two tasks that started it at once): the wait then fails naming both, when the run finished.

    Logs each status change, and every :data:`HEARTBEAT_INTERVAL` seconds without one a "still
    waiting" line (status, time since the run was created, deadline, ``url``).
    """
    deadline = time.monotonic() + timeout
    heartbeat = Heartbeat()
    last: str | None = None
    others: list[str] = []
    while True:
        run, others = _read(hook, run_id, window, others)
        if run.status != last:
            log.info("Run %s status: %s", run_id, run.status or "unknown")
            last = run.status
            heartbeat.status_changed()
        elif heartbeat.due():
            log.info("%s", heartbeat_message(run, heartbeat.started, heartbeat.started + timeout, url))
        if run_state(run.status) != "running":
            if window is not None and others:
                from airflow_flowservice.runs.start import duplicate_runs_error

                raise duplicate_runs_error(window[0], window[1], [run_id, *others])
            return run
        if time.monotonic() >= deadline:
            raise FlowServiceTimeoutError(f"run {run_id} did not finish within {timeout:.0f}s (status {last})")
        time.sleep(poll_interval)


def _read(
    hook: FlowServiceHook, run_id: str, window: tuple[str, RunWindow] | None, others: list[str]
) -> tuple[Run, list[str]]:
    """The run, and the other runs of its window seen so far (read with the run when the window is known)."""
    if window is None:
        return hook.get_run(run_id), others
    from airflow_flowservice.runs.start import window_runs

    runs = window_runs(hook, *window)
    found = next((run for run in runs if run.id == run_id), None)
    seen = [*others, *(run.id for run in runs if run.id != run_id and run.id not in others)]
    return (found if found is not None else hook.get_run(run_id)), seen  # past the page: read it alone


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
    """Wait asynchronously until the run is terminal or ``end_time`` (epoch seconds) passes.

    Give ``run_id``, or ``flow_id`` and ``created_after_ms`` to wait for the flow's first run created
    at or after that time. Both go through the event loop's shared
    :class:`~airflow_flowservice.runs.poller.RunPoller` for ``poll_interval``: the run is read with the
    others' in ``GET /runs?property=id==...``, and the flow's new run is looked for in the flow's
    listing of the same rounds. The poller logs status changes and a "still waiting" line with the
    run's URL every :data:`~airflow_flowservice.runs.heartbeat.HEARTBEAT_INTERVAL` seconds without one.
    Transient errors keep it waiting; any other error (not found, auth, bad config) ends the wait with
    an ``error`` outcome.
    """
    from airflow_flowservice.runs.finder import await_run_created_after
    from airflow_flowservice.runs.poller import RunPoller

    watch = None
    try:
        poller = await RunPoller.of(hook, poll_interval)
        if run_id is None:
            assert flow_id is not None and created_after_ms is not None
            run_id = await await_run_created_after(poller, flow_id, created_after_ms, end_time, log)
            if run_id is None:
                return WaitOutcome("timeout", f"timed out waiting for a run of flow {flow_id}", None, None)
            log.info("Flow %s: waiting for run %s", flow_id, run_id)
        watch = poller.watch(run_id, end_time, log)
        try:
            polled = await watch.future
        finally:
            poller.forget(watch)
    except Exception as exc:  # a permanent error (not found, auth, bad config) ends the wait
        last = watch.status if watch is not None else None
        return WaitOutcome("error", f"waiting for run {run_id} failed: {exc}", run_id, last)
    if polled is None:
        return WaitOutcome(
            "timeout", f"timed out waiting for run {run_id} (last status {watch.status})", run_id, watch.status
        )
    run = polled.run()  # only the finished run is decoded whole (the event's payload)
    state: OutcomeStatus = "success" if run_state(run.status) == "success" else "failed"
    return WaitOutcome(state, f"run {run_id} finished: {run.status}", run_id, run.status, run)
