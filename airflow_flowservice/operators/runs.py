"""On-demand runs for a window: trigger exactly once per flow and window, wait, judge.

As Adobe's guide "Create a flow run for on-demand ingestion using the Flow Service API" describes them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_flowservice._compat import AssetAlias, conf
from airflow_flowservice.exceptions import (
    FlowServiceBadRequestError,
    FlowServiceConfigError,
    FlowServiceError,
)
from airflow_flowservice.links import FlowServiceRunLink
from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator
from airflow_flowservice.operators.waiting import RunWaitMixin, WaitSettings

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_flowservice.models import Flow, Run
    from airflow_flowservice.runs.windows import RunWindow


def _default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class FlowServiceRunOperatorBase(RunWaitMixin, FlowServiceBaseOperator):
    """
    Base of the operators that produce a run and wait for it: the wait settings and the lineage.

    The waiting itself is :class:`~airflow_flowservice.operators.waiting.RunWaitMixin`, which the sensor
    uses too.
    """

    operator_extra_links = (FlowServiceRunLink(),)
    # On-demand runs and re-triggers are features of source dataflows: the link goes to the sources page.
    runs_of_destination_flows = False

    wait_for_completion: bool = argument("wait for the run to finish and judge it.", True, templated=False)
    poll_interval: float = argument("seconds between status polls.", 30.0, templated=False)
    timeout: float = argument(
        "seconds to wait for the run before failing. Default 6 hours.", 6 * 3600.0, templated=False
    )
    deferrable: bool = argument(
        "wait in the triggerer instead of the worker. Default ``[operators] default_deferrable``.",
        _default_deferrable(),
        templated=False,
    )
    max_failed_records: int | None = argument(
        "fail a successful run with more failed records than this. Default no limit.", None, templated=False
    )
    max_failed_ratio: float | None = argument(
        "fail a successful run whose failed/read ratio exceeds this (0..1). Default no limit.", None, templated=False
    )
    asset_alias: str | None = argument(
        "on success, add an Airflow Asset event for each dataset the flow writes (``aep://{org}/{sandbox}/"
        "{dataset id}``, or the export location) to ``AssetAlias(asset_alias)``, which is added to the task's "
        "outlets (see ``docs/lineage.md``). Default none (no events).",
        None,
        templated=False,
    )

    _flow: Flow | None = None  # the flow, when this process read it (lineage reads it once)

    def prepare_arguments(self, values: dict[str, Any], kwargs: dict[str, Any]) -> None:
        """``asset_alias`` joins the task's outlets."""
        if values["asset_alias"]:
            outlets = kwargs.get("outlets") or []
            kwargs["outlets"] = [
                *(outlets if isinstance(outlets, list) else [outlets]),
                AssetAlias(values["asset_alias"]),
            ]

    def wait_settings(self) -> WaitSettings:
        """How this task waits (each setting checked: a bad one is a config error naming it)."""
        return self.checked_wait_settings(
            max_failed_records=self.max_failed_records,
            max_failed_ratio=self.max_failed_ratio,
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            deferrable=self.deferrable,
        )

    def _wait_and_judge(
        self, context: Context, run_id: str, known: Run | None = None, window: tuple[str, RunWindow] | None = None
    ) -> str:
        if not self.wait_for_completion:
            return run_id
        return self._finish(context, self.settle_run(context, run_id=run_id, known=known, window=window))

    def _finish(self, context: Context, run: Run) -> str:
        metrics = self.finish_run(context, run)
        if self.asset_alias:
            self._emit_assets(context, run, metrics)
        return run.id

    def _lineage_flow(self, flow_id: str) -> Flow:
        """The flow (read in ``execute`` when this process ran it, else one ``GET /flows/{id}``)."""
        if self._flow is None or self._flow.id != flow_id:
            self._flow = self.hook.get_flow(flow_id)
        return self._flow

    def _lineage_flow_id(self, run_id: str | None) -> str | None:
        return self.hook.get_run(run_id).flow_id if run_id else None

    def _emit_assets(self, context: Context, run: Run, metrics: dict[str, Any]) -> None:
        from airflow_flowservice.lineage import emit_assets, flow_lineage

        flow_id = run.flow_id or self._lineage_flow_id(run.id)
        if not flow_id or not self.asset_alias:
            raise FlowServiceError(f"run {run.id} names no flow: cannot tell which datasets it wrote")
        outputs = flow_lineage(self.hook, self._lineage_flow(flow_id), inputs=False).outputs
        extra = {k: metrics.get(k) for k in ("flow_id", "run_id", "window_start", "window_end", "records_written")}
        uris = emit_assets(context, self.asset_alias, outputs, extra=extra)
        self.log.info("Asset events (alias %r): %s", self.asset_alias, uris)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any] | None:
        """
        OpenLineage inputs and outputs of the flow this task ran (``None`` without the provider).

        Inputs are what the flow's source connections read, outputs what its target connections
        write (see ``docs/lineage.md``). Reads: the flow (only when this process did not read it in
        ``execute``), each source and target connection, and at most one connection spec and one
        base connection.
        """
        from airflow_flowservice.lineage import (
            aep_namespace,
            flow_lineage,
            openlineage_available,
            task_xcom,
            to_operator_lineage,
        )

        if not openlineage_available():
            return None
        metrics = task_xcom(task_instance, "metrics") or {}
        run_id = metrics.get("run_id") or task_xcom(task_instance, "run_id")
        flow_id = metrics.get("flow_id") or self._lineage_flow_id(run_id)
        if not flow_id:
            return None
        creds = self.hook.credentials
        return to_operator_lineage(
            flow_lineage(self.hook, self._lineage_flow(str(flow_id))),
            metrics=metrics or None,
            run_id=run_id,
            run_source=aep_namespace(creds.org_id, creds.sandbox),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        """Resume after the deferred wait: judge the run the trigger reported on."""
        return self._finish(context, self.resume_run(event))


class FlowServiceTriggerRunOperator(FlowServiceRunOperatorBase):
    """
    Start an on-demand run of a one-time flow for a time window, exactly once, and wait for it.

    The window is the DAG run's data interval unless given, so scheduled, catch-up and backfill runs
    each ingest exactly their window. Before any call it checks the window (not empty, not reversed,
    not in the future) and ``delta_column``. A new window costs three calls whatever the flow's
    history: one page of the flow's runs (the look-up), ``POST /runs`` and the check of the window's
    runs after it. The flow's own rules are the service's: when it refuses the run (a draft flow, a
    frequency other than ``once`` (1386), a ``delta_column`` other than the flow's (1382), none on a
    table-based source's first run (1383)), the task reads the flow and fails saying which rule and
    how to fix it. ``delta_column`` is sent as given; the service keeps the first run's (a table-based
    source is one whose source connection has ``data.format == "tabular"``).

    A run already created for this flow and window (by an earlier try of this task, or a request
    whose answer was lost) is adopted, never duplicated. Two tasks that start the same window at the
    same moment (two DAGs feeding one flow, a manual run next to the scheduled one) are kept apart by
    an Airflow pool of one slot shared by every task that starts this flow's runs (``pool=``); without
    one, the check after ``POST /runs`` fails the task naming every run of the window (``docs/runs.md``).
    Returns the run id; pushes XCom ``run_id``,
    ``window`` (``{"start", "end"}`` epoch seconds), ``flowservice_run_url`` (the extra link) and,
    once finished, ``metrics``.
    """

    flow_id: str = argument("the flow to run.")
    window_start: Any = argument(
        "window start: aware datetime, ISO 8601 string or epoch seconds. Default: ``data_interval_start``.", None
    )
    window_end: Any = argument("window end, same forms. Default: ``data_interval_end``.", None)
    start_time: Any = argument("when the run should start, epoch seconds or datetime. Default now.", None)
    delta_column: str | dict[str, str] | None = argument(
        'the column that separates new from old rows, e.g. ``"updated_at"`` or ``{"name": "updated_at", '
        '"dateFormat": "YYYY-MM-DD", "timezone": "UTC"}``. Default none.',
        None,
    )
    retrigger_failed: bool = argument(
        "when the run adopted for this window had failed, re-trigger it (``RE_TRIGGER``) instead of failing the task.",
        False,
        templated=False,
    )

    def _lineage_flow_id(self, run_id: str | None) -> str | None:
        return str(self.flow_id) if self.flow_id else super()._lineage_flow_id(run_id)

    def _finish(self, context: Context, run: Run) -> str:
        """Judge the run; a failed run fails the task without retry, unless ``retrigger_failed`` (a retry
        adopts the failed run and re-triggers it, so it can help)."""
        from airflow_flowservice.exceptions import FlowServiceRunFailedError
        from airflow_flowservice.runs.judge import run_state

        try:
            return super()._finish(context, run)
        except FlowServiceRunFailedError as exc:
            if not (self.retrigger_failed and run_state(run.status) == "failed"):
                raise
            raise FlowServiceError(
                f"{exc.message} (retrigger_failed=True: a retry of this task re-triggers it)", status=exc.status
            ) from None

    def execute(self, context: Context) -> str:
        from airflow_flowservice.runs.judge import run_state
        from airflow_flowservice.runs.start import start_window_run
        from airflow_flowservice.runs.windows import delta_column_body, resolve_window
        from airflow_flowservice.validation import check_entity_id, to_epoch_seconds

        window = resolve_window(self.window_start, self.window_end, context)
        delta = delta_column_body(self.delta_column)
        self.wait_settings()  # checked before any call
        try:
            start_time = to_epoch_seconds(self.start_time) if self.start_time is not None else int(time.time())
        except ValueError as exc:
            raise FlowServiceConfigError(f"start_time: {exc}") from None
        flow_id = check_entity_id(self.flow_id, "flow_id")
        self.log.info("Flow %s: run for window %s", flow_id, window.describe())
        if self.pool == "default_pool":  # the pool every task is in unless it names one
            self.log.info(
                "Not in a pool of its own: another task starting this window at the same moment would be detected "
                "after both POST /runs, not prevented. Give every task that starts runs of this flow one pool of "
                "one slot to prevent it (docs/runs.md)"
            )
        try:
            started = start_window_run(
                self.hook,
                flow_id,
                window,
                start_time=start_time,
                delta_column=delta,
                first_try=getattr(context["ti"], "try_number", None) == 1,
                memory=context.get("task_state_store"),  # Airflow 3.3+: kept across tries and clears
            )
        except FlowServiceBadRequestError:
            # Refused, nothing created: the flow is read only now, so a new window costs 3 calls, not 4.
            from airflow_flowservice.runs.rules import explain_refusal

            self._flow = explain_refusal(self.hook, flow_id, delta)
            raise
        context["ti"].xcom_push(key="window", value={"start": window.start, "end": window.end})
        run_id, known = started.run_id, started.run
        if started.adopted:
            self.log.info("Adopted run %s, already created for this window (no second run started)", run_id)
            if self.retrigger_failed and known is not None and run_state(known.status) == "failed":
                run_id, known = self.hook.retrigger_run(run_id), None
                self.log.info("Re-triggered the failed run: new run %s", run_id)
        else:
            self.log.info("Started run %s", run_id)
        self.announce_run(context, flow_id, run_id)
        # A run this task started: its wait reads the window, where a concurrent task's run would show.
        started_here = None if started.adopted else (flow_id, window)
        return self._wait_and_judge(context, run_id, known, window=started_here)


class FlowServiceRetriggerRunOperator(FlowServiceRunOperatorBase):
    """
    Re-trigger a failed run (``POST /runs/{run_id}/action?op=RE_TRIGGER``) and wait for the new run.

    Flow Service allows it for failed runs of batch sources, and for successful runs that ingested
    no records (error 1387 otherwise). Returns the new run id; pushes the same XCom as
    :class:`FlowServiceTriggerRunOperator`.
    """

    run_id: str = argument("the run to re-trigger.")

    def execute(self, context: Context) -> str:
        if not str(self.run_id or "").strip():
            raise FlowServiceConfigError("run_id: is empty; pass the id of the failed run to re-trigger")
        self.wait_settings()  # checked before any call
        old = self.hook.get_run(self.run_id)
        new_id = self.hook.retrigger_run(self.run_id)
        self.log.info("Re-triggered run %s as %s", self.run_id, new_id)
        self.announce_run(context, old.flow_id or "", new_id)
        return self._wait_and_judge(context, new_id)
