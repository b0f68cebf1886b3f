"""Create-or-reuse of one entity by name (``if_exists="reuse"|"fail"``), and the checks that run
before each kind is created (spec exists, drafts allowed, auth complete).

After an ambiguous create failure (5xx, connection lost after sending) the entity is looked up by
name instead of being sent again, so a retried task never creates a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.dataflows.catalog import check_draft_supported, connection_spec, flow_spec
from airflow_flowservice.dataflows.credentials import check_auth
from airflow_flowservice.exceptions import (
    FlowServiceConfigError,
    FlowServiceEntityExistsError,
    FlowServiceServerError,
    FlowServiceTransportError,
)
from airflow_flowservice.models import Entity, EntityKind, Flow, FlowSpec, SourceOrTargetConnection
from airflow_flowservice.specs import MAPPING_TRANSFORMATION

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.inputs import BaseConnectionInput, FlowInput, SourceOrTargetInput

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnsuredEntity:
    """An entity :func:`ensure_entity` created or reused."""

    kind: EntityKind
    id: str
    etag: str | None
    created: bool
    state: str | None = None


Differences = Callable[[Entity], list[str]]
"""Given an existing entity with the wanted name: what differs from the wanted one ([] = reusable)."""


def connection_differences(spec_id: str, base_connection_id: str | None = None) -> Differences:
    """Reuse a connection only when its connection spec (and base connection, when one is wanted) match."""

    def differences(entity: Entity) -> list[str]:
        found: list[str] = []
        spec = getattr(entity, "connection_spec", None)
        actual = getattr(spec, "id", None)
        if actual != spec_id:
            found.append(f"connectionSpec.id is {actual}, wanted {spec_id}")
        if base_connection_id is not None and isinstance(entity, SourceOrTargetConnection):
            parent = entity.parent_base_connection_id
            if parent != base_connection_id:
                found.append(f"baseConnectionId is {parent}, wanted {base_connection_id}")
        return found

    return differences


def flow_differences(spec_id: str, source_ids: Sequence[str] = (), target_ids: Sequence[str] = ()) -> Differences:
    """Reuse a flow only when its flow spec (and the connections, when given) match."""

    def differences(entity: Entity) -> list[str]:
        found: list[str] = []
        if not isinstance(entity, Flow):
            return ["not a flow"]
        if entity.flow_spec.id != spec_id:
            found.append(f"flowSpec.id is {entity.flow_spec.id}, wanted {spec_id}")
        for label, wanted, actual in (
            ("sourceConnectionIds", source_ids, entity.source_connection_ids),
            ("targetConnectionIds", target_ids, entity.target_connection_ids),
        ):
            if wanted and sorted(wanted) != sorted(actual):
                found.append(f"{label} is {sorted(actual)}, wanted {sorted(wanted)}")
        return found

    return differences


def ensure_entity(
    hook: FlowServiceHook,
    kind: EntityKind,
    body: dict[str, Any],
    *,
    draft: bool,
    if_exists: Literal["reuse", "fail"],
    differences: Differences,
    before_create: Callable[[], None] | None = None,
    lookup: bool = True,
) -> EnsuredEntity:
    """Create ``body`` as a ``kind`` entity unless one with its name exists.

    ``if_exists="reuse"``: an entity with the same name and no :data:`Differences` is reused (its id
    and etag are returned); one with differences is a clash, reported with its id and what differs.
    ``if_exists="fail"``: any entity with the name fails. ``before_create`` runs the checks that
    only matter when creating (draft support, auth) after the lookup and before the POST.
    ``lookup=False`` skips the lookup when no existing entity could be reused (its parent was just
    created, so nothing can reference it yet); only valid with ``if_exists="reuse"``.
    """
    name = str(body["name"])
    existing = hook.find_entities_by_name(kind, name) if lookup or if_exists != "reuse" else []
    if existing:
        ids = ", ".join(e.id for e in existing)
        if if_exists == "fail":
            raise FlowServiceEntityExistsError(
                f"a {kind.label} named {name!r} already exists (id {ids}) and if_exists='fail'; "
                "choose another name, delete it, or use if_exists='reuse'"
            )
        reusable = [e for e in existing if not differences(e)]
        if len(reusable) > 1:
            raise FlowServiceEntityExistsError(
                f"{len(reusable)} {kind.label}s are named {name!r} (ids {', '.join(e.id for e in reusable)}), "
                "so which to reuse is ambiguous; delete the duplicates or choose another name"
            )
        if len(reusable) == 1:
            entity = reusable[0]
            log.info("Reusing %s %s (%r, state %s)", kind.label, entity.id, name, entity.state)
            if entity.is_draft and not draft:
                log.warning("%s %s is still a draft: publish it (FlowServicePublishOperator)", kind.label, entity.id)
            return EnsuredEntity(kind, entity.id, entity.etag, created=False, state=entity.state)
        clashes = "; ".join(f"id {e.id}: {', '.join(differences(e))}" for e in existing)
        raise FlowServiceEntityExistsError(
            f"a {kind.label} named {name!r} already exists but cannot be reused ({clashes}); "
            "choose another name or delete the existing one"
        )
    if before_create is not None:
        before_create()
    try:
        ref = hook.create_entity(kind, body, draft=draft)
    except (FlowServiceServerError, FlowServiceTransportError) as exc:
        if isinstance(exc, FlowServiceTransportError) and not exc.request_sent:
            raise
        adopted = _adopt_after_failed_create(hook, kind, name, differences)
        if adopted is None:
            raise
        log.warning("Creating %s %r failed (%s), but it was created: adopting %s", kind.label, name, exc, adopted.id)
        return EnsuredEntity(kind, adopted.id, adopted.etag, created=True, state=adopted.state)
    state = "draft" if draft else None
    log.info("Created %s%s %s (%r)", "draft " if draft else "", kind.label, ref.id, name)
    return EnsuredEntity(kind, ref.id, ref.etag, created=True, state=state)


def _adopt_after_failed_create(
    hook: FlowServiceHook, kind: EntityKind, name: str, differences: Differences
) -> Entity | None:
    """After a create that may have been applied: the one matching entity with the name, if exactly one."""
    matching = [e for e in hook.find_entities_by_name(kind, name) if not differences(e)]
    return matching[0] if len(matching) == 1 else None


def base_connection_checks(
    hook: FlowServiceHook, inp: BaseConnectionInput, auth_params: Mapping[str, Any], *, draft: bool
) -> None:
    """Before creating a base connection: its spec exists, allows drafts (if ``draft``), and the auth is complete."""
    spec = connection_spec(hook, inp.connection_spec_id)
    if draft:
        check_draft_supported(spec, "connection")
    check_auth(spec, inp.auth_spec_name, auth_params)


def connection_checks(hook: FlowServiceHook, inp: SourceOrTargetInput, *, draft: bool) -> None:
    """Before creating a source/target connection as a draft: its connection spec allows drafts."""
    if draft:
        check_draft_supported(connection_spec(hook, inp.connection_spec_id), "connection")


def resolve_flow_spec_id(hook: FlowServiceHook, inp: FlowInput) -> str:
    """The flow spec id of ``inp``: given, or found by ``flow_spec_name`` (one read per process)."""
    if inp.flow_spec_id is not None:
        return inp.flow_spec_id
    return flow_spec(hook, name=inp.flow_spec_name, field="flow_spec_name").id


def flow_checks(hook: FlowServiceHook, inp: FlowInput, spec_id: str, *, draft: bool) -> None:
    """Before creating a flow: its flow spec allows drafts (as a draft), and lists a ``Mapping``
    transformation when the flow has one."""
    if draft or inp.has_mapping:
        if inp.flow_spec_id is None:
            spec = flow_spec(hook, name=inp.flow_spec_name, field="flow_spec_name")
        else:
            spec = flow_spec(hook, spec_id=spec_id, field="flow_spec_id")
        if draft:
            check_draft_supported(spec, "flow")
        if inp.has_mapping:
            check_mapping_supported(spec, "transformations")


def check_mapping_supported(spec: FlowSpec, field: str) -> None:
    """Fail (config error on ``field``, if any) when the flow spec lists transformations but not ``Mapping``."""
    from airflow_flowservice.inputs import no_mapping_message

    names = spec.transformation_names
    if names is not None and MAPPING_TRANSFORMATION not in names:
        message = no_mapping_message(spec.id, spec.name)
        raise FlowServiceConfigError(f"{field}: {message}" if field else message)


def create_base_connection(
    hook: FlowServiceHook,
    inp: BaseConnectionInput,
    *,
    draft: bool,
    if_exists: Literal["reuse", "fail"],
    auth_params: Mapping[str, Any] | None = None,
    check: bool = True,
) -> EnsuredEntity:
    """Create (or reuse) a base connection. ``auth_params`` (e.g. from an Airflow connection) are
    completed by the input's own ``auth_params``, which win. ``check=False`` when already checked."""
    params = {**(auth_params or {}), **inp.auth_params}
    return ensure_entity(
        hook,
        EntityKind.BASE_CONNECTION,
        inp.to_body(params),
        draft=draft,
        if_exists=if_exists,
        differences=connection_differences(inp.connection_spec_id),
        before_create=(lambda: base_connection_checks(hook, inp, params, draft=draft)) if check else None,
    )


