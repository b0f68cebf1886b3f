"""Data lineage: OpenLineage datasets and Airflow Assets for what Flow Service dataflows read and write.

The one module that knows the naming of Experience Platform datasets, sources and export
destinations (documented in ``docs/lineage.md``), and the only one importing the OpenLineage
provider — lazily, inside :func:`to_operator_lineage`, so everything works without it.

Naming (OpenLineage ``namespace`` + ``name``; the Asset URI is ``namespace/name``):

- an AEP dataset: ``aep://{org_id}/{sandbox}`` + the dataset id;
- a source read by a source connection: ``aep-source://{connection spec name, slugified}`` + the
  object it reads (``tableName``, ``path``, ``campaignId``... of the connection's params);
- an export destination: the storage location, as OpenLineage names it (``s3://{bucket}`` +
  folder, ``gs://{bucket}``, ``wasbs://{container}@{account}.blob.core.windows.net``,
  ``abfss://{filesystem}@{account}.dfs.core.windows.net``, ``sftp://{host}``) and
  ``aep-dlz://{org_id}/{sandbox}`` for the Data Landing Zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from airflow_flowservice.models import BaseConnection, EntityKind, SourceOrTargetConnection
from airflow_flowservice.specs import (
    DATA_LAKE_SOURCE_SPEC_ID,
    DATA_LAKE_TARGET_SPEC_ID,
    DESTINATIONS,
    MAILCHIMP_CAMPAIGN_SPEC_ID,
    DestinationSpec,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Flow

AEP_SCHEME = "aep"
SOURCE_SCHEME = "aep-source"
DLZ_SCHEME = "aep-dlz"

# Params of a source connection that name the object it reads, most specific first.
SOURCE_OBJECT_PARAMS = ("tableName", "path", "campaignId", "listId", "object", "objectName", "fileName")

# Connection specs whose name is known without a read (the rest cost one GET /connectionSpecs/{id}).
KNOWN_SPEC_NAMES: dict[str, str] = {
    DATA_LAKE_SOURCE_SPEC_ID: "Data Lake",
    DATA_LAKE_TARGET_SPEC_ID: "Data Lake",
    MAILCHIMP_CAMPAIGN_SPEC_ID: "Mailchimp Campaign",
    **{spec.connection_spec_id: spec.name for spec in DESTINATIONS.values()},
}

# Destinations whose location needs a non-secret fact of the base connection (host, account).
NEEDS_BASE_AUTH = frozenset({"sftp", "azure_blob", "adls_gen2"})

Kind = Literal["aep_dataset", "source", "destination"]


@dataclass(frozen=True)
class LineageDataset:
    """One dataset in OpenLineage terms: ``namespace`` (the data source) and ``name`` (inside it)."""

    namespace: str
    name: str
    kind: Kind

    @property
    def uri(self) -> str:
        """``namespace/name``: the Airflow Asset URI of this dataset."""
        return f"{self.namespace}/{self.name.lstrip('/')}"


@dataclass
class FlowLineage:
    """What a dataflow reads (``inputs``) and writes (``outputs``)."""

    inputs: list[LineageDataset] = field(default_factory=list)
    outputs: list[LineageDataset] = field(default_factory=list)


def slug(text: str) -> str:
    """``"Google BigQuery"`` -> ``"google-bigquery"``: lower case, runs of other characters -> ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def aep_namespace(org_id: str, sandbox: str) -> str:
    """``aep://{org_id}/{sandbox}``: the namespace of every dataset of one sandbox."""
    return f"{AEP_SCHEME}://{org_id}/{sandbox}"


def aep_dataset(org_id: str, sandbox: str, dataset_id: str) -> LineageDataset:
    """An Experience Platform dataset: ``aep://{org_id}/{sandbox}`` + its id."""
    return LineageDataset(aep_namespace(org_id, sandbox), dataset_id, "aep_dataset")


def source_dataset(spec_name: str, params: Mapping[str, Any], fallback: str) -> LineageDataset:
    """What a (non data lake) source connection reads: ``aep-source://{spec}`` + the object it names.

    The object is the first of :data:`SOURCE_OBJECT_PARAMS` in ``params``; without one, the
    connection's scalar params as ``key=value`` joined by ``&`` (sorted); without those, ``fallback``
    (``sourceConnections/{id}``).
    """
    for key in SOURCE_OBJECT_PARAMS:
        value = params.get(key)
        if value not in (None, ""):
            return LineageDataset(f"{SOURCE_SCHEME}://{slug(spec_name)}", str(value), "source")
    scalars = sorted((k, v) for k, v in params.items() if isinstance(v, (str, int, float)) and str(v))
    name = "&".join(f"{k}={v}" for k, v in scalars) or fallback
    return LineageDataset(f"{SOURCE_SCHEME}://{slug(spec_name)}", name, "source")


