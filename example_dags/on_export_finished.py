"""
Run a DAG each time a scheduled dataset export finishes in Experience Platform (event-driven scheduling).

The export flow runs on Adobe's clock (for example daily to Amazon S3, as ``export_datasets.py``
creates it). The asset below is watched by ``FlowServiceRunEventTrigger``: the triggerer polls the
flow's runs (one call a minute) and records one asset event per successful run, which schedules
this DAG once per finished export. The task reads the run's metrics from the triggering event: no
call to Flow Service is needed.

What each component needs (a missing setting fails loudly, it never watches a placeholder):

- the environment variable ``FLOWSERVICE_EXPORT_FLOW_ID``, the id of the export flow to watch (the
  ``flow_id`` the export operator pushed), on the **dag-processor** (it reads it when it parses this
  file, to build the asset and its watcher) and on every **worker** (a worker parses the file again to
  run ``report_export``). Without it the file fails to import, naming the variable: an import error
  in the UI on the dag-processor's side, a failed task on a worker's;
- the connection ``flowservice_default`` on the **triggerer**, which runs the watcher (from what the
  dag-processor stored: the triggerer does not parse this file); the workers make no call;
- the DAG **unpaused**: Airflow creates DAGs paused, and watches an asset only for unpaused DAGs.

A run of ``report_export`` that finds no export event (a manual run, or a worker whose
``FLOWSERVICE_EXPORT_FLOW_ID`` names another flow than the dag-processor's) fails, saying so.
Against the bundled emulator, a flow scheduled every hour gets a run at each hour of the emulator's
clock::

    python -m airflow_flowservice.testing.emulator --port 8081   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    export FLOWSERVICE_EXPORT_FLOW_ID=<the export flow's id>     # for the dag-processor and the workers
    airflow dag-processor & airflow triggerer & airflow scheduler & airflow api-server
    airflow dags unpause on_export_finished
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_flowservice.triggers import FlowServiceRunEventTrigger

log = logging.getLogger(__name__)

EXPORT_FLOW_ID = os.environ.get("FLOWSERVICE_EXPORT_FLOW_ID", "").strip()
if not EXPORT_FLOW_ID:
    raise RuntimeError(
        "on_export_finished.py: the environment variable FLOWSERVICE_EXPORT_FLOW_ID is not set. Set it to the id of "
        "the export flow to watch (the flow_id FlowServiceDatasetExportOperator pushed) on the dag-processor (which "
        "parses this file to build the asset's watcher) and on every worker (which parses it again to run the task); "
        "the triggerer runs the watcher and needs the connection flowservice_default."
    )

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
        f"(window {payload.get('window')}): {metrics['records_read']} records read, "
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
        """Log each finished export run this DAG run was scheduled for; return their metrics (one per run)."""
        try:
            events = list(triggering_asset_events[export_finished]) if triggering_asset_events else []
        except KeyError:  # events of other assets only
            events = []
        if not events:
            raise RuntimeError(
                f"No finished run of export flow {EXPORT_FLOW_ID} triggered this DAG run: it was triggered by hand, "
                "or this worker's FLOWSERVICE_EXPORT_FLOW_ID differs from the dag-processor's (the asset then differs "
                "too). Let the asset's events schedule this DAG, with the same FLOWSERVICE_EXPORT_FLOW_ID everywhere."
            )
        metrics = []
        for event in events:
            log.info("%s", describe(event.extra))
            metrics.append(event.extra["payload"]["metrics"])
        return metrics

    report_export()
