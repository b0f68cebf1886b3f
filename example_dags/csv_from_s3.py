"""
A CSV file in Amazon S3 ingested into an XDM dataset, through a Data Prep mapping set, one window per day.

The CSV's columns (``customer_id``, ``first_name``, ``last_name``, ``email``) are not the dataset's XDM
shape, so the dataflow carries a **mapping set** (Data Prep, the Conversion Service): each column is
mapped to a field of the dataset's schema, ``email`` through an expression (``lower(trim(email))``), and
a static loyalty tier. Two DAGs build this dataflow:

- ``csv_from_s3`` with operators: preview the mapping on sample rows (nothing is created, a row that
  does not map fails the task), create the dataflow (S3 base and source connections, the data lake
  target, the mapping set, the flow: the mapping is validated with every other check before anything
  is created), then ingest the DAG run's window;
- ``csv_from_s3_as_code`` from the dataflows-as-code file ``csv_from_s3.yaml`` beside this file: plan,
  then apply (``flowservice plan|apply example_dags/csv_from_s3.yaml`` does the same from a shell).

Connections: ``flowservice_default`` and ``acme_s3`` (login = the S3 access key, password = the secret
key). Against the bundled emulator, whose catalog knows the schema's XDM fields::

    python -m airflow_flowservice.testing.emulator --port 8081   # prints AIRFLOW_CONN_FLOWSERVICE_DEFAULT=...
    export AIRFLOW_CONN_ACME_S3='{"conn_type": "aws", "login": "AKIA...", "password": "..."}'
    airflow dags test csv_from_s3 2026-01-05
    airflow dags test csv_from_s3_as_code

What each component needs:

- the connections ``flowservice_default`` and ``acme_s3`` on the **workers** (the dataflow task reads
  both; the preview, the ingest and the plan/apply tasks read ``flowservice_default``). A missing one
  fails the task that reads it, naming the connection;
- ``csv_from_s3.yaml`` beside this file in the DAGs folder the **dag-processor** parses and the
  **workers** run from (``csv_from_s3_as_code`` reads it when its tasks run);
- a **logical date** on each DAG run of ``csv_from_s3``: its ingest task runs the DAG run's data
  interval. A run triggered without one (the REST API's and the UI's default in Airflow 3) has no data
  interval, and the task fails at once saying so;
- both DAGs **unpaused** (Airflow creates DAGs paused; a paused DAG's runs stay queued).

In production, run ``ingest_window`` in a pool of one slot (as ``incremental_ingest.py`` does): two DAG
runs of one window at the same moment would otherwise both start a run (docs/runs.md).

See docs/mapping.md.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_flowservice.operators import (
    FlowServiceApplyOperator,
    FlowServiceCreateDataflowOperator,
    FlowServicePreviewMappingOperator,
    FlowServiceTriggerRunOperator,
)
from airflow_flowservice.specs import AMAZON_S3_SOURCE_SPEC_ID, DATA_LAKE_TARGET_SPEC_ID

START = pendulum.datetime(2026, 1, 1, tz="UTC")
# The dataset's XDM schema (its $id) and the mappings from the CSV's columns into it.
CUSTOMER_SCHEMA = "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d"
MAPPINGS = [
    {"source_type": "ATTRIBUTE", "source": "customer_id", "destination": "_acme.customerId"},
    {"source_type": "ATTRIBUTE", "source": "first_name", "destination": "person.name.firstName"},
    {"source_type": "ATTRIBUTE", "source": "last_name", "destination": "person.name.lastName"},
    {"source_type": "EXPRESSION", "source": "lower(trim(email))", "destination": "personalEmail.address"},
    {"source_type": "STATIC", "source": "bronze", "destination": "_acme.loyalty.tier"},
]

with DAG(
    dag_id="csv_from_s3",
    description="A CSV file in S3 into an XDM dataset, through a Data Prep mapping set",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),  # a window per day (see incremental_ingest.py)
    start_date=START,
    catchup=False,
    tags=["flowservice", "example", "data-prep"],
):
    preview = FlowServicePreviewMappingOperator(
        task_id="preview_mapping",
        output_schema_id=CUSTOMER_SCHEMA,
        mappings=MAPPINGS,
        rows=[{"customer_id": "C-0001", "first_name": "Ada", "last_name": "Lovelace", "email": " Ada@Example.COM "}],
        fail_on_errors=True,
    )

    dataflow = FlowServiceCreateDataflowOperator(
        task_id="dataflow",
        if_exists="reuse",  # the first run creates it (with its mapping set); later runs reuse both
        auth_params_from_conn_id="acme_s3",
        auth_conn_fields={"s3AccessKey": "login", "s3SecretKey": "password"},
        config={
            "base_connection": {
                "name": "ACME customers S3 account",
                "connection_spec_id": AMAZON_S3_SOURCE_SPEC_ID,
                "auth_spec_name": "Access Key",
            },
            "source_connection": {
                "name": "ACME customers.csv",
                "connection_spec_id": AMAZON_S3_SOURCE_SPEC_ID,
                "data": {"format": "delimited"},
                "params": {"path": "/acme-exports/crm/customers.csv", "type": "file"},
            },
            "target_connection": {
                "name": "ACME customers dataset",
                "connection_spec_id": DATA_LAKE_TARGET_SPEC_ID,
                "data": {
                    "format": "parquet_xdm",
                    "schema": {"id": CUSTOMER_SCHEMA, "version": "application/vnd.adobe.xed-full+json;version=1"},
                },
                "params": {"dataSetId": "6155e3a9bd13651949515f14"},
            },
            "mapping": {"output_schema": {"id": CUSTOMER_SCHEMA}, "mappings": MAPPINGS},
            "flow": {
                "name": "ACME customers from S3",
                "flow_spec_name": "CloudStorageToAEP",
                "schedule_params": {"start_time": START, "frequency": "once"},  # on-demand runs: one per window
            },
        },
    )

    ingest = FlowServiceTriggerRunOperator(task_id="ingest_window", flow_id=dataflow.output["flow_id"], poll_interval=1)

    preview >> dataflow >> ingest


with DAG(
    dag_id="csv_from_s3_as_code",
    description="The same dataflow from the dataflows-as-code file csv_from_s3.yaml: plan, then apply",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["flowservice", "example", "data-prep"],
):
    plan = FlowServiceApplyOperator(task_id="plan", spec="csv_from_s3.yaml", plan_only=True)
    apply = FlowServiceApplyOperator(task_id="apply", spec="csv_from_s3.yaml")
    plan >> apply
