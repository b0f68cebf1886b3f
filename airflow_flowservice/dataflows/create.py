"""A whole dataflow (base -> source -> target connections -> flow) from one config, every check first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.dataflows.catalog import flow_spec
from airflow_flowservice.dataflows.ensure import (
    EnsuredEntity,
    base_connection_checks,
    check_mapping_supported,
    connection_checks,
    create_base_connection,
    create_connection,
    create_flow,
    flow_checks,
    flow_differences,
    resolve_flow_spec_id,
)
from airflow_flowservice.dataflows.mapping import (
    MappingVersion,
    check_mapping_set,
    create_mapping_set,
    existing_flow_mapping,
    mapping_transformation,
)
from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceError
from airflow_flowservice.models import EntityKind, Flow
from airflow_flowservice.validation import DATAFLOW_KINDS

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.inputs import DataflowConfig, FlowInput, SourceOrTargetInput


DATAFLOW_KEYS = tuple(DATAFLOW_KINDS)


def dataflow_checks(hook: FlowServiceHook, cfg: DataflowConfig, auth_params: Mapping[str, Any], *, draft: bool) -> str:
    """Every check of every part, before anything is created; returns the flow spec id."""
    checks: list[tuple[str, Callable[[], Any]]] = []
    if cfg.base_connection is not None:
        base = cfg.base_connection
        checks.append(("base_connection", lambda: base_connection_checks(hook, base, auth_params, draft=draft)))
    checks.append(("source_connection", lambda: connection_checks(hook, cfg.source_connection, draft=draft)))
    checks.append(("target_connection", lambda: connection_checks(hook, cfg.target_connection, draft=draft)))
    spec_id: list[str] = []

    def flow() -> None:
        spec_id.append(resolve_flow_spec_id(hook, cfg.flow))
        flow_checks(hook, cfg.flow, spec_id[0], draft=draft)

    checks.append(("flow", flow))
    if cfg.mapping is not None:
        wanted = cfg.mapping

        def mapping() -> None:
            check_mapping_supported(flow_spec(hook, spec_id=spec_id[0], field="flow"), "")
            check_mapping_set(hook, wanted, where="config.mapping.mappings")

        checks.append(("mapping", mapping))
    for where, check in checks:
        try:
            check()
        except FlowServiceConfigError as exc:
            message = exc.message if exc.message.startswith("config.") else f"config.{where}: {exc.message}"
            raise FlowServiceConfigError(message) from exc
    return spec_id[0]


def create_dataflow(
    hook: FlowServiceHook,
    cfg: DataflowConfig,
    *,
    draft: bool,
    if_exists: Literal["reuse", "fail"],
    auth_params: Mapping[str, Any] | None = None,
    on_created: Callable[[str, EnsuredEntity], None] | None = None,
    on_mapping: Callable[[MappingVersion], None] | None = None,
) -> dict[str, EnsuredEntity]:
    """Create (or reuse) base -> source -> target -> (mapping set) -> flow of ``cfg``; keys are :data:`DATAFLOW_KEYS`.

    Every check (specs, drafts, auth, the mapping's validation) runs before the first create. A part
    whose parent was just created is not looked up by name (no existing entity can reference a new
    parent): a new dataflow costs a lookup only for its roots (the base connection, a connection
    without one). ``on_created(key, entity)`` is called as soon as each part exists, ``on_mapping`` with
    the mapping set version the flow uses. A flow reused with ``if_exists="reuse"`` keeps its mapping
    set when it maps the same way (no new set is created), and is a clash when it does not. A failure
    part-way raises the same error with the ids that already exist added to its message (re-running
    with ``if_exists="reuse"`` finishes the job; a mapping set made before the failure stays unused, as
    the API cannot delete one).
    """
    params = {**(auth_params or {}), **(cfg.base_connection.auth_params if cfg.base_connection else {})}
    flow_spec_id = dataflow_checks(hook, cfg, params, draft=draft)
    done: dict[str, EnsuredEntity] = {}
    made: list[str] = []

    def record(key: str, entity: EnsuredEntity) -> EnsuredEntity:
        done[key] = entity
        if on_created is not None:
            on_created(key, entity)
        return entity

    try:
        links: dict[str, str] = {}
        if cfg.base_connection is not None:
            base = create_base_connection(
                hook, cfg.base_connection, draft=draft, if_exists=if_exists, auth_params=params, check=False
            )
            record("base_connection_id", base)
            links = {name: base.id for name in cfg.base_users()}
        fresh_base = cfg.base_connection is not None and done["base_connection_id"].created

        def connection(kind: EntityKind, key: str, model: SourceOrTargetInput) -> EnsuredEntity:
            """The source or target connection, linked to the base connection when it uses it."""
            if key in links:
                model = model.model_copy(update={"base_connection_id": links[key]})
            # a part of a base connection created just now cannot exist yet: no look-up by name
            lookup = not (fresh_base and key in links)
            entity = create_connection(hook, kind, model, draft=draft, if_exists=if_exists, check=False, lookup=lookup)
            return record(f"{key}_id", entity)

        source = connection(EntityKind.SOURCE_CONNECTION, "source_connection", cfg.source_connection)
        target = connection(EntityKind.TARGET_CONNECTION, "target_connection", cfg.target_connection)
        flow_in = cfg.flow.model_copy(
            update={
                "flow_spec_id": flow_spec_id,
                "flow_spec_name": None,
                "source_connection_ids": [source.id],
                "target_connection_ids": [target.id],
            }
        )
        lookup = not (source.created or target.created)
        if cfg.mapping is not None:
            mapping, lookup = _flow_mapping(hook, cfg, flow_in, if_exists=if_exists, lookup=lookup)
            if mapping is not None:
                if mapping.created:
                    made.append(f"mapping_id={mapping.id}")
                if on_mapping is not None:
                    on_mapping(mapping)
                transformations = [*flow_in.transformations, mapping_transformation(mapping.id, mapping.version)]
                flow_in = flow_in.model_copy(update={"transformations": transformations})
        record("flow_id", create_flow(hook, flow_in, draft=draft, if_exists=if_exists, check=False, lookup=lookup))
    except FlowServiceError as exc:
        if not done:
            raise
        existing = ", ".join([*(f"{key}={entity.id}" for key, entity in done.items()), *made])
        raise exc.with_note(f"already exist: {existing}; re-run with if_exists='reuse' to finish") from exc
    return done


def _flow_mapping(
    hook: FlowServiceHook, cfg: DataflowConfig, flow_in: FlowInput, *, if_exists: Literal["reuse", "fail"], lookup: bool
) -> tuple[MappingVersion | None, bool]:
    """The mapping set version the flow of ``cfg`` gets, and whether the flow still has to be looked up by name.

    The flow is looked up first (unless its connections are new): a flow that will be reused keeps its
    set (:func:`existing_flow_mapping`); with no flow of that name, the set is created (already
    validated). ``None`` when the flow's creation is bound to fail on its name (``if_exists``): nothing
    more is created then.
    """
    assert cfg.mapping is not None
    named = hook.find_entities_by_name(EntityKind.FLOW, flow_in.name) if lookup or if_exists == "fail" else []
    if not named:
        return create_mapping_set(hook, cfg.mapping, validate=False), False
    spec_id = str(flow_in.flow_spec_id)
    same = flow_differences(spec_id, flow_in.source_connection_ids, flow_in.target_connection_ids)
    reusable = [f for f in named if isinstance(f, Flow) and not same(f)]
    if if_exists == "reuse" and len(reusable) == 1:
        return existing_flow_mapping(hook, reusable[0], cfg.mapping), True
    return None, True
