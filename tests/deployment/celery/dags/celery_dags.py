"""The DAGs of the Celery deployment tier (tests/deployment/celery): one flow per scenario, read from Airflow variables.

Hourly data intervals in a past day, no catch-up: every DAG run is one a test triggers. Each pair of
racing DAGs has one DAG on each worker's queue, so the two tasks of a window run on different workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG
from airflow.timetables.interval import DeltaDataIntervalTimetable

from airflow_flowservice.operators import FlowServiceTriggerRunOperator

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
#: The pool of one slot of the pooled race (the test creates it: tests/deployment/celery/conftest.py POOL).
POOL = "flowservice_celery_race"
#: The two workers' queues (tests/deployment/celery/conftest.py QUEUES).
QUEUE_A, QUEUE_B = "flowservice_a", "flowservice_b"


def _dag(dag_id: str, retries: int) -> DAG:
    return DAG(
        dag_id,
        schedule=DeltaDataIntervalTimetable(timedelta(hours=1)),
        start_date=START,
        end_date=START + timedelta(days=1),
        catchup=False,
        is_paused_upon_creation=False,
        max_active_runs=24,
        default_args={"retries": retries, "retry_delay": timedelta(seconds=1)},
        tags=["flowservice-deployment-test"],
    )


def _ingest(flow: str, queue: str, **kwargs: object) -> FlowServiceTriggerRunOperator:
    return FlowServiceTriggerRunOperator(
        task_id="ingest",
        flow_id=f"{{{{ var.value.{flow} }}}}",
        delta_column="updated_at",
        poll_interval=1.0,
        timeout=600,
        queue=queue,
        **kwargs,  # type: ignore[arg-type]
    )


# Two DAGs starting one flow's windows at the same moment, in a pool of one slot (docs/runs.md), and
# without a pool. No wait: a task holds its slot for its start phase only.
for _queue, _suffix in ((QUEUE_A, "a"), (QUEUE_B, "b")):
    with _dag(f"celery_pool_{_suffix}", retries=0):
        _ingest("flow_pool", _queue, pool=POOL, wait_for_completion=False)
    with _dag(f"celery_race_{_suffix}", retries=0):
        _ingest("flow_race", _queue, wait_for_completion=False)

# A wait in the worker (not deferred), with retries: its Celery worker is killed mid-wait.
with _dag("celery_worker", retries=2):
    _ingest("flow_worker", QUEUE_A, deferrable=False)

# Deferred waits, on two triggerers: one is stopped mid-wait. No retry: the waits must move, not restart.
with _dag("celery_deferred", retries=0):
    _ingest("flow_deferred", QUEUE_B, deferrable=True)
