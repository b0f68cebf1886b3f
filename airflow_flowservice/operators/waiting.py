"""The one wait of the run operators and the run sensor: announce, settle (judge, poll or defer), resume, finish.

:class:`RunWaitMixin` gives a task that waits on a run:

- :meth:`~RunWaitMixin.announce_run`: push the run id and the run's URL (the extra link) and log the URL;
- :meth:`~RunWaitMixin.settle_run`: judge a run already known to be finished right away, else poll it in
  the worker or defer to :class:`~airflow_flowservice.triggers.run.FlowServiceRunTrigger`;
- :meth:`~RunWaitMixin.resume_run`: the run a trigger event reports on (``execute_complete``);
- :meth:`~RunWaitMixin.finish_run`: judge the finished run by the policy and push its metrics.

The task provides what the mixin reads (:class:`WaitingTask`): its hook, its logger, Airflow's ``defer``,
its connection id and its :class:`WaitSettings`. The rules of a run (statuses, metrics, the policy) are
the runs layer's (:mod:`airflow_flowservice.runs.judge`); this module is where they meet Airflow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run
    from airflow_flowservice.runs.judge import RunPolicy
    from airflow_flowservice.runs.windows import RunWindow


@dataclass(frozen=True)
class WaitSettings:
    """How a task waits for a run and judges it (checked when built: :meth:`RunWaitMixin.wait_settings`).

    :param policy: the failed-records policy the finished run is judged by.
    :param poll_interval: seconds between polls, in the worker or the triggerer.
    :param timeout: seconds to wait before failing.
    :param deferrable: wait in the triggerer instead of the worker.
    """

    policy: RunPolicy
    poll_interval: float
    timeout: float
    deferrable: bool


class WaitingTask(Protocol):
    """What :class:`RunWaitMixin` reads of the task it is mixed into (an operator or a sensor)."""

    flowservice_conn_id: str

    @property
    def log(self) -> logging.Logger: ...

    @property
    def hook(self) -> FlowServiceHook: ...

    def defer(self, *, trigger: Any, method_name: str) -> Any: ...

    def wait_settings(self) -> WaitSettings: ...


class RunWaitMixin:
    """Announce, settle, resume and finish a task's wait on a run (module docstring)."""

    #: This try's run page in the Experience Platform UI, for the extra link (``ui.RUN_URL_ATTR``).
    _flowservice_run_url: str | None = None

    #: Whether the task's runs are runs of a destination (dataset export) dataflow, whose link goes to the
    #: Destinations workspace: ``False`` where the task only handles sources' runs (on-demand runs and
    #: re-triggers are sources' features); ``None`` to read it from the flow (once per try).
    runs_of_destination_flows: bool | None = None

    def _task(self) -> WaitingTask:
        return cast("WaitingTask", self)

    def announce_run(self, context: Mapping[str, Any], flow_id: str, run_id: str) -> None:
        """Push XCom ``run_id`` and the run's URL, and log the URL (the first thing a user wants)."""
        from airflow_flowservice.ui import RUN_URL_XCOM_KEY

        url = self.remember_run_url(flow_id, run_id)
        context["ti"].xcom_push(key="run_id", value=run_id)
        context["ti"].xcom_push(key=RUN_URL_XCOM_KEY, value=url)
        self._task().log.info("Run %s: %s", run_id, url)

    def remember_run_url(self, flow_id: str, run_id: str) -> str:
        """The run's URL, also kept on the task for its extra link.

        A source dataflow's run links to the run's page; a destination (dataset export) dataflow's run to the
        dataflow's page in the Destinations workspace (its *Dataflow runs* tab): :mod:`airflow_flowservice.ui`.
        The tenant in the address is the connection's extra ``ui_tenant`` (default: the org id).
        """
        from airflow_flowservice.ui import run_url

        creds = self._task().hook.credentials
        self._flowservice_run_url = run_url(
            creds.org_id,
            creds.sandbox,
            flow_id,
            run_id,
            tenant=creds.ui_tenant,
            destination=self._destination_flow(flow_id),
        )
        return self._flowservice_run_url

    def _destination_flow(self, flow_id: str) -> bool:
        """Whether ``flow_id`` is a destination dataflow: :attr:`runs_of_destination_flows`, or one flow read."""
        if self.runs_of_destination_flows is not None:
            return self.runs_of_destination_flows
        known: dict[str, bool] = self.__dict__.setdefault("_flowservice_destination_flows", {})
        if flow_id not in known:
            from airflow_flowservice.exceptions import FlowServiceError
            from airflow_flowservice.specs import is_destination_flow

            try:
                known[flow_id] = is_destination_flow(self._task().hook.get_flow(flow_id))
            except FlowServiceError as exc:  # the run is known; only its link's page is not
                self._task().log.warning(
                    "Could not read flow %s to tell a source from a destination dataflow (%s): the run link "
                    "goes to the sources page",
                    flow_id,
                    exc,
                )
                known[flow_id] = False
        return known[flow_id]

    def settle_run(
        self,
        context: Mapping[str, Any],
        *,
        run_id: str | None = None,
        known: Run | None = None,
        flow_id: str | None = None,
        created_after_ms: int | None = None,
        window: tuple[str, RunWindow] | None = None,
    ) -> Run:
        """The finished run: ``known`` when it is already terminal, else polled in the worker or deferred.

        ``window`` (the run's flow and window, when the task started it) makes the worker's polls read the
        window's runs: a second run of the window fails the task too, naming both (no extra call).

        Deferring raises Airflow's ``TaskDeferred``; the task then resumes in ``execute_complete``
        (:meth:`resume_run`). Give ``run_id``, or ``flow_id`` and ``created_after_ms`` to wait (deferred
        only) for the flow's first run created at or after that time.
        """
        from airflow_flowservice.runs.judge import run_state
        from airflow_flowservice.runs.poll import poll_in_worker

        task = self._task()
        settings = task.wait_settings()
        if known is not None and run_state(known.status) != "running":
            how = "without deferring" if settings.deferrable else "without polling"
            task.log.info("Run %s has already finished (%s): judging it now, %s", known.id, known.status, how)
            return known
        if settings.deferrable:
            from airflow_flowservice.triggers.run import FlowServiceRunTrigger

            task.defer(
                trigger=FlowServiceRunTrigger(
                    flowservice_conn_id=task.flowservice_conn_id,
                    run_id=run_id,
                    flow_id=flow_id if run_id is None else None,
                    created_after_ms=created_after_ms if run_id is None else None,
                    end_time=time.time() + settings.timeout,
                    poll_interval=settings.poll_interval,
                ),
                method_name="execute_complete",
            )
        assert run_id is not None, "an in-worker wait needs the run id"
        return poll_in_worker(
            task.hook,
            run_id,
            poll_interval=settings.poll_interval,
            timeout=settings.timeout,
            log=task.log,
            url=self._flowservice_run_url,
            window=window,
        )

    def resume_run(self, event: Mapping[str, Any]) -> Run:
        """The run a trigger event reports on; ``timeout`` and ``error`` events raise their message."""
        from airflow_flowservice.exceptions import FlowServiceRunFailedError
        from airflow_flowservice.runs.judge import run_from_event, run_state

        run = run_from_event(event, self._task().hook.get_run)
        if run.flow_id:  # the resumed try runs in a new process: its extra link names the run again
            self.remember_run_url(run.flow_id, run.id)
        if event.get("status") == "failed" and run_state(run.status) != "failed":
            raise FlowServiceRunFailedError(str(event.get("message")))
        return run

    def finish_run(self, context: Mapping[str, Any], run: Run) -> dict[str, Any]:
        """Judge the finished run by the policy (raises when it failed), push XCom ``metrics``, log them."""
        from airflow_flowservice.runs.judge import format_metrics, judge_run

        task = self._task()
        metrics = judge_run(run, task.wait_settings().policy)
        context["ti"].xcom_push(key="metrics", value=metrics)
        task.log.info("%s", format_metrics(metrics))
        return metrics

    @staticmethod
    def checked_wait_settings(
        *,
        max_failed_records: int | None,
        max_failed_ratio: float | None,
        poll_interval: Any,
        timeout: Any,
        deferrable: bool,
        interval_name: str = "poll_interval",
    ) -> WaitSettings:
        """:class:`WaitSettings` from a task's arguments, each checked (a config error names the bad one).

        :param interval_name: the task's name for ``poll_interval`` (a sensor's is ``poke_interval``).
        """
        from airflow_flowservice.runs.judge import RunPolicy
        from airflow_flowservice.validation import check_seconds

        return WaitSettings(
            RunPolicy(max_failed_records=max_failed_records, max_failed_ratio=max_failed_ratio),
            check_seconds(poll_interval, interval_name),
            check_seconds(timeout, "timeout"),
            deferrable,
        )
