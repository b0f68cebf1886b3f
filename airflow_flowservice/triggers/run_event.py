"""Event-driven scheduling: an ``AssetWatcher`` trigger that fires when a run of a flow finishes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_flowservice import DEFAULT_CONN_ID
from airflow_flowservice.exceptions import FlowServiceConfigError

#: The outcomes the trigger can report (a finished run's state); checked at DAG parse time.
_STATUSES = ("success", "failed")
#: Where the trigger learns that runs finished (``auto``: the journal when the connection has one).
_SOURCES = ("auto", "journal", "poll")


class FlowServiceRunEventTrigger(BaseEventTrigger):
    """
    Fire once for each run of a Flow Service dataflow (or of any dataflow of the sandbox) that finishes.

    Use it in an ``AssetWatcher``: a DAG scheduled on the asset runs once per finished run (a scheduled
    source flow, a dataset export flow on its own schedule in Experience Platform, or, with
    ``flow_id=None`` and ``statuses=("failed",)``, every failed run of the sandbox)::

        from airflow.sdk import Asset, AssetWatcher

        exports = Asset(
            "aep_daily_export",
            watchers=[AssetWatcher(name="export_runs", trigger=FlowServiceRunEventTrigger(flow_id=FLOW_ID))],
        )

    The event's payload: ``run_id``, ``flow_id``, ``event_id``, ``source`` (``journal`` or ``poll``),
    ``status`` (``success`` or ``failed``), ``window`` (``{"start", "end"}`` epoch seconds with
    ``start_iso``/``end_iso``, or ``None``) and ``metrics``, the run's metrics as
    :class:`~airflow_flowservice.operators.FlowServiceTriggerRunOperator` pushes them (records, bytes,
    files, duration, errors).

    Two sources (``docs/events.md`` has the trade-offs): Adobe I/O Events' flow-run notifications, read
    from the connection's journal (extra ``events_journal_url``), one read per interval for every watch of
    the triggerer; or polling, one ``GET /runs`` per interval per flow (one for the whole sandbox with
    ``flow_id=None``). ``source="auto"`` reads the journal when the connection has one. A journal that
    keeps failing makes the watch fall back to polling (logged once). Transient errors keep it going;
    after ``max_consecutive_failures`` failed polls in a row it raises, and the triggerer records the
    failure and starts the watch again. Other errors (credentials, permissions, a flow that does not
    exist, checked at the first read) raise at once.

    Only runs that finish after the watch starts are reported. Delivery is at least once: on Airflow
    3.3+ the watch's position is kept in the asset state store, saved a round after the runs before it
    were handed to the triggerer, so a triggerer that dies in between reports them again after its
    restart (de-duplicate on ``run_id``); none is lost. Before 3.3 (or when several assets share one
    trigger) a restarted watch starts from now.

    :param flow_id: the dataflow whose runs to watch; ``None`` watches every flow of the connection's sandbox.
    :param flowservice_conn_id: Airflow connection of type ``adobe_flowservice``.
    :param poll_interval: seconds between reads (each pause is up to 10% longer). Default 60.
    :param statuses: the outcomes to report: ``success``, ``failed`` or both. Default ``("success",)``.
    :param source: ``"auto"`` (default), ``"journal"`` or ``"poll"``.
    :param max_consecutive_failures: failed reads in a row (transient errors) before the trigger raises
        (polling) or falls back to polling (journal). Default 5.
    """

    def __init__(
        self,
        flow_id: str | None = None,
        flowservice_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 60,
        statuses: Sequence[str] = ("success",),
        max_consecutive_failures: int = 5,
        source: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        if flow_id is not None and (not isinstance(flow_id, str) or not flow_id.strip()):
            raise FlowServiceConfigError(
                f"flow_id: must be the id of a dataflow, or None for every flow of the sandbox (got {flow_id!r})"
            )
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or poll_interval <= 0:
            raise FlowServiceConfigError(f"poll_interval: must be a number of seconds > 0 (got {poll_interval!r})")
        if (
            isinstance(max_consecutive_failures, bool)
            or not isinstance(max_consecutive_failures, int)
            or max_consecutive_failures < 1
        ):
            raise FlowServiceConfigError(
                f"max_consecutive_failures: must be an integer >= 1 (got {max_consecutive_failures!r})"
            )
        values = (statuses,) if isinstance(statuses, str) else tuple(statuses)
        normalized = tuple(str(s).strip().lower() for s in values)
        if not normalized or any(s not in _STATUSES for s in normalized):
            raise FlowServiceConfigError(
                f"statuses: must list one or more of {', '.join(_STATUSES)} (got {list(values)!r})"
            )
        if source not in _SOURCES:
            raise FlowServiceConfigError(f"source: must be one of {', '.join(_SOURCES)} (got {source!r})")
        self.flow_id = flow_id.strip() if flow_id is not None else None
        self.flowservice_conn_id = flowservice_conn_id
        self.poll_interval = poll_interval
        self.statuses = normalized
        self.max_consecutive_failures = max_consecutive_failures
        self.source = source

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_flowservice.triggers.run_event.FlowServiceRunEventTrigger",
            {
                "flow_id": self.flow_id,
                "flowservice_conn_id": self.flowservice_conn_id,
                "poll_interval": self.poll_interval,
                "statuses": list(self.statuses),
                "max_consecutive_failures": self.max_consecutive_failures,
                "source": self.source,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_flowservice._compat import AssetStateStore
        from airflow_flowservice.hooks.flowservice import FlowServiceHook
        from airflow_flowservice.runs.events import CURSOR_KEY
        from airflow_flowservice.runs.watch import watch_finished_runs

        async for payload in watch_finished_runs(
            FlowServiceHook(flowservice_conn_id=self.flowservice_conn_id),
            self.flow_id,
            statuses=self.statuses,
            source=self.source,  # type: ignore[arg-type]  # checked in __init__
            poll_interval=self.poll_interval,
            max_consecutive_failures=self.max_consecutive_failures,
            log=self.log,
            store=AssetStateStore.of(self, CURSOR_KEY, self.log),
        ):
            yield TriggerEvent(payload)  # type: ignore[no-untyped-call]
