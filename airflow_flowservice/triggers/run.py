"""Deferred wait for a Flow Service run: polls asynchronously in the triggerer, yields one event."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_flowservice import DEFAULT_CONN_ID, runs
from airflow_flowservice.exceptions import (
    FlowServiceRateLimitError,
    FlowServiceServerError,
    FlowServiceTransportError,
)
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.links import run_url
from airflow_flowservice.models import Run
from airflow_flowservice.runs import run_state

# Errors worth polling through (the client already retried them); anything else ends the wait.
_TRANSIENT = (FlowServiceServerError, FlowServiceTransportError, FlowServiceRateLimitError)


class FlowServiceRunTrigger(BaseTrigger):
    """
    Wait for a Flow Service run to finish, without holding a worker slot.

    Polls ``GET /runs/{run_id}`` on the triggerer's event loop (one shared async client and token per
    loop) and yields exactly one event: ``{"status": "success"|"failed"|"timeout"|"error", "run_id",
    "run_status", "message"}``. Give ``run_id``, or ``flow_id`` and ``created_after_ms`` to wait for
    the first run of a flow created at or after that time (a scheduled export run). A ``success``
    or ``failed`` event also carries ``run``, the run document it saw, so resuming needs no call. The deadline is
    the absolute ``end_time``, so a triggerer restart (which re-creates the trigger from
    :meth:`serialize`) keeps the original timeout. Status changes are logged, and every
    :data:`~airflow_flowservice.runs.HEARTBEAT_INTERVAL` seconds without one a "still waiting" line
    (status, time since the run was created, deadline, the run's AEP page).

    :param flowservice_conn_id: Airflow connection of type ``adobe_flowservice``.
    :param end_time: epoch seconds after which the wait ends with a ``timeout`` event.
    :param run_id: the run to wait for.
    :param flow_id: with ``created_after_ms``, wait for the flow's first run created at or after it.
    :param created_after_ms: epoch milliseconds (see ``flow_id``).
    :param poll_interval: seconds between polls (each pause is up to 10% longer, and the first poll
        comes within a tenth of it, so waits deferred together do not poll in lockstep). Default 30.
    """

    def __init__(
        self,
        *,
        flowservice_conn_id: str = DEFAULT_CONN_ID,
        end_time: float,
        run_id: str | None = None,
        flow_id: str | None = None,
        created_after_ms: int | None = None,
        poll_interval: float = 30.0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if run_id is None and (flow_id is None or created_after_ms is None):
            raise ValueError("FlowServiceRunTrigger needs run_id, or flow_id and created_after_ms")
        self.flowservice_conn_id = flowservice_conn_id
        self.end_time = end_time
        self.run_id = run_id
        self.flow_id = flow_id
        self.created_after_ms = created_after_ms
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_flowservice.triggers.run.FlowServiceRunTrigger",
            {
                "flowservice_conn_id": self.flowservice_conn_id,
                "end_time": self.end_time,
                "run_id": self.run_id,
                "flow_id": self.flow_id,
                "created_after_ms": self.created_after_ms,
                "poll_interval": self.poll_interval,
            },
        )

    def _event(self, status: str, message: str, run_status: str | None = None, run: Run | None = None) -> TriggerEvent:
        payload: dict[str, Any] = {
            "status": status,
            "run_id": self.run_id,
            "run_status": run_status,
            "message": message,
        }
        if run is not None:  # the finished run, so that resuming the task needs no GET
            payload["run"] = run.model_dump(mode="json", by_alias=True, exclude_none=True)
        return TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = FlowServiceHook(flowservice_conn_id=self.flowservice_conn_id)
        last_status: str | None = None
        started = last_line = time.time()
        # Spread the first polls of waits deferred together (a backfill, a triggerer restart) over a
        # tenth of the interval, and lengthen each pause by up to 10%: never more than one poll per
        # interval, and no poll rounds in lockstep on the loop.
        await asyncio.sleep(random.uniform(0, self.poll_interval / 10))
        while True:
            try:
                if self.run_id is None:
                    assert self.flow_id is not None and self.created_after_ms is not None
                    found = await hook.afind_run_created_after(self.flow_id, self.created_after_ms)
                    if found is not None:
                        self.run_id = found.id
                        self.log.info("Flow %s: waiting for run %s", self.flow_id, found.id)
                if self.run_id is not None:
                    run = await hook.aget_run(self.run_id)
                    if run.status != last_status:
                        self.log.info("Run %s status: %s", self.run_id, run.status or "unknown")
                        last_status, last_line = run.status, time.time()
                    elif time.time() - last_line >= runs.HEARTBEAT_INTERVAL:
                        creds = await hook.aget_credentials()
                        url = run_url(creds.org_id, creds.sandbox, run.flow_id, run.id) if run.flow_id else None
                        self.log.info("%s", runs.heartbeat_message(run, started, self.end_time, url))
                        last_line = time.time()
                    state = run_state(run.status)
                    if state != "running":
                        yield self._event(state, f"run {self.run_id} finished: {run.status}", run.status, run)
                        return
            except _TRANSIENT as exc:
                self.log.warning("Polling run %s failed (%s); polling again", self.run_id, exc)
            except Exception as exc:  # a permanent error (not found, auth, bad config) ends the wait
                yield self._event("error", f"waiting for run {self.run_id} failed: {exc}", last_status)
                return
            if time.time() >= self.end_time:
                what = f"run {self.run_id}" if self.run_id else f"a run of flow {self.flow_id}"
                yield self._event("timeout", f"timed out waiting for {what} (last status {last_status})", last_status)
                return
            pause = self.poll_interval * random.uniform(1.0, 1.1)
            await asyncio.sleep(min(pause, max(0.0, self.end_time - time.time())))
