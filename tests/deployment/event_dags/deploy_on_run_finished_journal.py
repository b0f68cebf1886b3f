"""A DAG scheduled on the finished runs of a flow, read from the emulator's I/O Events journal (deployment tier).

The scenario copies this file into the deployment's DAGs folder, next to ``deploy_on_run_finished_journal.json``
(``{"flow_id": ...}``, the hourly flow it created). The asset's watcher polls every 2 s; each DAG run
returns the run ids and metrics of the asset events that triggered it, for the scenario to read back.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_flowservice.triggers import FlowServiceRunEventTrigger

FLOW_ID = json.loads(Path(__file__).with_suffix(".json").read_text())["flow_id"]

runs_finished = Asset(
    name="deploy_flow_runs_finished_journal",
    uri=f"flowservice://journal/flows/{FLOW_ID}",
    watchers=[
        AssetWatcher(
            name="deploy_flow_runs_finished_journal_watcher",
            trigger=FlowServiceRunEventTrigger(
                flow_id=FLOW_ID, poll_interval=2, source="journal", flowservice_conn_id="flowservice_journal"
            ),
        )
    ],
)

with DAG(
    "deploy_on_run_finished_journal",
    schedule=[runs_finished],
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["flowservice-deployment-test"],
):

    @task(inlets=[runs_finished])
    def consume(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """The run id and metrics of each finished run this DAG run was scheduled for."""
        return [
            {"run_id": event.extra["payload"]["run_id"], "metrics": event.extra["payload"]["metrics"]}
            for event in triggering_asset_events[runs_finished]
        ]

    consume()
