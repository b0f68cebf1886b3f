"""Dataset export to cloud storage: list eligible datasets, export them to a destination.

As Adobe's guide "Export datasets using the Flow Service API" describes it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_flowservice.inputs import ExportSchedule, ExportTargetParams
    from airflow_flowservice.specs import DestinationSpec
    from airflow_flowservice.validation import IfExists


class FlowServiceListExportableDatasetsOperator(FlowServiceBaseOperator):
    """
    List the datasets that can be exported to a cloud storage destination.

    Reads every page of the data lake source's ``activationDatasets`` configs and returns
    ``[{"id", "name", "state"}, ...]`` (the XCom value), optionally filtered.

    """

    name_pattern: str | None = argument(
        'keep datasets whose name matches this glob, case-insensitively, e.g. ``"AAM *"``. Default: all.', None
    )
    states: Sequence[str] | None = argument(
        'keep datasets in one of these states (the Catalog dataset ``state``, e.g. ``["DRAFT"]``: Adobe\'s '
        "documented list of exportable datasets shows them ``DRAFT``). Default: all.",
        None,
        templated=False,
    )
    page_size: int = argument(
        "datasets per page requested. Default 20 (as in Adobe's dataset-export guide).", 20, templated=False
    )

    def execute(self, context: Context) -> list[dict[str, Any]]:
        wanted_states = {s.upper() for s in self.states} if self.states else None
        pattern = self.name_pattern.lower() if self.name_pattern else None
        found: list[dict[str, Any]] = []
        total = 0
        for dataset in self.hook.iter_exportable_datasets(page_size=self.page_size):
            total += 1
            if pattern is not None and not fnmatch.fnmatchcase((dataset.name or "").lower(), pattern):
                continue
            if wanted_states is not None and (dataset.state or "").upper() not in wanted_states:
                continue
            found.append({"id": dataset.id, "name": dataset.name, "state": dataset.state})
        self.log.info("%d of %d exportable datasets match: %s", len(found), total, [d["name"] for d in found[:20]])
        return found


def _fingerprint(value: Any) -> str:
    """8 hex chars identifying a JSON value, put in entity names so reuse-by-name never reuses stale content."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _dataset_refs(dataset_ids: Any) -> list[dict[str, str]]:
    """``[{"dataSetId", "name"?}]`` from ids, or from the dicts the list operator returns."""
    items = [dataset_ids] if isinstance(dataset_ids, (str, Mapping)) else list(dataset_ids or [])
    refs: list[dict[str, str]] = []
    for item in items:
        if isinstance(item, Mapping):
            ident = item.get("dataSetId") or item.get("id")
            ref = {"dataSetId": str(ident or "").strip()}
            if item.get("name"):
                ref["name"] = str(item["name"])
        else:
            ref = {"dataSetId": str(item).strip()}
        if not ref["dataSetId"]:
            raise FlowServiceConfigError(
                f"dataset_ids: {item!r} has no dataset id; give dataset ids, or dicts with 'id' as "
                "FlowServiceListExportableDatasetsOperator returns"
            )
        refs.append(ref)
    if not refs:
        raise FlowServiceConfigError(
            "dataset_ids: is empty; pass dataset ids, or the output of FlowServiceListExportableDatasetsOperator"
        )
    return sorted({r["dataSetId"]: r for r in refs}.values(), key=lambda r: r["dataSetId"])


