"""
Daily incremental ingestion from a table source into Experience Platform, one run per data interval.

Each DAG run (scheduled, catch-up or backfill) ingests exactly its data interval: the trigger task
sends ``windowStartTime``/``windowEndTime`` = the run's ``data_interval_start``/``data_interval_end``
(epoch seconds) to a one-time ("once") flow, with ``deltaColumn`` on the flow's first run only, and
waits for the run in the triggerer (``deferrable=True``). A retried or cleared task adopts the run it
already started instead of starting a second one.

The start date is a fixed day in the past (``START``, 2026-01-01), so ``airflow dags test
incremental_ingest 2026-01-05`` runs every task for the window 2026-01-04..2026-01-05. With
``catchup=True`` an unpaused DAG ingests every day since ``START``: set it to the first day you want.

Connections: ``flowservice_default`` (Flow Service) and ``aep_bigquery`` (the source's credentials:
login = OAuth client id, password = client secret, extra ``project`` and ``refresh_token``).
Against the bundled emulator::

    python -m airflow_flowservice.testing.emulator --port 8081   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    export AIRFLOW_CONN_AEP_BIGQUERY='{"conn_type": "generic", "login": "client", "password": "secret",
                                      "extra": {"project": "acme", "refresh_token": "token"}}'
    airflow dags test incremental_ingest 2026-01-05
    airflow backfill create --dag-id incremental_ingest --from-date 2026-01-01 --to-date 2026-01-07

``airflow backfill create`` only records the backfill: its DAG runs execute when a scheduler, a
dag-processor, a triggerer (the ingest task defers) and an api-server (Airflow 3 workers talk to it)
are running.

What each component needs:

- the connections ``flowservice_default`` and ``aep_bigquery`` on the **workers** (``ensure_dataflow``
  reads both, ``ingest_window`` starts the run), and ``flowservice_default`` on the **triggerer** (it
  waits on the run). A missing one fails the task that reads it, naming the connection;
- the pool ``flowservice_orders`` of **one slot**, in the metadata DB the **scheduler** reads: every task
  that starts this flow's runs takes it, so two DAG runs of one window (a manual run beside the
  scheduled one) cannot both start a run (``docs/runs.md``, "Two tasks starting the same window at
  the same moment"). Create it before unpausing the DAG; without it the scheduler never queues
  ``ingest_window`` (its log says "Tasks using non-existent pool"). ``airflow dags test`` bypasses pools::

      airflow pools set flowservice_orders 1 "one start at a time for the orders flow"

- the DAG **unpaused** (Airflow creates DAGs paused): then it catches up every day since ``START``.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_flowservice.operators import FlowServiceCreateDataflowOperator, FlowServiceTriggerRunOperator
from airflow_flowservice.specs import CRM_TO_AEP_FLOW_SPEC_ID, DATA_LAKE_TARGET_SPEC_ID, GOOGLE_BIGQUERY_SPEC_ID

START = pendulum.datetime(2026, 1, 1, tz="UTC")
#: The pool of one slot shared by every task that starts this flow's runs (create it: see above).
POOL = "flowservice_orders"

log = logging.getLogger(__name__)

with DAG(
    dag_id="incremental_ingest",
    # A data-interval timetable: each run covers [previous midnight, midnight). Airflow 3's default
    # cron timetable (CronTriggerTimetable) gives zero-length intervals, which the operator rejects.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=START,
    catchup=True,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    tags=["flowservice", "example"],
):
    dataflow = FlowServiceCreateDataflowOperator(
        task_id="ensure_dataflow",
        if_exists="reuse",  # the first run creates it; later runs find it by name
        auth_params_from_conn_id="aep_bigquery",
        auth_conn_fields={
            "clientId": "login",
            "clientSecret": "password",
            "project": "extra.project",
            "refreshToken": "extra.refresh_token",
        },
        config={
            "base_connection": {
                "name": "BigQuery orders account",
                "connection_spec_id": GOOGLE_BIGQUERY_SPEC_ID,
                "auth_spec_name": "Basic Authentication",
            },
            "source_connection": {
                "name": "BigQuery orders table",
                "connection_spec_id": GOOGLE_BIGQUERY_SPEC_ID,
                "data": {"format": "tabular"},
                "params": {"tableName": "sales.orders"},
            },
            "target_connection": {
                "name": "Orders dataset",
                "connection_spec_id": DATA_LAKE_TARGET_SPEC_ID,
                "data": {
                    "format": "parquet_xdm",
                    "schema": {
                        "id": "https://ns.adobe.com/acme/schemas/orders",
                        "version": "application/vnd.adobe.xed-full+json;version=1",
                    },
                },
                "params": {"dataSetId": "6155e3a9bd13651949515f14"},
            },
            "flow": {
                "name": "Orders incremental ingestion",
                "flow_spec_id": CRM_TO_AEP_FLOW_SPEC_ID,
                # On-demand runs need a one-time flow (Flow Service error 1386 otherwise).
                "schedule_params": {"start_time": START, "frequency": "once"},
            },
        },
    )

    ingest = FlowServiceTriggerRunOperator(
        task_id="ingest_window",
        flow_id=dataflow.output["flow_id"],
        delta_column={"name": "updated_at", "timezone": "UTC"},
        deferrable=True,
        poll_interval=2,
        max_failed_ratio=0.01,
        pool=POOL,  # one slot: one start at a time for this flow (the wait, deferred, holds no slot)
    )

    @task
    def report(metrics: dict[str, Any]) -> dict[str, Any]:
        """Log the window's run and what it ingested; return the run id and counts for later tasks."""
        start, end = metrics["window_start"], metrics["window_end"]  # epoch seconds
        log.info(
            "Window %s..%s (%s..%s): run %s %s, %s records written, %s failed",
            pendulum.from_timestamp(start).to_iso8601_string(),
            pendulum.from_timestamp(end).to_iso8601_string(),
            start,
            end,
            metrics["run_id"],
            metrics["status"],
            metrics["records_written"],
            metrics["records_failed"],
        )
        return {key: metrics[key] for key in ("run_id", "status", "records_written", "records_failed")}

    report(ingest.output["metrics"])  # type: ignore[arg-type]
