"""Apply a :class:`~airflow_flowservice.as_code.plan.Plan`: make the service match the file.

Order: deletes first (replaced parts and pruned flows, flows before their connections, connections
before their base connections), then each dataflow's creates and updates in dependency order (base
-> source and target -> mapping set -> flow), then the publishes (drafts first, then publish). A
mapping set to update gets its next version (``PUT``), and the flow's Mapping transformation is
patched to that version with the flow's other changes. Updates are
``PATCH`` with ``If-Match: <etag read by plan>``: a 412 means someone changed the entity since the
plan, and apply stops with "changed since plan, plan again".

Creates reuse an entity of the same name that matches (``if_exists="reuse"``), so when apply stops
part-way (the error says what was applied), planning and applying again converges.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_flowservice.as_code.plan import MAPPING_PART, NEW_MAPPING_ID, NEXT_MAPPING_VERSION, PARTS, Change, Plan
from airflow_flowservice.dataflows.credentials import auth_params_from_connection
from airflow_flowservice.dataflows.delete import DeletePlan, delete_entities
from airflow_flowservice.dataflows.ensure import create_base_connection, create_connection, create_flow
from airflow_flowservice.dataflows.mapping import (
    MappingVersion,
    create_mapping_set,
    mapping_transformation,
    put_mapping_version,
)
from airflow_flowservice.dataflows.publish import publish_dataflow
from airflow_flowservice.exceptions import FlowServiceConflictError, FlowServiceError, FlowServicePlanStaleError
from airflow_flowservice.models import EntityKind

if TYPE_CHECKING:
    from airflow_flowservice.as_code.spec_file import FileDataflow, SpecFile
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

log = logging.getLogger(__name__)

_ID_KEYS = {part: f"{part}_id" for part, _ in PARTS}


@dataclass
class ApplyResult:
    """What apply did: one line per action done, and each dataflow's ids after it."""

    done: list[str] = field(default_factory=list)
    ids: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"done": list(self.done), "ids": {k: dict(v) for k, v in self.ids.items()}}


def apply_plan(hook: FlowServiceHook, spec: SpecFile, plan: Plan) -> ApplyResult:
    """Carry out ``plan`` (made from ``spec``); see the module docstring for the order.

    A failure raises the error with what was applied before it added to its message.
    """
    result = ApplyResult()
    try:
        _apply(hook, spec, plan, result)
    except FlowServiceError as exc:
        done = "; ".join(result.done) or "nothing"
        raise exc.with_note(f"applied before the failure: {done}; run plan and apply again to finish") from exc
    return result


def _apply(hook: FlowServiceHook, spec: SpecFile, plan: Plan, result: ApplyResult) -> None:
    _delete(hook, plan, result)
    by_key = {df.key: df for df in spec.dataflows}
    for key, df in by_key.items():
        changes = {c.part: c for c in plan.changes if c.dataflow == key}
        ids = result.ids.setdefault(key, {})
        for part, kind in PARTS:
            change = changes.get(part)
            if part == "flow" and MAPPING_PART in changes:
                _apply_mapping(hook, df, changes[MAPPING_PART], ids, result)
            if change is None:
                continue
            if change.action in ("create", "replace"):
                entity_id = _create(hook, df, part, kind, ids)
                result.done.append(f"created {df.key}.{part} {entity_id}")
            else:
                entity_id = str(change.id)
                if change.action == "update":
                    _patch(hook, change, ids)
                    result.done.append(f"updated {df.key}.{part} {entity_id}")
            ids[_ID_KEYS[part]] = entity_id
        to_publish = {_ID_KEYS[c.part]: ids[_ID_KEYS[c.part]] for c in changes.values() if c.publish and not df.draft}
        if to_publish:
            for step in publish_dataflow(hook, to_publish):
                result.done.append(f"{step.action} {df.key} {step.kind.label} {step.id}")