class FlowServiceDatasetExportOperator(FlowServiceBaseOperator):
    """
    Export datasets to a cloud storage destination, creating or reusing the dataflow.

    Builds, from one description, the data lake source connection holding the datasets, the
    destination's base connection (credentials from an Airflow connection), the target connection
    (folder, file type, compression) and the export flow with its schedule, then creates what does
    not exist yet (everything is reused on a re-run). Everything is validated before any write: the
    destination, the target params, the schedule, the credentials connection, and (one read) that
    every dataset is eligible for export.

    Returns ``{"base_connection_id", "source_connection_id", "target_connection_id", "flow_id"}``
    and pushes each as an XCom key as soon as it exists. To wait for the export's next run, use
    :class:`~airflow_flowservice.sensors.FlowServiceRunSensor` with ``flow_id`` and ``created_after``.

    Source and target connection names end with a fingerprint of their content
    (``"<name> source 1a2b3c4d"``), so changing the datasets or the folder creates new connections
    instead of silently reusing the old ones; the flow (named ``name``) then no longer matches and
    the task fails naming the existing flow, which you delete or rename.

    """

    template_fields_renderers = {"target": "json", "schedule": "json"}

    destination: str = argument(
        "``amazon_s3``, ``azure_blob``, ``adls_gen2``, ``data_landing_zone``, ``google_cloud_storage`` or ``sftp``."
    )
    dataset_ids: Any = argument(
        'dataset ids, or ``[{"id", "name"}]`` as returned by :class:`FlowServiceListExportableDatasetsOperator`.'
    )
    target: Mapping[str, Any] = argument(
        'the destination\'s target params: ``path`` (folder, e.g. ``"exports/aep"``), ``file_type`` (``JSON`` or '
        "``PARQUET``), ``compression`` (``NONE`` or ``GZIP``), plus ``bucket_name`` (S3, GCS) or ``container`` "
        "(Azure Blob)."
    )
    schedule: Mapping[str, Any] = argument(
        '``{"time_unit": "hour"|"day", "interval": 3|6|9|12|24 (hour) or 1 (day), "start_time": epoch seconds or '
        'ISO 8601}``. Default ``time_unit`` ``"hour"``, ``interval`` 3, ``start_time`` the time the task runs '
        "(the first export starts then)."
    )
    name: str = argument("the flow's name; the connections are named after it.")
    destination_conn_id: str | None = argument(
        "Airflow connection holding the destination credentials (not needed for the Data Landing Zone). Which "
        "field holds what depends on the auth method: S3 login=access key, password=secret key; Azure Blob "
        "password=connection string; ADLS Gen2 login=service principal id, password=key, extra ``url`` and "
        "``tenant``; GCS login=access key id, password=secret; SFTP host=domain, login=username, "
        'password=password (or extra ``ssh_key`` with ``auth_spec_name="SFTP with SSH Key"``). Values are masked '
        "in logs. Default none.",
        None,
    )
    auth_spec_name: str | None = argument(
        "the destination's auth method; default its first one (see ``airflow_flowservice.specs.DESTINATIONS``).",
        None,
    )
    check_eligible: bool = argument(
        "check (one paged read) that every dataset is eligible for export before creating anything.",
        True,
        templated=False,
    )
    if_exists: IfExists = argument(
        '``"reuse"`` (default) or ``"fail"``, applied to each part.', "reuse", templated=False
    )
    draft: bool = argument(
        "create every part as a draft (publish it with "
        ":class:`~airflow_flowservice.operators.FlowServicePublishOperator`).",
        False,
        templated=False,
    )

    def _validated(self) -> tuple[DestinationSpec, ExportTargetParams, ExportSchedule, list[dict[str, str]]]:
        from pydantic import ValidationError

        from airflow_flowservice.inputs import ExportSchedule, target_params_model
        from airflow_flowservice.specs import get_destination
        from airflow_flowservice.validation import config_error

        try:
            dest = get_destination(str(self.destination))
            method = dest.auth_method(self.auth_spec_name)
        except ValueError as exc:
            raise FlowServiceConfigError(str(exc)) from None
        try:
            target = target_params_model(dest).model_validate(dict(self.target or {}))
        except ValidationError as exc:
            raise config_error(exc, prefix="target") from None
        try:
            schedule = ExportSchedule.model_validate(dict(self.schedule or {}))
        except ValidationError as exc:
            raise config_error(exc, prefix="schedule") from None
        if not str(self.name or "").strip():
            raise FlowServiceConfigError("name: is empty; give the export flow a name")
        if method is not None and not self.destination_conn_id:
            fields = ", ".join(f"{param} <- {source}" for param, source in method.params_from.items())
            raise FlowServiceConfigError(
                f"destination_conn_id: {dest.name} needs credentials ({method.spec_name!r}: {fields}); create "
                "an Airflow connection holding them and pass its id (never put secrets in the DAG file)"
            )
        return dest, target, schedule, _dataset_refs(self.dataset_ids)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_flowservice.dataflows.credentials import auth_params_from_connection
        from airflow_flowservice.operators.dataflow import create_dataflow_pushing_ids, validated_dataflow
        from airflow_flowservice.specs import DATA_LAKE_SOURCE_SPEC_ID
        from airflow_flowservice.validation import check_if_exists, describe_instant

        dest, target, schedule, datasets = self._validated()
        if_exists = check_if_exists(self.if_exists)
        method = dest.auth_method(self.auth_spec_name)
        auth_params = None
        if method is not None and self.destination_conn_id:
            # Read (and mask) the credentials before any API call, so a missing field fails first.
            auth_params = auth_params_from_connection(
                self.hook, self.destination_conn_id, method.params_from, field="destination_conn_id"
            )
        if self.check_eligible:
            eligible = {d.id for d in self.hook.iter_exportable_datasets()}
            missing = [d["dataSetId"] for d in datasets if d["dataSetId"] not in eligible]
            if missing:
                raise FlowServiceConfigError(
                    f"dataset_ids: {', '.join(missing)} not eligible for export in this sandbox; list the "
                    "eligible ones with FlowServiceListExportableDatasetsOperator"
                )
        target_params = target.to_params()
        base = {"name": f"{self.name} account", "connection_spec_id": dest.connection_spec_id}
        if method is not None:
            base["auth_spec_name"] = method.spec_name
        config = {
            "base_connection": base,
            "source_connection": {
                "name": f"{self.name} source {_fingerprint(datasets)}",
                "connection_spec_id": DATA_LAKE_SOURCE_SPEC_ID,
                "params": {"datasets": datasets},
            },
            "target_connection": {
                "name": f"{self.name} target {_fingerprint(target_params)}",
                "connection_spec_id": dest.connection_spec_id,
                "params": target_params,
            },
            "flow": {
                "name": self.name,
                "flow_spec_id": dest.flow_spec_id,
                "transformations": [],
                "schedule_params": schedule,
            },
        }
        self.log.info(
            "Exporting %d dataset(s) to %s, every %d %s(s) from %s",
            len(datasets),
            dest.name,
            schedule.interval,
            schedule.time_unit,
            describe_instant(schedule.start_time),
        )
        cfg = validated_dataflow(config, draft=self.draft)
        return create_dataflow_pushing_ids(
            self, context, cfg, draft=self.draft, if_exists=if_exists, auth_params=auth_params
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any] | None:
        """
        OpenLineage inputs (the exported AEP datasets) and output (the destination location).

        ``None`` without the OpenLineage provider. Built from the task's own arguments: no API call.
        For SFTP, Azure Blob and ADLS Gen2 the host or storage account is read from
        ``destination_conn_id`` (an Airflow connection, not the API). See ``docs/lineage.md``.
        """
        from airflow_flowservice.dataflows.credentials import auth_params_from_connection
        from airflow_flowservice.lineage import (
            NEEDS_BASE_AUTH,
            export_lineage,
            openlineage_available,
            to_operator_lineage,
        )

        if not openlineage_available():
            return None
        dest, target, _, datasets = self._validated()
        method = dest.auth_method(self.auth_spec_name)
        auth: dict[str, Any] = {}
        if method is not None and dest.key in NEEDS_BASE_AUTH and self.destination_conn_id:
            auth = auth_params_from_connection(self.hook, self.destination_conn_id, method.params_from)
        creds = self.hook.credentials
        return to_operator_lineage(
            export_lineage(
                dest, target.to_params(), [d["dataSetId"] for d in datasets], auth, creds.org_id, creds.sandbox
            )
        )
