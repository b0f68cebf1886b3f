"""The DAGs of the deployment tier (tests/deployment): one flow per scenario, read from Airflow variables.

Hourly data intervals in a past day (start and end dates both in 2024, no catch-up), so the scheduler
creates no run by itself: every DAG run is one a test triggers or backfills. Runs stay ``inProgress``
on the emulator until the test moves its clock, so each poll interval is short.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG
from airflow.timetables.interval import DeltaDataIntervalTimetable

from airflow_flowservice.operators import FlowServiceTriggerRunOperator

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
#: The pool of one slot the race DAGs share (the test creates it: tests/deployment/conftest.py RACE_POOL).
RACE_POOL = "flowservice_race"


def _dag(dag_id: str, retries: int, max_active_runs: int = 4, days: int = 1) -> DAG:
    return DAG(
        dag_id,
        schedule=DeltaDataIntervalTimetable(timedelta(hours=1)),
        start_date=START,
        end_date=START + timedelta(days=days),
        catchup=False,
        is_paused_upon_creation=False,
        max_active_runs=max_active_runs,
        default_args={"retries": retries, "retry_delay": timedelta(seconds=1)},
        tags=["flowservice-deployment-test"],
    )


def _ingest(flow: str, **kwargs: object) -> FlowServiceTriggerRunOperator:
    return FlowServiceTriggerRunOperator(
        task_id=str(kwargs.pop("task_id", "ingest")),
        flow_id=f"{{{{ var.value.{flow} }}}}",
        delta_column="updated_at",
        poll_interval=1.0,
        timeout=600,
        **kwargs,  # type: ignore[arg-type]
    )


# Deferred waits through the triggerer (and a triggerer restart mid-wait).
with _dag("deploy_deferred", retries=1):
    _ingest("flow_deferred", deferrable=True)

# Waits in the worker, with retries (a task process killed mid-wait).
with _dag("deploy_worker", retries=2):
    _ingest("flow_worker", deferrable=False)

# `airflow backfill create`, then again with --reprocess-behavior completed.
with _dag("deploy_backfill", retries=1, max_active_runs=3):
    _ingest("flow_backfill", deferrable=True)

# Errors that cannot succeed on retry: each must fail with one try although retries=2.
with _dag("deploy_errors", retries=2):
    _ingest("flow_deferred", task_id="no_window")  # a manual run with logical_date null has no data interval
    _ingest(
        "flow_failing",
        task_id="failed_run",
        window_start="2024-01-01T00:00:00+00:00",
        window_end="2024-01-01T01:00:00+00:00",
    )

# Two DAGs that start the same flow's windows at the same moment, in a pool of one slot (docs/runs.md):
# the scheduler lets one start at a time, the other adopts the run. No wait, so a slot is held seconds.
for _name in ("deploy_race_a", "deploy_race_b"):
    with _dag(_name, retries=0, max_active_runs=100, days=10):
        _ingest("flow_race", pool=RACE_POOL, wait_for_completion=False)
