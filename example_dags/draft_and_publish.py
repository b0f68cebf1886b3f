"""Create a cloud storage -> Experience Platform dataflow as drafts, inspect it, publish it (seeds 000/001).

The dataflow is CloudStorageToAEP-style: an Amazon S3 base connection (the "Assume Role" auth
method, whose only param, the role ARN, is not a secret) and source connection, a data lake target
connection (``c604ff05-7f1a-43c0-8e18-33bf874cb11c``) and a flow whose spec is looked up by name
(``CloudStorageToAEP``). Every part is created with ``mode=draft``, read back and logged, then
published in dependency order (base connection -> source and target -> flow); the ids are logged and
returned.
Re-running the DAG reuses the entities (``if_exists="reuse"``) and publishes only what is still a
draft, so a run that failed part-way is finished by the next one.

For an auth method with secrets (e.g. S3 "Access Key"), keep them in an Airflow connection and pass
``auth_params_from_conn_id="my_s3"`` with ``auth_conn_fields={"s3AccessKey": "login",
"s3SecretKey": "password"}`` instead of ``auth_params``.

Run it against the bundled emulator (no Adobe account needed)::

    python -m airflow_flowservice.testing.emulator --port 8081 &   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    export AIRFLOW_CONN_FLOWSERVICE_DEFAULT='<the printed URI>'
    export AIRFLOW_HOME=$(mktemp -d) AIRFLOW__CORE__DAGS_FOLDER=$PWD/example_dags AIRFLOW__CORE__LOAD_EXAMPLES=False
    airflow db migrate && airflow dags test draft_and_publish

What each component needs: the connection ``flowservice_default`` on the **workers** (every task reads
it; a missing one fails the first task, naming it), and the DAG **unpaused** to run it from the UI or
the REST API (Airflow creates DAGs paused; a paused DAG's runs stay queued). Nothing here waits in the
triggerer, and no task starts a run (so no pool is needed).
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_flowservice.operators import FlowServiceCreateDataflowOperator, FlowServicePublishOperator
from airflow_flowservice.specs import AMAZON_S3_SOURCE_SPEC_ID, DATA_LAKE_TARGET_SPEC_ID

log = logging.getLogger(__name__)

with DAG(
    dag_id="draft_and_publish",
    description="CloudStorageToAEP dataflow: create as drafts, inspect, publish in dependency order",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["flowservice", "example"],
    params={
        "prefix": Param("ACME S3", type="string", description="name prefix of the four entities"),
        "role_arn": Param("arn:aws:iam::123456789012:role/aep-ingest", type="string"),
        "bucket_path": Param("/acme-landing/accounts/account.csv", type="string"),
        "dataset_id": Param("5ef3e324052581191aa6a466", type="string", description="target dataset id"),
        "schema_id": Param("https://ns.adobe.com/acme/schemas/accounts", type="string"),
    },
) as dag:
    create_drafts = FlowServiceCreateDataflowOperator(
        task_id="create_drafts",
        draft=True,
        config={
            "base_connection": {
                "name": "{{ params.prefix }} base connection",
                "description": "Amazon S3 account (draft)",
                "connection_spec_id": AMAZON_S3_SOURCE_SPEC_ID,
                "auth_spec_name": "Assume Role",
                "auth_params": {"roleArn": "{{ params.role_arn }}"},
            },
            "source_connection": {
                "name": "{{ params.prefix }} source connection",
                "connection_spec_id": AMAZON_S3_SOURCE_SPEC_ID,
                "data": {"format": "delimited"},
                "params": {"path": "{{ params.bucket_path }}", "type": "file"},
            },
            "target_connection": {
                "name": "{{ params.prefix }} target connection",
                "connection_spec_id": DATA_LAKE_TARGET_SPEC_ID,
                "data": {
                    "schema": {
                        "id": "{{ params.schema_id }}",
                        "version": "application/vnd.adobe.xed-full+json;version=1",
                    }
                },
                "params": {"dataSetId": "{{ params.dataset_id }}"},
            },
            "flow": {
                "name": "{{ params.prefix }} dataflow",
                "flow_spec_name": "CloudStorageToAEP",
                "schedule_params": {"start_time": "{{ dag_run.run_after }}", "frequency": "once"},
            },
        },
    )

    @task
    def inspect(ids: dict[str, str | None]) -> dict[str, str | None]:
        """Read every part back and log its state (``draft`` until published)."""
        # Imported when the task runs, not at every parse of this file.
        from airflow_flowservice.hooks.flowservice import FlowServiceHook
        from airflow_flowservice.validation import DATAFLOW_KINDS as kinds

        hook = FlowServiceHook()
        states: dict[str, str | None] = {}
        for key, entity_id in ids.items():
            if entity_id:
                entity = hook.get_entity(kinds[key], entity_id)
                states[key] = entity.state
                log.info("%-18s %s  state=%s  name=%r", kinds[key].label, entity.id, entity.state, entity.name)
        return states

    publish = FlowServicePublishOperator(task_id="publish", flow_id=create_drafts.output["flow_id"])

    @task
    def report_ids(ids: dict[str, str | None], published: dict[str, Any]) -> dict[str, Any]:
        """Log the dataflow's ids and what the publish step did; return both for later tasks."""
        for key, entity_id in ids.items():
            log.info("%s = %s", key, entity_id)
        log.info("published now: %s; already published: %s", published["published"], published["already_published"])
        return {"ids": ids, "published": published["published"], "already_published": published["already_published"]}

    states = inspect(create_drafts.output)
    states >> publish
    report_ids(create_drafts.output, publish.output)