def create_connection(
    hook: FlowServiceHook,
    kind: EntityKind,
    inp: SourceOrTargetInput,
    *,
    draft: bool,
    if_exists: Literal["reuse", "fail"],
    check: bool = True,
    lookup: bool = True,
) -> EnsuredEntity:
    """Create (or reuse) a source or target connection (``lookup``: see :func:`ensure_entity`)."""
    return ensure_entity(
        hook,
        kind,
        inp.to_body(),
        draft=draft,
        if_exists=if_exists,
        differences=connection_differences(inp.connection_spec_id, inp.base_connection_id),
        before_create=(lambda: connection_checks(hook, inp, draft=draft)) if check else None,
        lookup=lookup,
    )


def create_flow(
    hook: FlowServiceHook,
    inp: FlowInput,
    *,
    draft: bool,
    if_exists: Literal["reuse", "fail"],
    check: bool = True,
    lookup: bool = True,
) -> EnsuredEntity:
    """Create (or reuse) a flow; a flow spec given by name is resolved first (``lookup``: see :func:`ensure_entity`)."""
    spec_id = resolve_flow_spec_id(hook, inp)
    return ensure_entity(
        hook,
        EntityKind.FLOW,
        inp.to_body(spec_id),
        draft=draft,
        if_exists=if_exists,
        differences=flow_differences(spec_id, inp.source_connection_ids, inp.target_connection_ids),
        before_create=(lambda: flow_checks(hook, inp, spec_id, draft=draft)) if check else None,
        lookup=lookup,
    )
