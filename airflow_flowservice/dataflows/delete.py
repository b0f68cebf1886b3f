"""Deleting in dependency order: a flow before its connections, connections before their base.

A base connection still used by a connection outside the plan is kept, and the step says by which.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from airflow_flowservice.exceptions import FlowServiceNotFoundError
from airflow_flowservice.models import EntityKind, Flow, SourceOrTargetConnection

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

log = logging.getLogger(__name__)

CONNECTION_KINDS = (EntityKind.SOURCE_CONNECTION, EntityKind.TARGET_CONNECTION)


@dataclass
class DeletePlan:
    """Entities to delete, in the order they are deleted (flows, then connections, then bases)."""

    flows: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)

    def ordered(self) -> list[tuple[EntityKind, str]]:
        return [
            *((EntityKind.FLOW, i) for i in self.flows),
            *((EntityKind.SOURCE_CONNECTION, i) for i in self.sources),
            *((EntityKind.TARGET_CONNECTION, i) for i in self.targets),
            *((EntityKind.BASE_CONNECTION, i) for i in self.bases),
        ]


@dataclass(frozen=True)
class DeleteStep:
    """What :func:`delete_entities` did with one entity."""

    kind: EntityKind
    id: str
    action: Literal["deleted", "already deleted", "kept"]
    reason: str = ""


def plan_cascade(hook: FlowServiceHook, kind: EntityKind, entity_id: str) -> DeletePlan:
    """The entity and everything it depends on (read from the service), in delete order.

    A flow brings its source and target connections and their base connections (from
    ``inheritedAttributes``, else by reading the connections). Raises ``FlowServiceNotFoundError``
    when the entity itself is gone.
    """
    plan = DeletePlan()
    entity = hook.get_entity(kind, entity_id)
    connections: list[tuple[EntityKind, str, str | None]] = []
    if isinstance(entity, Flow):
        plan.flows.append(entity.id)
        inherited = _inherited_bases(entity)
        for conn_kind, ids in (
            (EntityKind.SOURCE_CONNECTION, entity.source_connection_ids),
            (EntityKind.TARGET_CONNECTION, entity.target_connection_ids),
        ):
            for conn_id in ids:
                if conn_id in inherited:
                    connections.append((conn_kind, conn_id, inherited[conn_id]))
                else:
                    connections.append((conn_kind, conn_id, _base_of(hook, conn_kind, conn_id)))
    elif isinstance(entity, SourceOrTargetConnection):
        connections.append((kind, entity.id, entity.parent_base_connection_id))
    else:
        plan.bases.append(entity.id)
    for conn_kind, conn_id, base_id in connections:
        (plan.sources if conn_kind == EntityKind.SOURCE_CONNECTION else plan.targets).append(conn_id)
        if base_id and base_id not in plan.bases:
            plan.bases.append(base_id)
    return plan


def _inherited_bases(flow: Flow) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    inherited = flow.inherited_attributes or {}
    for key in ("sourceConnections", "targetConnections"):
        for item in inherited.get(key) or []:
            if isinstance(item, dict) and item.get("id"):
                base = item.get("baseConnection") or {}
                out[str(item["id"])] = str(base["id"]) if isinstance(base, dict) and base.get("id") else None
    return out


def _base_of(hook: FlowServiceHook, kind: EntityKind, conn_id: str) -> str | None:
    try:
        conn = hook.get_entity(kind, conn_id)
    except FlowServiceNotFoundError:
        log.info("%s %s is already deleted", kind.label.capitalize(), conn_id)
        return None
    return conn.parent_base_connection_id if isinstance(conn, SourceOrTargetConnection) else None


def base_connection_users(hook: FlowServiceHook, base_id: str, ignore: Iterable[str] = ()) -> list[str]:
    """Source/target connections (other than ``ignore``) that use the base connection ``base_id``."""
    skip = set(ignore)
    users: list[str] = []
    for kind in CONNECTION_KINDS:
        for conn in hook.iter_entities(kind, [f"baseConnectionId=={base_id}"]):
            used = isinstance(conn, SourceOrTargetConnection) and conn.parent_base_connection_id == base_id
            if used and conn.id not in skip:
                users.append(f"{kind.label} {conn.id}")
    return users


def delete_entities(
    hook: FlowServiceHook, plan: DeletePlan, *, missing_ok: bool, keep_used_bases: bool = True
) -> list[DeleteStep]:
    """Delete the plan's entities in order; a 404 is "already deleted" with ``missing_ok``, else raised.

    With ``keep_used_bases``, a base connection still used by a connection outside the plan is kept
    (and the step says by which).
    """
    steps: list[DeleteStep] = []
    in_plan = set(plan.sources) | set(plan.targets)
    for kind, entity_id in plan.ordered():
        if kind == EntityKind.BASE_CONNECTION and keep_used_bases:
            users = base_connection_users(hook, entity_id, ignore=in_plan)
            if users:
                reason = f"still used by {', '.join(users)}"
                log.info("Kept base connection %s: %s", entity_id, reason)
                steps.append(DeleteStep(kind, entity_id, "kept", reason))
                continue
        try:
            hook.delete_entity(kind, entity_id)
        except FlowServiceNotFoundError:
            if not missing_ok:
                raise
            log.info("%s %s: already deleted", kind.label.capitalize(), entity_id)
            steps.append(DeleteStep(kind, entity_id, "already deleted"))
            continue
        log.info("Deleted %s %s", kind.label, entity_id)
        steps.append(DeleteStep(kind, entity_id, "deleted"))
    return steps
