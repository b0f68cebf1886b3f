"""Deferred wait for a Flow Service run: polls asynchronously in the triggerer, yields one event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_flowservice import DEFAULT_CONN_ID


class FlowServiceRunTrigger(BaseTrigger):
    """
    Wait for a Flow Service run to finish, without holding a worker slot.

    Waits on the triggerer's event loop, where every trigger of one connection and poll interval
    shares one poller (``airflow_flowservice.runs.poller.RunPoller``): each interval it reads all
    their runs with ``GET /runs?property=id==a,b,c`` (100 ids a call), so N waits cost
    ``ceil(N / 100)`` calls an interval, and a wait costs the event loop nothing between the changes
    of its run. It changes nothing in the triggerer process (no garbage-collector settings). Yields exactly one event:
    ``{"status": "success"|"failed"|"timeout"|"error", "run_id", "run_status", "message"}``. Give
    ``run_id``, or ``flow_id`` and ``created_after_ms`` to wait for the first run of a flow created
    at or after that time (a scheduled export run). A ``success`` or ``failed`` event also carries
    ``run``, the run document it saw, so resuming needs no call. The deadline is the absolute
    ``end_time``, so a triggerer restart (which re-creates the trigger from
    ``serialize()``) keeps the original timeout.

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
        from airflow_flowservice.client import path_segment
        from airflow_flowservice.validation import check_seconds

        end_time = check_seconds(end_time, "end_time")
        poll_interval = check_seconds(poll_interval, "poll_interval")
        for name, value in (("run_id", run_id), ("flow_id", flow_id)):
            if value is not None:
                path_segment(value, name)  # it goes into a URL path or a filter: refuse it here, not in the poller
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

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_flowservice.hooks.flowservice import FlowServiceHook
        from airflow_flowservice.runs.poll import poll_in_triggerer

        outcome = await poll_in_triggerer(
            FlowServiceHook(flowservice_conn_id=self.flowservice_conn_id),
            end_time=self.end_time,
            poll_interval=self.poll_interval,
            log=self.log,
            run_id=self.run_id,
            flow_id=self.flow_id,
            created_after_ms=self.created_after_ms,
        )
        yield TriggerEvent(outcome.payload())  # type: ignore[no-untyped-call]
