"""Wait for a Flow Service run to finish and judge it by its completion metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_flowservice import DEFAULT_CONN_ID
from airflow_flowservice._compat import BaseSensorOperator, conf
from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.links import FlowServiceRunLink
from airflow_flowservice.operators.arguments import DeclaredArguments, argument
from airflow_flowservice.operators.failures import FailsWithoutRetry
from airflow_flowservice.operators.templating import DataIntervalTemplates
from airflow_flowservice.operators.waiting import RunWaitMixin, WaitSettings

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run


class FlowServiceRunSensor(
    RunWaitMixin, DeclaredArguments, FailsWithoutRetry, DataIntervalTemplates, BaseSensorOperator
):
    """
    Wait for a Flow Service run to finish, then judge it by its metrics.

    Which run: ``run_id``; or ``flow_id`` with ``window_start``/``window_end`` (the run created for
    that window; both default to the data interval); or ``flow_id`` with ``created_after`` (the
    flow's first run created at or after that time, e.g. a scheduled dataset-export run). A failed
    run, or a successful one beyond the failed-records policy, fails the task with the run's error
    codes; the metrics (records read/written/failed, bytes, files, duration) go to XCom ``metrics``
    and the return value is the run id.

    Works in ``poke`` and ``reschedule`` mode, or deferred (``deferrable=True``) in the triggerer.
    Once a run is found by flow and window (or ``created_after``), it is polled by id, so a run that
    disappears fails the task naming it (in ``reschedule`` mode each poke finds it again by window).

    """

    operator_extra_links = (FlowServiceRunLink(),)
    ui_color = "#fa0f00"

    run_id: str | None = argument("the run to wait for. Default none.", None)
    flow_id: str | None = argument("the flow whose run to wait for. Default none.", None)
    window_start: Any = argument(
        "with ``flow_id``: the run's window start (datetime, ISO 8601 or epoch seconds). Default "
        "``data_interval_start``.",
        None,
    )
    window_end: Any = argument("with ``flow_id``: the run's window end. Default ``data_interval_end``.", None)
    created_after: Any = argument(
        "with ``flow_id``: wait for the first run created at or after this time (datetime, ISO 8601 or epoch "
        "seconds). Default none.",
        None,
    )
    max_failed_records: int | None = argument(
        "fail a successful run with more failed records than this. Default no limit.", None, templated=False
    )
    max_failed_ratio: float | None = argument(
        "fail a successful run whose failed/read ratio exceeds this (0..1). Default no limit.", None, templated=False
    )
    flowservice_conn_id: str = argument(
        "Airflow connection of type ``adobe_flowservice``.", DEFAULT_CONN_ID, templated=False
    )
    deferrable: bool = argument(
        "wait in the triggerer. Default ``[operators] default_deferrable``.",
        conf.getboolean("operators", "default_deferrable", fallback=False),
        templated=False,
    )

    _found_run_id: str | None = None  # the run found by flow + window/time, polled by id from then on

    @property
    def hook(self) -> FlowServiceHook:
        if not hasattr(self, "_hook"):
            from airflow_flowservice.hooks.flowservice import FlowServiceHook

            self._hook = FlowServiceHook(flowservice_conn_id=self.flowservice_conn_id)
        return self._hook

    def wait_settings(self) -> WaitSettings:
        """How this sensor waits (each setting checked: a bad one is a config error naming it)."""
        return self.checked_wait_settings(
            max_failed_records=self.max_failed_records,
            max_failed_ratio=self.max_failed_ratio,
            poll_interval=self.poke_interval,  # positive, finite seconds (or a timedelta)
            timeout=self.timeout,
            deferrable=self.deferrable,
            interval_name="poke_interval",
        )

    def _created_after_ms(self) -> int:
        from airflow_flowservice.validation import to_epoch_seconds

        try:
            return to_epoch_seconds(self.created_after) * 1000
        except ValueError as exc:
            raise FlowServiceConfigError(f"created_after: {exc}") from None

    def _check_input(self) -> None:
        from airflow_flowservice.validation import check_entity_id

        if bool(self.run_id) == bool(self.flow_id):
            raise FlowServiceConfigError("run_id/flow_id: give exactly one (flow_id finds the run of a window)")
        if self.run_id:
            self.run_id = check_entity_id(self.run_id, "run_id")
        else:
            self.flow_id = check_entity_id(self.flow_id, "flow_id")
        self.wait_settings()

    def _find_run(self, context: Context) -> Run | None:
        if self.run_id:
            return self.hook.get_run(self.run_id)
        if self._found_run_id:  # a run that disappears now is an error (404 naming it), not "no run yet"
            return self.hook.get_run(self._found_run_id)
        assert self.flow_id
        if self.created_after is not None:
            from airflow_flowservice.runs.finder import first_run_created_after

            return first_run_created_after(self.hook, self.flow_id, self._created_after_ms())
        from airflow_flowservice.runs.start import find_run_for_window
        from airflow_flowservice.runs.windows import resolve_window

        window = resolve_window(self.window_start, self.window_end, context, now=float("inf"))
        return find_run_for_window(self.hook, self.flow_id, window)

    @staticmethod
    def _running(run: Run) -> bool:
        from airflow_flowservice.runs.judge import run_state

        return run_state(run.status) == "running"

    def poke(self, context: Context) -> bool:
        self._check_input()
        run = self._find_run(context)
        if run is None:
            if self.created_after is not None:
                from airflow_flowservice.validation import describe_instant

                since = describe_instant(self._created_after_ms() // 1000)
                self.log.info("No run of flow %s created since %s yet", self.flow_id, since)
            else:
                self.log.info("No run of flow %s for this window yet", self.flow_id)
            return False
        if self._found_run_id is None and not self.run_id:
            self._found_run_id = run.id
            self.announce_run(context, run.flow_id or "", run.id)
        self.log.info("Run %s status: %s", run.id, run.status or "unknown")
        if self._running(run):
            return False
        self.announce_run(context, run.flow_id or "", run.id)
        self.finish_run(context, run)
        return True

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self._check_input()
        run = self._find_run(context)
        if run is None and self.created_after is None:
            raise FlowServiceConfigError(
                "flow_id: no run exists yet for this window; trigger it first (FlowServiceTriggerRunOperator), "
                "or wait by created_after"
            )
        if run is not None:
            self.announce_run(context, run.flow_id or "", run.id)
        finished = self.settle_run(
            context,
            run_id=run.id if run is not None else None,
            known=run,
            flow_id=self.flow_id,
            created_after_ms=self._created_after_ms() if run is None else None,
        )
        self.finish_run(context, finished)
        return finished.id

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        """Resume after the deferred wait and judge the run."""
        run = self.resume_run(event)
        self.announce_run(context, run.flow_id or "", run.id)
        self.finish_run(context, run)
        return run.id
