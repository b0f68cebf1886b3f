"""Dataset export (seed 003) through Airflow against the emulator, for each of the six destinations."""

from __future__ import annotations

import json
from typing import Any

import pendulum
import pytest

from airflow_flowservice.specs import DESTINATIONS

pytestmark = pytest.mark.integration

# Credentials connection (Airflow connection JSON) and target params per destination.
CASES: dict[str, tuple[dict[str, Any] | None, dict[str, Any], str | None]] = {
    "amazon_s3": (
        {"conn_type": "aws", "login": "AKIAEXAMPLE", "password": "s3-secret-value"},
        {"bucket_name": "aep-exports", "path": "exports/aep"},
        None,
    ),
    "azure_blob": (
        {"conn_type": "generic", "password": "DefaultEndpointsProtocol=https;AccountKey=blob-secret"},
        {"container": "aep-exports", "path": "exports", "file_type": "PARQUET", "compression": "GZIP"},
        None,
    ),
    "adls_gen2": (
        {
            "conn_type": "generic",
            "login": "sp-id",
            "password": "sp-secret-key",
            "extra": {"url": "https://acct.dfs.core.windows.net", "tenant": "tenant-1"},
        },
        {"path": "exports"},
        None,
    ),
    "data_landing_zone": (None, {"path": "exports"}, None),
    "google_cloud_storage": (
        {"conn_type": "generic", "login": "GOOGKEY", "password": "gcs-secret-value"},
        {"bucket_name": "aep-exports", "path": "exports"},
        None,
    ),
    "sftp": (
        {"conn_type": "sftp", "host": "sftp.example.com", "login": "aep", "extra": {"ssh_key": "ssh-key-secret"}},
        {"path": "/upload/aep"},
        "SFTP with SSH Key",
    ),
}

DAG_SOURCE = """
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import (
    FlowServiceDatasetExportOperator,
    FlowServiceListExportableDatasetsOperator,
)

with DAG("export_{key}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    listed = FlowServiceListExportableDatasetsOperator(task_id="list", name_pattern="AAM Devices*")
    FlowServiceDatasetExportOperator(
        task_id="export",
        destination="{key}",
        dataset_ids=listed.output,
        target={target!r},
        schedule={{"time_unit": "hour", "interval": 6, "start_time": "2026-01-01T00:00:00+00:00"}},
        name="Export to {key}",
        destination_conn_id={conn_id!r},
        auth_spec_name={auth!r},
    )
"""


def _xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    ti = dag_run.get_task_instance(task_id)
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=ti.dag_id, run_id=ti.run_id, task_id=task_id, key=key, map_index=-1)
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)


@pytest.mark.parametrize("key", sorted(CASES))
def test_export_to_each_destination(key: str, flowservice_emulator: Any, load_dag: Any, monkeypatch: Any) -> None:
    conn, target, auth = CASES[key]
    conn_id = None
    if conn is not None:
        conn_id = f"creds_{key}"
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    dag = load_dag(f"export_{key}", source=DAG_SOURCE.format(key=key, target=target, conn_id=conn_id, auth=auth))
    run = dag.test(logical_date=pendulum.datetime(2026, 1, 2, tz="UTC"))
    assert run.state == "success"

    dest = DESTINATIONS[key]
    creates = [(r.path, r.body) for r in flowservice_emulator.calls(method="POST") if r.path != "/ims/token/v3"]
    assert [path for path, _ in creates] == ["/connections", "/sourceConnections", "/targetConnections", "/flows"]
    base, source, target_body, flow = (body for _, body in creates)
    assert base["connectionSpec"]["id"] == dest.connection_spec_id
    if conn is None:
        assert "auth" not in base
    else:
        assert base["auth"]["specName"] == (auth or dest.auth_methods[0].spec_name)
        assert set(base["auth"]["params"]) == set(dest.auth_method(auth).params_from)  # type: ignore[union-attr]
    # AAM Devices Data and AAM Devices Profile Meta Data (seed 003), sorted by id.
    exported = [d["dataSetId"] for d in source["params"]["datasets"]]
    assert exported == ["5ef3e325582424191b1beb42", "5ef3e3259ad2a1191ab7dd7d"]
    assert target_body["params"]["datasetFileType"] == target.get("file_type", "JSON")
    assert flow["flowSpec"]["id"] == dest.flow_spec_id
    assert flow["scheduleParams"] == {"timeUnit": "hour", "interval": 6, "startTime": 1767225600}

    # Re-running the DAG reuses all four entities: no second create.
    before = len(flowservice_emulator.calls(method="POST"))
    assert dag.test(logical_date=pendulum.datetime(2026, 1, 3, tz="UTC")).state == "success"
    posts = [r.path for r in flowservice_emulator.calls(method="POST")[before:] if r.path != "/ims/token/v3"]
    assert posts == []