def _delete(hook: FlowServiceHook, plan: Plan, result: ApplyResult) -> None:
    replaced = DeletePlan()
    pruned = DeletePlan()
    lists = {
        EntityKind.FLOW: "flows",
        EntityKind.SOURCE_CONNECTION: "sources",
        EntityKind.TARGET_CONNECTION: "targets",
        EntityKind.BASE_CONNECTION: "bases",
    }
    for change in plan.changes:
        if change.action in ("replace", "delete") and change.id and change.kind is not None:
            target = replaced if change.action == "replace" else pruned
            getattr(target, lists[change.kind]).append(change.id)
    # A replaced part is deleted outright (what links to it is replaced too); a pruned flow's base
    # connection is kept while a connection outside the prune still uses it.
    for delete_plan, keep_used in ((replaced, False), (pruned, True)):
        for step in delete_entities(hook, delete_plan, missing_ok=True, keep_used_bases=keep_used):
            extra = f" ({step.reason})" if step.reason else ""
            result.done.append(f"{step.action} {step.kind.label} {step.id}{extra}")


def _apply_mapping(
    hook: FlowServiceHook, df: FileDataflow, change: Change, ids: dict[str, str], result: ApplyResult
) -> None:
    """The dataflow's mapping set: created, or its next version put (validated by the plan), or as it is."""
    assert df.mapping is not None  # the plan has a mapping part only when the file has one
    if change.action == "create":
        made = create_mapping_set(hook, df.mapping, validate=False)
        result.done.append(f"created {df.key}.mapping {made.id} (version {made.version})")
    elif change.action == "update":
        made = put_mapping_version(hook, str(change.id), df.mapping, validate=False)
        result.done.append(f"updated {df.key}.mapping {made.id} (version {change.version} -> {made.version})")
    else:
        made = MappingVersion(str(change.id), int(change.version or 0))
    ids["mapping_id"], ids["mapping_version"] = made.id, str(made.version)


def _filled(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with the plan's placeholders for a new mapping set id and version replaced by apply's."""
    if isinstance(value, dict):
        return {k: _filled(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, ids) for v in value]
    if value == NEW_MAPPING_ID:
        return ids.get("mapping_id", value)
    if value == NEXT_MAPPING_VERSION:
        return ids.get("mapping_version", value)
    return value


def _patch(hook: FlowServiceHook, change: Change, ids: dict[str, str] | None = None) -> None:
    assert change.kind is not None  # only Flow Service entities are patched
    ops = _filled(change.ops, ids or {})
    try:
        hook.patch_entity(change.kind, str(change.id), ops, str(change.etag))
    except FlowServiceConflictError as exc:
        if exc.status != 412:
            raise
        raise FlowServicePlanStaleError(
            f"{change.dataflow}.{change.part} {change.id} changed since plan, plan again "
            f"(If-Match {change.etag} no longer matches)",
            status=412,
            code=exc.code,
            request_id=exc.request_id,
            method=exc.method,
            path=exc.path,
        ) from exc
    log.info("Updated %s %s (%d operations)", change.kind.label, change.id, len(change.ops))


def _create(hook: FlowServiceHook, df: FileDataflow, part: str, kind: EntityKind, ids: dict[str, str]) -> str:
    if part == "base_connection":
        base = df.base_connection
        assert base is not None  # the plan has a base part only when the file has one
        creds = base.credentials
        params = (
            auth_params_from_connection(hook, creds.conn_id, creds.fields, field="credentials.conn_id")
            if creds is not None
            else {}
        )
        return create_base_connection(hook, base, draft=df.draft, if_exists="reuse", auth_params=params).id
    if part == "flow":
        transformations = list(df.flow.transformations)
        if "mapping_id" in ids:
            transformations.append(mapping_transformation(ids["mapping_id"], int(ids["mapping_version"])))
        flow_in = df.flow.model_copy(
            update={
                "source_connection_ids": [ids["source_connection_id"]],
                "target_connection_ids": [ids["target_connection_id"]],
                "transformations": transformations,
            }
        )
        return create_flow(hook, flow_in, draft=df.draft, if_exists="reuse").id
    conn = getattr(df, part)
    if part in df.base_users():
        conn = conn.model_copy(update={"base_connection_id": ids["base_connection_id"]})
    return create_connection(hook, kind, conn, draft=df.draft, if_exists="reuse").id
