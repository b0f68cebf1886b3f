"""Create a whole dataflow (base connection -> source -> target -> flow) from one declarative config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.dataflows.ensure import EnsuredEntity
    from airflow_flowservice.dataflows.mapping import MappingVersion
    from airflow_flowservice.inputs import DataflowConfig
    from airflow_flowservice.validation import IfExists


class FlowServiceCreateDataflowOperator(FlowServiceBaseOperator):
    """
    Create (or reuse) a base connection, a source connection, a target connection and a flow joining them.

    The whole ``config`` is validated before any call; then every spec check (drafts, auth) runs
    before the first create. The base connection (optional) is attached to whichever of the source
    and target has its connection spec (the source for a cloud storage source; the target for a
    dataset export); the flow gets the new source and target ids. Each part follows ``if_exists``.

    A ``mapping`` section (a Data Prep mapping set: the target dataset's XDM schema and the mappings
    into it) is validated with the other checks, created after the target connection, and the flow
    gets its ``Mapping`` transformation; the flow spec must list one (a config error before anything
    is created). A flow reused by name keeps its mapping set when it maps the same way.

    Returns ``{"base_connection_id", "source_connection_id", "target_connection_id", "flow_id"}``
    (``base_connection_id`` is ``None`` without a base connection; with a ``mapping``, also
    ``"mapping_id"`` and ``"mapping_version"``), and pushes each of these XCom keys as soon as the part
    exists. When a step fails, the error names the ids that already exist (they are in XCom too);
    re-running with ``if_exists="reuse"`` finishes the job.

    """

    template_fields_renderers = {"config": "json"}

    config: Mapping[str, Any] | DataflowConfig = argument(
        """the dataflow, e.g.::

            {
                "base_connection": {"name": "ACME base", "connection_spec_id": "be5ec48c-...",
                                    "auth_spec_name": "Basic Authentication"},
                "source_connection": {"name": "ACME source", "connection_spec_id": "be5ec48c-...",
                                      "data": {"format": "delimited"},
                                      "params": {"path": "/acme/account.csv", "type": "file"}},
                "target_connection": {"name": "ACME target",
                                      "connection_spec_id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c",
                                      "params": {"dataSetId": "..."}},
                "mapping": {"output_schema": {"id": "https://ns.adobe.com/acme/schemas/5706..."},
                            "mappings": [{"source_type": "ATTRIBUTE", "source": "first_name",
                                          "destination": "person.name.firstName"}]},
                "flow": {"name": "ACME dataflow", "flow_spec_name": "CloudStorageToAEP",
                         "schedule_params": {"start_time": 1700000000, "frequency": "once"}},
            }

        Each part takes the arguments of its single-entity operator (``params`` for a connection's
        ``params`` block); ``mapping`` is optional; see ``airflow_flowservice.inputs.DataflowConfig``."""
    )
    draft: bool = argument(
        "create every part with ``mode=draft`` (each spec must support drafts).", False, templated=False
    )
    if_exists: IfExists = argument(
        '``"reuse"`` (default) or ``"fail"``, applied to each part.', "reuse", templated=False
    )
    auth_params_from_conn_id: str | None = argument(
        "an Airflow connection supplying the base connection's auth params (see "
        ":class:`~airflow_flowservice.operators.FlowServiceCreateBaseConnectionOperator`). Default none.",
        None,
    )
    auth_conn_fields: Mapping[str, str] | None = argument(
        "auth param -> connection field mapping for ``auth_params_from_conn_id``. Default none.",
        None,
        templated=False,
    )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_flowservice.dataflows.credentials import auth_params_from_connection
        from airflow_flowservice.validation import check_if_exists

        if_exists = check_if_exists(self.if_exists)
        cfg = validated_dataflow(self.config, draft=self.draft)
        from_conn = (
            auth_params_from_connection(self.hook, self.auth_params_from_conn_id, self.auth_conn_fields)
            if self.auth_params_from_conn_id
            else None
        )
        return create_dataflow_pushing_ids(
            self, context, cfg, draft=self.draft, if_exists=if_exists, auth_params=from_conn
        )


def validated_dataflow(config: Mapping[str, Any] | DataflowConfig, *, draft: bool) -> DataflowConfig:
    """``config`` validated as a :class:`~airflow_flowservice.inputs.DataflowConfig`; errors name ``config.<field>``."""
    from airflow_flowservice.inputs import DataflowConfig
    from airflow_flowservice.validation import validate_input

    raw = config.model_dump() if isinstance(config, DataflowConfig) else config
    return validate_input(DataflowConfig, raw, prefix="config", context={"draft": draft, "dataflow": True})


def create_dataflow_pushing_ids(
    task: FlowServiceBaseOperator,
    context: Context,
    cfg: DataflowConfig,
    *,
    draft: bool,
    if_exists: IfExists,
    auth_params: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Create (or reuse) the dataflow of ``cfg``, pushing each part's id to XCom as soon as it exists.

    Returns ``{"base_connection_id", "source_connection_id", "target_connection_id", "flow_id"}``, and
    ``"mapping_id"``, ``"mapping_version"`` when ``cfg`` has a mapping.
    """
    from airflow_flowservice.dataflows.create import DATAFLOW_KEYS, create_dataflow

    ti = context["ti"]
    mapping: dict[str, Any] = {}

    def pushed(key: str, entity: EnsuredEntity) -> None:
        ti.xcom_push(key=key, value=entity.id)

    def mapped(version: MappingVersion) -> None:
        mapping.update(version.to_xcom())
        for key, value in mapping.items():
            ti.xcom_push(key=key, value=value)

    parts = create_dataflow(
        task.hook,
        cfg,
        draft=draft,
        if_exists=if_exists,
        auth_params=auth_params,
        on_created=pushed,
        on_mapping=mapped,
    )
    ids: dict[str, Any] = {key: (parts[key].id if key in parts else None) for key in DATAFLOW_KEYS}
    ids.update(mapping)
    task.log.info("Dataflow ready%s: %s", " (drafts)" if draft else "", ids)
    return ids
