"""
Export Experience Platform datasets to cloud storage (seed 003), then wait for the export's next run.

1. list the datasets eligible for export (every page), keeping those whose name matches a pattern;
2. create (or reuse) the data lake source connection holding them, the destination's base
   connection (credentials from the Airflow connection ``aep_export_s3``: login = access key,
   password = secret key), the target connection (bucket, folder, PARQUET + GZIP) and the export
   flow, every 3 hours from the DAG run's data interval end;
3. wait (deferred) for the flow's first run from then on and judge it by its metrics;
4. log the ids and the metrics, and return them.

Any of the six destinations works the same way: change ``destination`` and ``target`` (see
``airflow_flowservice.specs.DESTINATIONS``). Against the bundled emulator::

    python -m airflow_flowservice.testing.emulator --port 8081   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    export AIRFLOW_CONN_AEP_EXPORT_S3='{"conn_type": "aws", "login": "AKIA...", "password": "..."}'
    airflow dags test export_datasets

What each component needs:

- the connections ``flowservice_default`` and ``aep_export_s3`` on the **workers** (the export task
  reads both), and ``flowservice_default`` on the **triggerer** (the deferred wait). A missing one
  fails the task that reads it, naming the connection;
- a **logical date** on each DAG run: the schedule starts at the run's data interval end. A run
  triggered without one (the REST API's and the UI's default in Airflow 3) has no data interval, and
  the export task fails at once saying so;
- the DAG **unpaused** (Airflow creates DAGs paused; a paused DAG's runs stay queued).

No task here starts a run (Adobe's schedule does), so the one-slot pool that the run operator
advises (``docs/runs.md``) has nothing to serialize here.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_flowservice.operators import FlowServiceDatasetExportOperator, FlowServiceListExportableDatasetsOperator
from airflow_flowservice.sensors import FlowServiceRunSensor

log = logging.getLogger(__name__)

with DAG(
    dag_id="export_datasets",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["flowservice", "example"],
):
    datasets = FlowServiceListExportableDatasetsOperator(
        task_id="list_exportable_datasets", name_pattern="AAM Devices*"
    )

    export = FlowServiceDatasetExportOperator(
        task_id="export_datasets",
        destination="amazon_s3",
        dataset_ids=datasets.output,
        target={
            "bucket_name": "acme-aep-exports",
            "path": "aep/datasets",
            "file_type": "PARQUET",
            "compression": "GZIP",
        },
        schedule={"time_unit": "hour", "interval": 3, "start_time": "{{ data_interval_end.int_timestamp }}"},
        name="AEP datasets to Amazon S3",
        destination_conn_id="aep_export_s3",
    )

    wait = FlowServiceRunSensor(
        task_id="wait_for_export_run",
        flow_id=export.output["flow_id"],
        created_after="{{ data_interval_end.int_timestamp }}",
        deferrable=True,
        poke_interval=2,
        timeout=4 * 3600,
    )

    @task
    def report(ids: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
        """Log the export dataflow's ids and its first run; return both for later tasks."""
        log.info("Export dataflow: %s", ids)
        log.info(
            "Export run %s %s: %s records read, %s written, %s files, %s bytes",
            metrics["run_id"],
            metrics["status"],
            metrics["records_read"],
            metrics["records_written"],
            metrics["files_written"],
            metrics["bytes_written"],
        )
        return {"flow_id": ids["flow_id"], "run_id": metrics["run_id"], "status": metrics["status"]}

    report(export.output, wait.output["metrics"])  # type: ignore[arg-type]