def azure_account(connection_string: str | None) -> tuple[str, str] | None:
    """``(AccountName, EndpointSuffix)`` of an Azure storage connection string, or None."""
    parts = dict(item.split("=", 1) for item in str(connection_string or "").split(";") if "=" in item and item.strip())
    account = parts.get("AccountName", "").strip()
    return (account, parts.get("EndpointSuffix", "core.windows.net").strip()) if account else None


def destination_dataset(
    dest: DestinationSpec, params: Mapping[str, Any], auth: Mapping[str, Any], org_id: str, sandbox: str
) -> LineageDataset:
    """The storage location an export target connection writes to.

    :param params: the target connection's API params (``bucketName``, ``container``, ``path`` or
        ``remotePath``...), as :meth:`~airflow_flowservice.inputs.ExportTargetParams.to_params` builds them.
    :param auth: the base connection's auth params; only non-secret facts are used: SFTP ``domain``,
        ADLS Gen2 ``url``, the ``AccountName`` of an Azure Blob ``connectionString``. Empty when unknown.
    """
    path = str(params.get("remotePath") or params.get("path") or "").strip()
    folder = path.strip("/")
    if dest.key == "amazon_s3":
        return LineageDataset(f"s3://{params.get('bucketName', '')}", folder, "destination")
    if dest.key == "google_cloud_storage":
        return LineageDataset(f"gs://{params.get('bucketName', '')}", folder, "destination")
    if dest.key == "azure_blob":
        container = str(params.get("container", ""))
        account = azure_account(auth.get("connectionString"))
        host = f"@{account[0]}.blob.{account[1]}" if account else ""
        return LineageDataset(f"wasbs://{container}{host}", folder, "destination")
    if dest.key == "adls_gen2":
        filesystem, _, rest = folder.partition("/")
        netloc = urlsplit(str(auth.get("url") or "")).netloc
        return LineageDataset(f"abfss://{filesystem}{'@' + netloc if netloc else ''}", rest, "destination")
    if dest.key == "sftp":
        domain = str(auth.get("domain") or "").strip() or "unknown-host"
        return LineageDataset(f"sftp://{domain}", path or "/", "destination")
    return LineageDataset(f"{DLZ_SCHEME}://{org_id}/{sandbox}", folder, "destination")


def destination_for_spec(connection_spec_id: str) -> DestinationSpec | None:
    """The export destination whose connection spec this is, if any."""
    return next((d for d in DESTINATIONS.values() if d.connection_spec_id == connection_spec_id), None)


def _datasets_of(params: Mapping[str, Any], org_id: str, sandbox: str) -> list[LineageDataset]:
    found: list[LineageDataset] = []
    if params.get("dataSetId"):
        found.append(aep_dataset(org_id, sandbox, str(params["dataSetId"])))
    for item in params.get("datasets") or []:
        ident = item.get("dataSetId") or item.get("id") if isinstance(item, Mapping) else item
        if ident:
            found.append(aep_dataset(org_id, sandbox, str(ident)))
    return found


def connection_datasets(
    hook: FlowServiceHook,
    conn: SourceOrTargetConnection,
    *,
    spec_names: dict[str, str] | None = None,
) -> list[LineageDataset]:
    """The datasets one source or target connection reads or writes.

    Data lake connections (``params.dataSetId`` / ``params.datasets``) give AEP datasets with no
    call; an export destination's target connection gives its storage location (one
    ``GET /connections/{base}`` for SFTP, Azure Blob and ADLS Gen2, whose host or account is in the
    base connection); any other source gives ``aep-source://...`` (one ``GET /connectionSpecs/{id}``
    for a spec not in :data:`KNOWN_SPEC_NAMES`, cached in ``spec_names``).
    """
    creds = hook.credentials
    params = conn.params or {}
    found = _datasets_of(params, creds.org_id, creds.sandbox)
    if found:
        return found
    spec_id = conn.connection_spec.id
    dest = destination_for_spec(spec_id)
    if dest is not None:
        auth: Mapping[str, Any] = {}
        base_id = conn.parent_base_connection_id
        if dest.key in NEEDS_BASE_AUTH and base_id:
            base = hook.get_entity(EntityKind.BASE_CONNECTION, base_id)
            assert isinstance(base, BaseConnection)
            auth = (base.auth or {}).get("params") or {}
        return [destination_dataset(dest, params, auth, creds.org_id, creds.sandbox)]
    names = spec_names if spec_names is not None else {}
    if spec_id not in names:
        names[spec_id] = KNOWN_SPEC_NAMES.get(spec_id) or hook.get_connection_spec(spec_id).name or spec_id
    return [source_dataset(names[spec_id], params, f"sourceConnections/{conn.id}")]


