"""Destination parameter models (seed 003) and preview shaping (seed 004)."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from airflow_flowservice.dataflows.preview import infer_columns, preview_rows
from airflow_flowservice.inputs import BucketTargetParams, ContainerTargetParams, ExportSchedule, SftpTargetParams
from airflow_flowservice.specs import DESTINATIONS, get_destination


def test_six_destinations_with_seed_ids() -> None:
    assert {d.name for d in DESTINATIONS.values()} == {
        "Amazon S3",
        "Azure Blob Storage",
        "Azure Data Lake Gen 2 (ADLS Gen2)",
        "Data Landing Zone (DLZ)",
        "Google Cloud Storage",
        "SFTP",
    }
    s3 = get_destination("amazon_s3")
    assert (s3.connection_spec_id, s3.flow_spec_id) == (
        "4fce964d-3f37-408f-9778-e597338a21ee",
        "269ba276-16fc-47db-92b0-c1049a3c131f",
    )
    assert [m.spec_name for m in get_destination("sftp").auth_methods] == ["SFTP with Password", "SFTP with SSH Key"]
    assert get_destination("data_landing_zone").auth_method(None) is None


def test_unknown_destination_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="destination 'dropbox' is not a known export destination; use one of: adls"):
        get_destination("dropbox")


def test_unknown_auth_method_names_the_choices() -> None:
    with pytest.raises(ValueError, match="'SFTP with Password', 'SFTP with SSH Key'"):
        get_destination("sftp").auth_method("Kerberos")


def test_target_params_bodies_match_seed_003() -> None:
    s3 = BucketTargetParams(bucket_name="my-bucket", path="folder/subfolder")
    assert s3.to_params() == {
        "mode": "Server-to-server",
        "bucketName": "my-bucket",
        "path": "folder/subfolder",
        "compression": "NONE",
        "datasetFileType": "JSON",
    }
    blob = ContainerTargetParams(container="aep-exports", path="a/b/", file_type="PARQUET", compression="GZIP")
    assert blob.to_params()["container"] == "aep-exports"
    assert blob.to_params()["path"] == "a/b"
    assert blob.to_params()["datasetFileType"] == "PARQUET"
    sftp = SftpTargetParams(path="/upload/aep")
    assert sftp.to_params()["remotePath"] == "/upload/aep"
    assert "path" not in sftp.to_params()


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        (
            BucketTargetParams,
            {"bucket_name": "My_Bucket", "path": "x"},
            "bucket_name 'My_Bucket' is not a valid bucket",
        ),
        (BucketTargetParams, {"bucket_name": "ok-bucket", "path": "/abs"}, "drop the leading '/'"),
        (BucketTargetParams, {"bucket_name": "ok-bucket", "path": "a/../b"}, "no '..' segments"),
        (BucketTargetParams, {"bucket_name": "ok-bucket", "path": "  "}, "path is empty"),
        (ContainerTargetParams, {"container": "a--b", "path": "x"}, "not a valid Azure container name"),
        (BucketTargetParams, {"bucket_name": "ok-bucket", "path": "x", "file_type": "CSV"}, "file_type"),
        (BucketTargetParams, {"bucket_name": "ok-bucket", "path": "x", "compression": "ZIP"}, "compression"),
        (BucketTargetParams, {"bucket_name": "ok-bucket", "path": "x", "region": "eu"}, "region"),
    ],
)
def test_bad_target_params_name_the_field(model: type, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        model(**kwargs)


def test_an_export_schedule_without_start_time_starts_when_validated() -> None:
    before = int(time.time())
    schedule = ExportSchedule.model_validate({"time_unit": "hour", "interval": 3})
    assert before <= schedule.start_time <= int(time.time())
    assert schedule.to_api() == {"timeUnit": "hour", "interval": 3, "startTime": schedule.start_time}
    given = ExportSchedule.model_validate({"time_unit": "day", "interval": 1, "start_time": "2026-01-05T00:00:00Z"})
    assert given.start_time == 1767571200


def test_preview_rows_unwrap_seed_004_shape() -> None:
    body = {
        "data": [
            {
                "emails": [
                    {"campaign_id": "c66a200cda", "list_is_active": True, "email_id": "a", "opens": 1},
                    {"campaign_id": "c66a200cda", "list_is_active": False, "email_id": "b", "opens": 2.5},
                ]
            }
        ]
    }
    rows = preview_rows(body)
    assert [r["email_id"] for r in rows] == ["a", "b"]
    assert infer_columns(rows) == [
        {"name": "campaign_id", "type": "string"},
        {"name": "list_is_active", "type": "boolean"},
        {"name": "email_id", "type": "string"},
        {"name": "opens", "type": "number"},
    ]


def test_preview_rows_of_flat_records_and_empty_bodies() -> None:
    assert preview_rows({"data": [{"a": 1}, {"a": "x"}]}) == [{"a": 1}, {"a": "x"}]
    assert infer_columns([{"a": 1}, {"a": "x"}]) == [{"name": "a", "type": "string"}]
    assert preview_rows({}) == []
    assert preview_rows(None) == []
