"""
Run a DAG each time a scheduled dataset export finishes in Experience Platform (event-driven scheduling).

The export flow runs on Adobe's clock (for example daily to Amazon S3, as ``export_datasets.py``
creates it). The asset below is watched by ``FlowServiceRunEventTrigger``: the triggerer polls the
flow's runs (one call a minute) and records one asset event per successful run, which schedules
this DAG once per finished export. The task reads the run's metrics from the triggering event: no
call to Flow Service is needed.

The flow id is read when the file is parsed, from the environment variable
``FLOWSERVICE_EXPORT_FLOW_ID`` (the ``flow_id`` the export operator pushed). Against the bundled
emulator, a flow scheduled every hour gets a run at each hour of the emulator's clock::

    python -m airflow_flowservice.testing.emulator --port 8080   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    export FLOWSERVICE_EXPORT_FLOW_ID=<the export flow's id>
    airflow triggerer & airflow scheduler
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_flowservice.triggers import FlowServiceRunEventTrigger

EXPORT_FLOW_ID = os.environ.get("FLOWSERVICE_EXPORT_FLOW_ID", "00000000-0000-0000-0000-000000000000")

export_finished = Asset(
    name="aep_dataset_export",
    uri=f"flowservice://flows/{EXPORT_FLOW_ID}",
    watchers=[
        AssetWatcher(
            name="aep_dataset_export_runs",
            trigger=FlowServiceRunEventTrigger(flow_id=EXPORT_FLOW_ID, poll_interval=60, statuses=("success",)),
        )
    ],
)


def describe(event_extra: dict[str, Any]) -> str:
    """One line about the finished run an asset event reports (its ``extra`` holds the trigger's payload)."""
    payload = event_extra["payload"]
    metrics = payload["metrics"]
    return (
        f"Export run {payload['run_id']} of flow {payload['flow_id']} {payload['status']} "
        f"(window {payload['window']}): {metrics['records_read']} records read, "
        f"{metrics['files_written']} files, {metrics['bytes_written']} bytes written "
        f"in {metrics['duration_seconds']} s"
    )


with DAG(
    dag_id="on_export_finished",
    schedule=[export_finished],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["flowservice", "example"],
):

    @task(inlets=[export_finished])
    def report_export(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Print each finished export run this DAG run was scheduled for; return their metrics."""
        metrics = []
        for event in triggering_asset_events[export_finished]:
            print(describe(event.extra))
            metrics.append(event.extra["payload"]["metrics"])
        return metrics

    report_export()
