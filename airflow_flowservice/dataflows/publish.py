"""Publishing drafts in dependency order: base connection -> source and target connections -> flow.

What is already published is skipped, so running it again after a partial failure finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from airflow_flowservice.exceptions import FlowServiceBadRequestError, FlowServiceConflictError
from airflow_flowservice.models import Entity, EntityKind, Flow, SourceOrTargetConnection
from airflow_flowservice.validation import DATAFLOW_KINDS

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishStep:
    """What :func:`publish_in_order` did with one entity."""

    kind: EntityKind
    id: str
    action: Literal["published", "already published"]
    etag: str | None


def publish_in_order(hook: FlowServiceHook, kind: EntityKind, entity_id: str) -> list[PublishStep]:
    """Publish ``entity_id`` and its drafts, dependencies first: base -> source & target -> flow.

    Already-published entities are skipped, so running it again after a partial failure finishes the
    job. A published entity's dependencies are published too (the service refuses to publish
    otherwise), so they are not read: a published flow costs one read.
    """
    root = hook.get_entity(kind, entity_id)
    if not root.is_draft:
        log.info("%s %s is already published (state %s)", kind.label.capitalize(), entity_id, root.state)
        return [PublishStep(kind, entity_id, "already published", root.etag)]
    steps: list[PublishStep] = []
    if isinstance(root, Flow):
        connections = [hook.get_entity(EntityKind.SOURCE_CONNECTION, i) for i in root.source_connection_ids]
        connections += [hook.get_entity(EntityKind.TARGET_CONNECTION, i) for i in root.target_connection_ids]
        bases = _unique(
            c.parent_base_connection_id
            for c in connections
            if isinstance(c, SourceOrTargetConnection) and c.is_draft and c.parent_base_connection_id
        )
        for base_id in bases:
            steps.append(
                _publish_if_draft(
                    hook, EntityKind.BASE_CONNECTION, hook.get_entity(EntityKind.BASE_CONNECTION, base_id)
                )
            )
        for conn in connections:
            conn_kind = (
                EntityKind.SOURCE_CONNECTION if conn.id in root.source_connection_ids else EntityKind.TARGET_CONNECTION
            )
            steps.append(_publish_if_draft(hook, conn_kind, conn))
    elif isinstance(root, SourceOrTargetConnection) and root.parent_base_connection_id:
        base = hook.get_entity(EntityKind.BASE_CONNECTION, root.parent_base_connection_id)
        steps.append(_publish_if_draft(hook, EntityKind.BASE_CONNECTION, base))
    steps.append(_publish_if_draft(hook, kind, root))
    return steps


def publish_dataflow(hook: FlowServiceHook, ids: Mapping[str, str]) -> list[PublishStep]:
    """Publish a dataflow whose parts are all known (:func:`create_dataflow`'s ids), one call per part.

    The ids give the dependency order (base -> source -> target -> flow), so nothing is read: each
    part is published directly. When the service refuses a publish, the part is read back: if it
    is not a draft it is skipped as already published, otherwise the error is raised with the ids
    published so far added to its message (a re-run finishes the job).
    """
    steps: list[PublishStep] = []
    for key, kind in DATAFLOW_KINDS.items():
        entity_id = ids.get(key)
        if not entity_id:
            continue
        try:
            ref = hook.entity_action(kind, entity_id, "publish")
        except (FlowServiceBadRequestError, FlowServiceConflictError) as exc:
            entity = hook.get_entity(kind, entity_id)
            if entity.is_draft:
                done = ", ".join(s.id for s in steps) or "none"
                raise exc.with_note(f"published before it: {done}") from exc
            log.info("Skipped %s %s: already published (state %s)", kind.label, entity_id, entity.state)
            steps.append(PublishStep(kind, entity_id, "already published", entity.etag))
            continue
        log.info("Published %s %s", kind.label, entity_id)
        steps.append(PublishStep(kind, entity_id, "published", ref.etag))
    return steps


def _publish_if_draft(hook: FlowServiceHook, kind: EntityKind, entity: Entity) -> PublishStep:
    if not entity.is_draft:
        log.info("Skipped %s %s: already published (state %s)", kind.label, entity.id, entity.state)
        return PublishStep(kind, entity.id, "already published", entity.etag)
    # kind.path is /sourceConnections or /targetConnections: the publish examples of Adobe's drafts guide post every
    # kind to /connections/{id}/action, a doc bug (its "API format" lines use the kind's own path).
    ref = hook.entity_action(kind, entity.id, "publish")
    log.info("Published %s %s", kind.label, entity.id)
    return PublishStep(kind, entity.id, "published", ref.etag)


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)
