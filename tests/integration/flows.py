"""Build flows in the emulator for run tests (table-based BigQuery source -> data lake, or files)."""

from __future__ import annotations

import itertools
from typing import Any

from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.models import EntityKind
from airflow_flowservice.specs import DATA_LAKE_TARGET_SPEC_ID

BIGQUERY = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
_names = itertools.count()


def make_table_flow(
    hook: FlowServiceHook, *, frequency: str = "once", draft: bool = False, transformations: Any = None
) -> str:
    """A BigQuery (tabular) -> data lake flow; returns its id."""
    n = next(_names)
    base = hook.create_entity(
        EntityKind.BASE_CONNECTION,
        {
            "name": f"bq account {n}",
            "auth": {
                "specName": "Basic Authentication",
                "params": {"project": "p", "clientId": "c", "clientSecret": "s", "refreshToken": "r"},
            },
            "connectionSpec": {"id": BIGQUERY, "version": "1.0"},
        },
    )
    source = hook.create_entity(
        EntityKind.SOURCE_CONNECTION,
        {
            "name": f"bq source {n}",
            "baseConnectionId": base.id,
            "connectionSpec": {"id": BIGQUERY, "version": "1.0"},
            "data": {"format": "tabular"},
            "params": {"tableName": "sales.orders"},
        },
    )
    target = hook.create_entity(
        EntityKind.TARGET_CONNECTION,
        {
            "name": f"lake target {n}",
            "connectionSpec": {"id": DATA_LAKE_TARGET_SPEC_ID, "version": "1.0"},
            "data": {
                "format": "parquet_xdm",
                "schema": {
                    "id": "https://ns.adobe.com/acme/schemas/orders",
                    "version": "application/vnd.adobe.xed-full+json;version=1",
                },
            },
            "params": {"dataSetId": "6155e3a9bd13651949515f14"},
        },
    )
    schedule: dict[str, Any] = {"startTime": 1767225600, "frequency": frequency}
    if frequency != "once":
        schedule["interval"] = 15 if frequency == "minute" else 1
    body: dict[str, Any] = {
        "name": f"orders flow {n}",
        "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [source.id],
        "targetConnectionIds": [target.id],
        "scheduleParams": schedule,
    }
    if transformations is None and frequency != "once":
        # A recurring table-source flow needs its deltaColumn up front (Flow Service error 1367).
        transformations = [{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]
    if transformations is not None:
        body["transformations"] = transformations
    return hook.create_entity(EntityKind.FLOW, body, draft=draft).id