# -- bad input: each rejected with the message the user sees, before any write ------------------------------

S3_TARGET = {"bucket_name": "aep-exports", "path": "exports"}
SCHEDULE = {"time_unit": "hour", "interval": 3, "start_time": 1767225600}
DATASET = "5ef3e3259ad2a1191ab7dd7d"

BAD_EXPORTS: list[tuple[dict[str, Any], str]] = [
    (
        {"destination": "dropbox"},
        "destination 'dropbox' is not a known export destination; use one of: adls_gen2, amazon_s3, azure_blob, "
        "data_landing_zone, google_cloud_storage, sftp",
    ),
    (
        {"destination_conn_id": None},
        "destination_conn_id: Amazon S3 needs credentials ('Access Key': s3AccessKey <- login, s3SecretKey <- "
        "password); create an Airflow connection holding them and pass its id (never put secrets in the DAG file)",
    ),
    (
        {"destination_conn_id": "creds_no_login"},
        "destination_conn_id: connection 'creds_no_login' has no login for auth param 's3AccessKey'; set it on the "
        "connection",
    ),
    (
        {"dataset_ids": ["000000000000000000000000"]},
        "dataset_ids: 000000000000000000000000 not eligible for export in this sandbox; list the eligible ones with "
        "FlowServiceListExportableDatasetsOperator",
    ),
    ({"target": {"bucket_name": "aep-exports", "path": "../etc"}}, "target.path: path '../etc' is not a"),
    ({"target": {"bucket_name": "aep-exports", "path": "/abs"}}, "target.path: path '/abs' must be relative"),
    ({"schedule": {**SCHEDULE, "interval": 4}}, "schedule.interval: 4 is not an export interval"),
    ({"schedule": {**SCHEDULE, "time_unit": "day", "interval": 3}}, "schedule.interval: 3 is not allowed"),
    ({"dataset_ids": []}, "dataset_ids: is empty; pass dataset ids, or the output of"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_EXPORTS)
def test_bad_export_input(overrides: dict[str, Any], message: str, flowservice_emulator: Any, monkeypatch: Any) -> None:
    from airflow_flowservice.exceptions import FlowServiceConfigError
    from airflow_flowservice.operators import FlowServiceDatasetExportOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_CREDS_S3", json.dumps({"conn_type": "aws", "login": "AKIA", "password": "s3-secret"})
    )
    monkeypatch.setenv("AIRFLOW_CONN_CREDS_NO_LOGIN", json.dumps({"conn_type": "aws", "password": "s3-secret"}))
    kwargs: dict[str, Any] = {
        "destination": "amazon_s3",
        "dataset_ids": [DATASET],
        "target": S3_TARGET,
        "schedule": SCHEDULE,
        "name": "bad export",
        "destination_conn_id": "creds_s3",
        **overrides,
    }
    op = FlowServiceDatasetExportOperator(task_id="export", **kwargs)
    with pytest.raises(FlowServiceConfigError) as info:
        op.execute({"ti": None})  # type: ignore[arg-type]
    assert str(info.value).startswith(message), str(info.value)
    writes = [r for r in flowservice_emulator.requests if r.method != "GET" and r.path != "/ims/token/v3"]
    assert writes == []
