"""The one wait path of the run operators and the run sensor: announce, judge, poll or defer, resume.

:class:`RunWait` holds a task's wait settings and does, for any task that waits on a run:

- :meth:`RunWait.announce`: push the run id and the run's URL (the extra link) and log the URL;
- :meth:`RunWait.settle`: judge a run already known to be finished right away, else poll it in the
  worker or defer to :class:`~airflow_flowservice.triggers.run.FlowServiceRunTrigger`;
- :meth:`RunWait.resume`: the run a trigger event reports on (``execute_complete``);
- :meth:`RunWait.finish`: judge the finished run by the policy and push its metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceRunFailedError
from airflow_flowservice.runs.judge import RunPolicy, format_metrics, judge_run, run_from_event, run_state
from airflow_flowservice.runs.poll import poll_in_worker
from airflow_flowservice.ui import RUN_URL_XCOM_KEY, run_url

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run


@dataclass
class RunWait:
    """How one task waits for a run and judges it.

    :param task: the operator or sensor (gives the hook, the log, ``defer`` and the connection id).
    :param policy: the failed-records policy the finished run is judged by.
    :param poll_interval: seconds between polls, in the worker or the triggerer.
    :param timeout: seconds to wait before failing.
    :param deferrable: wait in the triggerer instead of the worker.
    :param trigger_class: the trigger a deferred wait hands over to (the task layer's
        :class:`~airflow_flowservice.triggers.run.FlowServiceRunTrigger`, passed in so that this layer
        never imports the task layer).
    """

    task: Any
    policy: RunPolicy
    poll_interval: float
    timeout: float
    deferrable: bool
    trigger_class: Callable[..., Any]

    def __post_init__(self) -> None:
        from airflow_flowservice.validation import check_seconds

        # Checked before the task makes any call: a bad value would otherwise crash the wait after the run started.
        self.poll_interval = check_seconds(self.poll_interval, "poll_interval")
        self.timeout = check_seconds(self.timeout, "timeout")

    @property
    def hook(self) -> FlowServiceHook:
        hook: FlowServiceHook = self.task.hook
        return hook

    def announce(self, context: Mapping[str, Any], flow_id: str, run_id: str) -> None:
        """Push XCom ``run_id`` and the run's URL, and log the URL (the first thing a user wants)."""
        creds = self.hook.credentials
        url = run_url(creds.org_id, creds.sandbox, flow_id, run_id)
        context["ti"].xcom_push(key="run_id", value=run_id)
        context["ti"].xcom_push(key=RUN_URL_XCOM_KEY, value=url)
        self.task.log.info("Run %s: %s", run_id, url)

    def settle(
        self,
        context: Mapping[str, Any],
        *,
        run_id: str | None = None,
        known: Run | None = None,
        flow_id: str | None = None,
        created_after_ms: int | None = None,
    ) -> Run:
        """The finished run: ``known`` when it is already terminal, else polled in the worker or deferred.

        Deferring raises Airflow's ``TaskDeferred``; the task then resumes in ``execute_complete``
        (:meth:`resume`). Give ``run_id``, or ``flow_id`` and ``created_after_ms`` to wait (deferred
        only) for the flow's first run created at or after that time.
        """
        if known is not None and run_state(known.status) != "running":
            return known
        if self.deferrable:
            self.task.defer(
                trigger=self.trigger_class(
                    flowservice_conn_id=self.task.flowservice_conn_id,
                    run_id=run_id,
                    flow_id=flow_id if run_id is None else None,
                    created_after_ms=created_after_ms if run_id is None else None,
                    end_time=time.time() + self.timeout,
                    poll_interval=self.poll_interval,
                ),
                method_name="execute_complete",
            )
        assert run_id is not None, "an in-worker wait needs the run id"
        return poll_in_worker(
            self.hook, run_id, poll_interval=self.poll_interval, timeout=self.timeout, log=self.task.log
        )

    def resume(self, event: Mapping[str, Any]) -> Run:
        """The run a trigger event reports on; ``timeout`` and ``error`` events raise their message."""
        run = run_from_event(event, self.hook.get_run)
        if event.get("status") == "failed" and run_state(run.status) != "failed":
            raise FlowServiceRunFailedError(str(event.get("message")))
        return run

    def finish(self, context: Mapping[str, Any], run: Run) -> dict[str, Any]:
        """Judge the finished run by the policy (raises when it failed), push XCom ``metrics``, log them."""
        metrics = judge_run(run, self.policy)
        context["ti"].xcom_push(key="metrics", value=metrics)
        self.task.log.info("%s", format_metrics(metrics))
        return metrics