def flow_lineage(hook: FlowServiceHook, flow: Flow, *, inputs: bool = True) -> FlowLineage:
    """Inputs and outputs of a flow, from its source and target connections (one read each).

    :param inputs: also read the source connections. ``False`` gives the outputs only (what the
        Asset events need).
    """
    spec_names: dict[str, str] = {}
    result = FlowLineage()
    if inputs:
        for source_id in flow.source_connection_ids:
            source = hook.get_entity(EntityKind.SOURCE_CONNECTION, source_id)
            assert isinstance(source, SourceOrTargetConnection)
            result.inputs.extend(connection_datasets(hook, source, spec_names=spec_names))
    for target_id in flow.target_connection_ids:
        target = hook.get_entity(EntityKind.TARGET_CONNECTION, target_id)
        assert isinstance(target, SourceOrTargetConnection)
        result.outputs.extend(connection_datasets(hook, target, spec_names=spec_names))
    return result


def export_lineage(
    dest: DestinationSpec,
    target_params: Mapping[str, Any],
    dataset_ids: Iterable[str],
    auth: Mapping[str, Any],
    org_id: str,
    sandbox: str,
) -> FlowLineage:
    """A dataset export: the AEP datasets in, the destination location out (no API call)."""
    return FlowLineage(
        inputs=[aep_dataset(org_id, sandbox, ident) for ident in dataset_ids],
        outputs=[destination_dataset(dest, target_params, auth, org_id, sandbox)],
    )


def openlineage_available() -> bool:
    """Whether the OpenLineage provider can be imported."""
    try:
        import airflow.providers.openlineage.extractors  # noqa: F401
    except ImportError:
        return False
    return True


def to_operator_lineage(
    lineage: FlowLineage,
    *,
    metrics: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    run_source: str | None = None,
) -> OperatorLineage[Any, Any] | None:
    """An ``OperatorLineage`` of ``lineage``; ``None`` when the OpenLineage provider is not installed.

    :param metrics: the run metrics the task pushed (XCom ``metrics``): records, bytes and files
        written become each output's ``outputStatistics`` facet.
    :param run_id: the Flow Service run id, reported as the ``externalQuery`` run facet, with
        ``run_source`` (the sandbox namespace) as its source.
    """
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            ExternalQueryRunFacet,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    output_facets: dict[str, Any] = {}
    if metrics and len(lineage.outputs) == 1:
        # Counts are per run, so they describe the output only when there is exactly one.
        rows, size, files = (metrics.get(k) for k in ("records_written", "bytes_written", "files_written"))
        if rows is not None or size is not None or files is not None:
            output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
                rowCount=rows, size=size, fileCount=files
            )
    run_facets: dict[str, Any] = {}
    if run_id:
        run_facets["externalQuery"] = ExternalQueryRunFacet(externalQueryId=run_id, source=run_source or AEP_SCHEME)
    return OperatorLineage(
        inputs=[Dataset(namespace=d.namespace, name=d.name) for d in lineage.inputs],
        outputs=[
            OutputDataset(namespace=d.namespace, name=d.name, outputFacets=output_facets) for d in lineage.outputs
        ],
        run_facets=run_facets,
    )


def emit_assets(
    context: Context, alias: str, datasets: Iterable[LineageDataset], extra: Mapping[str, Any] | None = None
) -> list[str]:
    """Add one Asset event per dataset to the task's ``AssetAlias(alias)`` outlet; returns their URIs."""
    from airflow.providers.common.compat.sdk import Asset, AssetAlias

    events = context["outlet_events"][AssetAlias(alias)]
    uris: list[str] = []
    for dataset in datasets:
        events.add(Asset(uri=dataset.uri), extra=dict(extra or {}))
        uris.append(dataset.uri)
    return uris


def task_xcom(task_instance: Any, key: str) -> Any:
    """An XCom this task instance pushed (``None`` when there is none)."""
    return task_instance.xcom_pull(task_ids=task_instance.task_id, key=key)
