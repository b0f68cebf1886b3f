"""
Ingest a Mailchimp campaign into Experience Platform (seed 004), end to end.

1. create (or reuse) the Mailchimp base connection, with Basic authentication (the Airflow
   connection ``mailchimp``: host = authorizationTestUrl, login = username, password = password) or
   OAuth 2 refresh code (password = accessToken; set ``AUTH`` below to ``"oAuth2RefreshCode"``);
2. preview the campaign's data (explore with base64 ``sourceParams``) and log its columns;
3. create the source connection (campaignId, JSON), the target connection to a dataset
   (``parquet_xdm``, XDM schema, ``dataSetId``) and the flow, every 15 minutes (seed 004 has no
   mapping: data prep is not supported for Mailchimp Campaign);
4. wait (deferred) for the flow's first run and judge it by its metrics;
5. update the flow's schedule to hourly (JSON Patch with If-Match), then, if the DAG param
   ``cleanup`` is true (the default, so the example leaves nothing behind), delete the flow and the
   account.

Against the bundled emulator::

    python -m airflow_flowservice.testing.emulator --port 8081   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    export AIRFLOW_CONN_MAILCHIMP='{"conn_type": "http", "host": "https://us6.api.mailchimp.com/3.0/",
                                    "login": "acme", "password": "..."}'
    airflow dags test mailchimp_campaigns

What each component needs:

- the connections ``flowservice_default`` and ``mailchimp`` on the **workers** (the account task reads
  both), and ``flowservice_default`` on the **triggerer** (the deferred wait). A missing one fails the
  task that reads it, naming the connection;
- a **logical date** on each DAG run (the flow starts at the run's data interval end; a run triggered
  without one has no data interval, and the flow task fails at once saying so);
- the DAG **unpaused** (Airflow creates DAGs paused; a paused DAG's runs stay queued).

No task here starts a run (the flow's schedule does), so the one-slot pool that the run operator
advises (``docs/runs.md``) has nothing to serialize here.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_flowservice.operators import (
    FlowServiceCreateBaseConnectionOperator,
    FlowServiceCreateFlowOperator,
    FlowServiceCreateSourceConnectionOperator,
    FlowServiceCreateTargetConnectionOperator,
    FlowServiceDeleteOperator,
    FlowServiceExploreOperator,
    FlowServiceUpdateOperator,
)
from airflow_flowservice.sensors import FlowServiceRunSensor
from airflow_flowservice.specs import DATA_LAKE_TARGET_SPEC_ID, MAILCHIMP_CAMPAIGN_SPEC_ID, MAILCHIMP_FLOW_SPEC_ID

log = logging.getLogger(__name__)

CAMPAIGN_ID = "c66a200cda"
AUTH = "Basic Authentication"  # or "oAuth2RefreshCode"
AUTH_FIELDS = {
    "Basic Authentication": {"authorizationTestUrl": "host", "username": "login", "password": "password"},
    "oAuth2RefreshCode": {"accessToken": "password"},
}

with DAG(
    dag_id="mailchimp_campaigns",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "cleanup": Param(True, type="boolean"),
    },
    tags=["flowservice", "example"],
):
    account = FlowServiceCreateBaseConnectionOperator(
        task_id="mailchimp_account",
        name=f"Mailchimp account ({AUTH})",
        connection_spec_id=MAILCHIMP_CAMPAIGN_SPEC_ID,
        auth_spec_name=AUTH,
        auth_params_from_conn_id="mailchimp",
        auth_conn_fields=AUTH_FIELDS[AUTH],
    )

    preview = FlowServiceExploreOperator(
        task_id="preview_campaign", base_connection_id=account.output, source_params={"campaignId": CAMPAIGN_ID}
    )

    source = FlowServiceCreateSourceConnectionOperator(
        task_id="campaign_source",
        name=f"Mailchimp campaign {CAMPAIGN_ID}",
        connection_spec_id=MAILCHIMP_CAMPAIGN_SPEC_ID,
        base_connection_id=account.output,
        data={"format": "json"},
        connection_params={"campaignId": CAMPAIGN_ID},
    )

    target = FlowServiceCreateTargetConnectionOperator(
        task_id="campaign_dataset",
        name="Mailchimp campaign dataset",
        connection_spec_id=DATA_LAKE_TARGET_SPEC_ID,
        data={
            "format": "parquet_xdm",
            "schema": {
                "id": "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d",
                "version": "application/vnd.adobe.xed-full+json;version=1",
            },
        },
        connection_params={"dataSetId": "6155e3a9bd13651949515f14"},
    )

    flow = FlowServiceCreateFlowOperator(
        task_id="campaign_flow",
        name="Mailchimp campaign dataflow",
        flow_spec_id=MAILCHIMP_FLOW_SPEC_ID,
        source_connection_ids=[source.output],
        target_connection_ids=[target.output],
        schedule_params={"start_time": "{{ data_interval_end.int_timestamp }}", "frequency": "minute", "interval": 15},
    )

    wait = FlowServiceRunSensor(
        task_id="wait_for_first_run",
        flow_id=flow.output,
        created_after="{{ data_interval_end.int_timestamp }}",
        deferrable=True,
        poke_interval=2,
        timeout=3600,
    )

    hourly = FlowServiceUpdateOperator(
        task_id="make_it_hourly",
        entity_id=flow.output,
        kind="flows",
        ops=[
            {"op": "replace", "path": "/scheduleParams/frequency", "value": "hour"},
            {"op": "replace", "path": "/scheduleParams/interval", "value": 1},
        ],
    )

    @task.short_circuit
    def cleanup_requested(**context: Any) -> bool:
        return bool(context["params"]["cleanup"])

    delete = FlowServiceDeleteOperator(
        task_id="delete_flow_and_account", entity_id=flow.output, kind="flows", cascade=True
    )

    @task
    def report(preview: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
        """Log the preview's shape and the first run; return the run id, its status and counts."""
        log.info("Preview: %s rows, columns %s", preview["row_count"], [c["name"] for c in preview["columns"]])
        log.info(
            "First run %s %s: %s read, %s written, %s failed",
            metrics["run_id"],
            metrics["status"],
            metrics["records_read"],
            metrics["records_written"],
            metrics["records_failed"],
        )
        return {key: metrics[key] for key in ("run_id", "status", "records_read", "records_written", "records_failed")}

    account >> preview >> source
    [source, target] >> flow >> wait >> hourly >> cleanup_requested() >> delete  # type: ignore[arg-type]
    wait >> report(preview.output, wait.output["metrics"])  # type: ignore[arg-type]
