"""Ready-made flows for tests that run DAGs against the emulator.

>>> from airflow_flowservice.hooks.flowservice import FlowServiceHook
>>> from airflow_flowservice.testing.flows import create_table_flow
>>> flow_id = create_table_flow(FlowServiceHook())  # doctest: +SKIP

They are built through the provider's hook (so against whatever ``flowservice_default`` points at),
from the emulator's catalog: a Google BigQuery table source (``data.format == "tabular"``) into the
data lake, with the CRMToAEP flow spec, as in ``example_dags/incremental_ingest.py``.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from airflow_flowservice.models import EntityKind
from airflow_flowservice.specs import CRM_TO_AEP_FLOW_SPEC_ID, DATA_LAKE_TARGET_SPEC_ID, GOOGLE_BIGQUERY_SPEC_ID

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

_numbers = itertools.count()


def create_table_flow(
    hook: FlowServiceHook,
    *,
    name: str | None = None,
    frequency: str = "once",
    draft: bool = False,
    transformations: list[dict[str, Any]] | None = None,
) -> str:
    """Create a BigQuery (tabular) -> data lake flow (4 POSTs) and return its id.

    :param name: prefix of the four entities' names. Default a fresh ``orders <n>``.
    :param frequency: the flow's schedule; ``once`` (default) takes on-demand runs. A recurring flow
        gets the ``Copy`` transformation with ``deltaColumn`` ``updated_at`` that table sources need.
    :param draft: create the flow (only) as a draft.
    :param transformations: the flow's transformations, replacing the default.
    """
    prefix = name if name is not None else f"orders {next(_numbers)}"
    base = hook.create_entity(
        EntityKind.BASE_CONNECTION,
        {
            "name": f"{prefix} account",
            "auth": {
                "specName": "Basic Authentication",
                "params": {"project": "p", "clientId": "c", "clientSecret": "s", "refreshToken": "r"},
            },
            "connectionSpec": {"id": GOOGLE_BIGQUERY_SPEC_ID, "version": "1.0"},
        },
    )
    source = hook.create_entity(
        EntityKind.SOURCE_CONNECTION,
        {
            "name": f"{prefix} source",
            "baseConnectionId": base.id,
            "connectionSpec": {"id": GOOGLE_BIGQUERY_SPEC_ID, "version": "1.0"},
            "data": {"format": "tabular"},
            "params": {"tableName": "sales.orders"},
        },
    )
    target = hook.create_entity(
        EntityKind.TARGET_CONNECTION,
        {
            "name": f"{prefix} target",
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
        "name": f"{prefix} flow",
        "flowSpec": {"id": CRM_TO_AEP_FLOW_SPEC_ID, "version": "1.0"},
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


def start_run(
    hook: FlowServiceHook,
    flow_id: str,
    window_start: int,
    window_end: int,
    *,
    start_time: int,
    delta_column: dict[str, str] | None = None,
) -> tuple[str, bool]:
    """Start the on-demand run of ``flow_id`` for a window, exactly once, as the run operator does.

    :return: ``(run_id, adopted)``: ``adopted`` when a run already created for this window was found.
    """
    from airflow_flowservice.runs.start import start_window_run
    from airflow_flowservice.runs.windows import RunWindow

    started = start_window_run(
        hook, flow_id, RunWindow(window_start, window_end), start_time=start_time, delta_column=delta_column
    )
    return started.run_id, started.adopted
