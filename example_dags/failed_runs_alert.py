"""
Alert on every failed run of any dataflow of the sandbox (event-driven, no flow id to configure).

``FlowServiceRunEventTrigger(flow_id=None, statuses=("failed",))`` watches every flow of the
connection's sandbox: with the connection's I/O Events journal (extra ``events_journal_url``, the
"Experience Platform Source's Flow Run Failed" notifications of a registration), one journal read per
interval; without one, one ``GET /runs`` per interval for the whole sandbox. Each failed run becomes
one asset event, and each asset event one DAG run of this DAG (runs failing together may share a DAG
run: the task reads every triggering event). The task logs, for each failed run, the flow, the
window and Adobe's error codes, and returns them.

What each component needs:

- the connection ``flowservice_default`` on the **triggerer** (the watch reads it; with its extra
  ``events_journal_url``, the journal is read instead of Flow Service);
- nothing on the **dag-processor** (it parses this file as is), and the **scheduler** turns each asset
  event into a DAG run;
- a **worker** runs ``alert`` (it reads the events, not Flow Service: no connection needed);
- the DAG **unpaused** (Airflow creates DAGs paused; a paused DAG gets no DAG run from the events).

Against the bundled emulator::

    python -m airflow_flowservice.testing.emulator --port 8081   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    airflow triggerer & airflow scheduler & airflow dag-processor
    airflow dags unpause aep_failed_runs_alert
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_flowservice.triggers import FlowServiceRunEventTrigger

log = logging.getLogger(__name__)

failed_runs = Asset(
    name="aep_failed_runs",
    uri="flowservice://sandbox/failed-runs",
    watchers=[
        AssetWatcher(
            name="aep_failed_runs_watcher",
            trigger=FlowServiceRunEventTrigger(flow_id=None, statuses=("failed",), poll_interval=60),
        )
    ],
)


def alert_line(payload: dict[str, Any]) -> str:
    """One alert: the run, its flow, its window (ISO 8601, UTC) and Adobe's error codes."""
    window = payload.get("window") or {}
    codes = ", ".join(f"{e['code']}: {e['message']}" for e in payload["metrics"]["errors"]) or "no error details"
    return (
        f"AEP run {payload['run_id']} of flow {payload['flow_id']} failed for the window "
        f"{window.get('start_iso', '?')}..{window.get('end_iso', '?')}: {codes}"
    )


with DAG(
    dag_id="aep_failed_runs_alert",
    schedule=[failed_runs],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["flowservice", "example"],
):

    @task(inlets=[failed_runs])
    def alert(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Log one line per failed run (replace it with your pager or chat call) and return the runs."""
        payloads = [event.extra["payload"] for event in triggering_asset_events[failed_runs]]
        if not payloads:
            raise ValueError("aep_failed_runs_alert ran without a triggering event: it runs on the asset's events")
        for payload in payloads:
            log.error("%s", alert_line(payload))
        return [
            {
                "run_id": p["run_id"],
                "flow_id": p["flow_id"],
                "window": p.get("window"),
                "errors": p["metrics"]["errors"],
            }
            for p in payloads
        ]

    alert()
