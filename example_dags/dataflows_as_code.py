"""
Dataflows as code: keep AEP dataflows in a reviewed file (``dataflows.yaml`` next to this DAG) and
make the sandbox match it.

1. plan: what would change (create, update as a JSON Patch, replace, publish, unchanged), logged
   and pushed to XCom without changing anything;
2. apply: the same plan, carried out in dependency order (PATCH with If-Match; an entity edited
   since the plan fails the task with "changed since plan, plan again");
3. log the ids of every dataflow of the file, and return them.

The file holds the Mailchimp campaign dataflow of ``mailchimp_campaigns.py`` and the S3 dataset
export of ``export_datasets.py``. It holds no secret: the credentials are read from the Airflow
connections ``mailchimp`` and ``aep_export_s3``. The same file works from a shell, e.g. in CI::

    flowservice plan example_dags/dataflows.yaml --detailed-exitcode   # 0 no change, 2 changes, 1 error
    flowservice apply example_dags/dataflows.yaml --auto-approve

Against the bundled emulator::

    python -m airflow_flowservice.testing.emulator --port 8081   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    export AIRFLOW_CONN_MAILCHIMP='{"conn_type": "http", "host": "https://us6.api.mailchimp.com/3.0/",
                                    "login": "acme", "password": "..."}'
    export AIRFLOW_CONN_AEP_EXPORT_S3='{"conn_type": "aws", "login": "AKIA...", "password": "..."}'
    airflow dags test dataflows_as_code

What each component needs: ``dataflows.yaml`` next to this file and the connections
``flowservice_default``, ``mailchimp`` and ``aep_export_s3`` on the **workers** (the plan and apply
tasks read them; the dag-processor only parses this file, and nothing waits in the triggerer); a
missing one fails the plan task, naming it. Unpause the DAG to run it from the UI or the REST API
(Airflow creates DAGs paused; a paused DAG's runs stay queued). No task starts a run, so no pool is
needed.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_flowservice.operators import FlowServiceApplyOperator

log = logging.getLogger(__name__)

with DAG(
    dag_id="dataflows_as_code",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["flowservice", "example"],
):
    plan = FlowServiceApplyOperator(task_id="plan", spec="dataflows.yaml", plan_only=True)

    apply = FlowServiceApplyOperator(task_id="apply", spec="dataflows.yaml")

    @task
    def report(result: dict[str, Any]) -> dict[str, Any]:
        """Log what the apply did and the ids of every dataflow of the file; return the ids."""
        log.info("Plan: %s", result["plan"]["counts"])
        for dataflow, ids in result["ids"].items():
            log.info("%s: %s", dataflow, ids)
        ids: dict[str, Any] = result["ids"]
        return ids

    plan >> apply
    report(apply.output)  # type: ignore[arg-type]
