"""The DAG of the deployment tier's first-hour scenario (tests/deployment/test_first_hour.py), deployed by it.

Next to this file, ``first_hour.json`` (``{"flow_id", "export_run_id"}``): a table source flow and a finished run
of a dataset-export flow, both on the emulator. The connection ``flowservice_first_hour`` is the one the scenario
saves through the browser's Add Connection form (with ``ui_tenant``). Triggered with ``logical_date: null``:

- ``ingest`` starts a run for an explicit window (no data interval needed) and returns: its run link is a
  source dataflow's run page;
- ``export_run`` waits for the finished export run: its link is the export dataflow's page in Destinations;
- ``export_no_interval`` templates the data interval the run does not have: it fails at once (one try of three)
  with the run operator's "no data interval" message, not Jinja's ``'data_interval_end' is undefined``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.sdk import DAG

from airflow_flowservice.operators import FlowServiceDatasetExportOperator, FlowServiceTriggerRunOperator
from airflow_flowservice.sensors import FlowServiceRunSensor

IDS = json.loads(Path(__file__).with_suffix(".json").read_text())
CONN_ID = "flowservice_first_hour"

with DAG(
    "first_hour",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    is_paused_upon_creation=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=1)},
    tags=["flowservice-deployment-test"],
):
    FlowServiceTriggerRunOperator(
        task_id="ingest",
        flowservice_conn_id=CONN_ID,
        flow_id=IDS["flow_id"],
        window_start="2024-01-01T00:00:00+00:00",
        window_end="2024-01-01T01:00:00+00:00",
        delta_column="updated_at",
        wait_for_completion=False,
        pool="flowservice_first_hour",
    )
    FlowServiceRunSensor(
        task_id="export_run", flowservice_conn_id=CONN_ID, run_id=IDS["export_run_id"], poke_interval=1, timeout=120
    )
    FlowServiceDatasetExportOperator(
        task_id="export_no_interval",
        flowservice_conn_id=CONN_ID,
        destination="amazon_s3",
        dataset_ids=["5ef3e3259ad2a1191ab7dd7d"],
        target={"bucket_name": "acme-exports", "path": "aep"},
        schedule={"time_unit": "hour", "interval": 3, "start_time": "{{ data_interval_end.int_timestamp }}"},
        destination_conn_id="first_hour_s3",
        name="First hour export",
    )
