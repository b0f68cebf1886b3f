"""Data Prep mapping sets: validate, create, put a new version, and point a flow at one.

A source flow that ingests into an XDM dataset maps the source's fields to the dataset's schema with a
mapping set of the Conversion Service; the flow names it in its ``Mapping`` transformation
(``{"name": "Mapping", "params": {"mappingId": ..., "mappingVersion": "<n>"}}``). ``PUT`` replaces a set
and gives it the next version, so moving a flow to new mappings is a ``PUT``, then a JSON Patch of the
flow's ``/transformations/{i}`` under ``If-Match``. The API has no ``DELETE`` for mapping sets.
See https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import (
    FlowServiceBadRequestError,
    FlowServiceConfigError,
    FlowServiceConflictError,
    FlowServiceEntityExistsError,
)
from airflow_flowservice.models import EntityKind, Flow, MappingSet
from airflow_flowservice.specs import MAPPING_TRANSFORMATION

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.inputs import MappingSetInput, PreviewMappingInput

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MappingVersion:
    """A mapping set at one version, and whether this call made it (created the set or put the version)."""

    id: str
    version: int
    created: bool = False

    def to_xcom(self) -> dict[str, Any]:
        return {"mapping_id": self.id, "mapping_version": self.version}


def mapping_transformation(mapping_id: str, version: int) -> dict[str, Any]:
    """The flow's ``Mapping`` transformation for a mapping set version (the flow spec types the version a string)."""
    return {"name": MAPPING_TRANSFORMATION, "params": {"mappingId": mapping_id, "mappingVersion": str(version)}}


def check_mapping_set(hook: FlowServiceHook, inp: MappingSetInput, *, where: str = "mappings") -> None:
    """``POST /mappingSets/validate``; a mapping that fails is a config error naming it (``where[i]``) and
    Adobe's reason, every failing one in one message. Changes nothing in the service."""
    try:
        result = hook.validate_mapping_set(inp.to_api())
    except FlowServiceBadRequestError as exc:  # the set as a whole is refused (e.g. an unknown schema)
        raise FlowServiceConfigError(f"{where}: the Conversion Service refused the mapping set: {exc.message}") from exc
    checks = result.validation_response
    problems: list[str] = []
    for i, mapping in enumerate(inp.mappings):
        check = checks[i] if i < len(checks) else None
        if check is None or check.ok:
            continue
        reasons = "; ".join(e.reason for e in check.errors) or f"status {check.status}"
        problems.append(f"{where}[{i}] ({mapping.source_type} {mapping.source!r} -> {mapping.destination}): {reasons}")
    if problems:
        raise FlowServiceConfigError(f"{'; '.join(problems)} (the mapping set does not validate)")


def create_mapping_set(
    hook: FlowServiceHook, inp: MappingSetInput, *, validate: bool = True, where: str = "mappings"
) -> MappingVersion:
    """Create the set (version 0), validated first unless ``validate=False`` (already checked)."""
    if validate:
        check_mapping_set(hook, inp, where=where)
    ref = hook.create_mapping_set(inp.to_api())
    log.info("Created mapping set %s (version %d, %d mappings)", ref.id, ref.version, len(inp.mappings))
    return MappingVersion(ref.id, ref.version, created=True)


def differences(current: MappingSet, wanted: MappingSetInput) -> list[str]:
    """What differs between a set in the service and the wanted one ([] = the same mappings into the same schema)."""
    found: list[str] = []
    if current.output_schema_id != wanted.output_schema.id:
        found.append(f"output schema is {current.output_schema_id}, wanted {wanted.output_schema.id}")
    have = [m.key() for m in current.mappings]
    want = [m.key() for m in wanted.mappings]
    if have != want:
        gone = [f"{k[1]} -> {k[2]}" for k in have if k not in want]
        new = [f"{k[1]} -> {k[2]}" for k in want if k not in have]
        detail = "; ".join(
            part
            for part in (f"not wanted: {', '.join(gone)}" if gone else "", f"new: {', '.join(new)}" if new else "")
            if part
        )
        found.append(f"mappings differ ({detail or 'order'})")
    return found


def put_mapping_version(
    hook: FlowServiceHook, mapping_set_id: str, inp: MappingSetInput, *, validate: bool = True, where: str = "mappings"
) -> MappingVersion:
    """``PUT`` ``inp`` as the next version of the set (validated first unless ``validate=False``)."""
    if validate:
        check_mapping_set(hook, inp, where=where)
    updated = hook.update_mapping_set(mapping_set_id, inp.to_api())
    log.info("Mapping set %s: new version %d (%d mappings)", mapping_set_id, updated.version, len(inp.mappings))
    return MappingVersion(mapping_set_id, updated.version, created=True)


def existing_flow_mapping(hook: FlowServiceHook, flow: Flow, inp: MappingSetInput) -> MappingVersion:
    """The mapping set version an existing flow (about to be reused) points at, when it maps as ``inp`` does.

    A flow without a ``Mapping`` transformation, or whose set differs, cannot be reused: the error says
    how to move it.
    """
    found = flow.mapping
    move = "move it with FlowServiceCreateMappingSetOperator(flow_id=...) or dataflows as code, or delete the flow"
    if found is None:
        raise FlowServiceEntityExistsError(
            f"a flow named {flow.name!r} already exists (id {flow.id}) without a {MAPPING_TRANSFORMATION} "
            f"transformation, so it cannot be reused with this mapping; {move}"
        )
    _, mapping_id, version = found
    current = hook.get_mapping_set(mapping_id, version)
    diff = differences(current, inp)
    if diff:
        raise FlowServiceEntityExistsError(
            f"a flow named {flow.name!r} already exists (id {flow.id}) with mapping set {mapping_id} version "
            f"{version}, which differs ({'; '.join(diff)}); {move}"
        )
    log.info("Reusing mapping set %s version %d of flow %s", mapping_id, version, flow.id)
    return MappingVersion(mapping_id, version)


def mapping_ops(flow: Flow, mapping: MappingVersion) -> list[dict[str, Any]]:
    """The JSON Patch pointing ``flow`` at ``mapping``: its ``Mapping`` transformation replaced, or one added."""
    value = mapping_transformation(mapping.id, mapping.version)
    found = flow.mapping
    if found is not None:
        return [{"op": "replace", "path": f"/transformations/{found[0]}", "value": value}]
    if flow.transformations:
        return [{"op": "add", "path": f"/transformations/{len(flow.transformations)}", "value": value}]
    return [{"op": "add", "path": "/transformations", "value": [value]}]


@dataclass(frozen=True)
class MovedMapping:
    """What :func:`move_flow_mapping` did: the version the flow points at, and the flow's new etag."""

    mapping: MappingVersion
    flow_id: str
    etag: str | None
    flow_patched: bool


def move_flow_mapping(
    hook: FlowServiceHook,
    flow_id: str,
    inp: MappingSetInput,
    *,
    etag: str | None = None,
    validate: bool = True,
    where: str = "mappings",
) -> MovedMapping:
    """Make ``flow_id`` map as ``inp`` does: a new version of its mapping set (``PUT``; a new set when the flow
    has none), then the flow's ``Mapping`` transformation patched under ``If-Match``.

    Safe to repeat: when the set's latest version already holds ``inp`` no version is added, and a flow
    already pointing at it is not patched. ``etag``: the flow's etag the change was planned against
    (default: the one read first). A flow changed meanwhile (HTTP 412, or a newer etag than ``etag``)
    is not overwritten: :class:`~airflow_flowservice.exceptions.FlowServiceConflictError` says what exists.
    """
    flow = hook.get_flow(flow_id)
    if etag is not None and flow.etag != etag:
        raise FlowServiceConflictError(
            f"flow {flow_id} changed since etag {etag} (now {flow.etag}); nothing was written: re-read it and retry"
        )
    found = flow.mapping
    if found is None:
        target = create_mapping_set(hook, inp, validate=validate, where=where)
    else:
        latest = hook.get_mapping_set(found[1])
        if differences(latest, inp):
            target = put_mapping_version(hook, found[1], inp, validate=validate, where=where)
        else:
            target = MappingVersion(found[1], latest.version)
        if found[2] == target.version:
            return MovedMapping(target, flow_id, flow.etag, flow_patched=False)
    sent = etag or flow.etag
    if not sent:
        raise FlowServiceConfigError(f"flow_id: flow {flow_id} has no etag to send as If-Match")
    try:
        ref = hook.patch_entity(EntityKind.FLOW, flow_id, mapping_ops(flow, target), sent)
    except FlowServiceConflictError as exc:
        now = hook.get_flow(flow_id)
        raise FlowServiceConflictError(
            f"flow {flow_id} changed since etag {sent} (now {now.etag}; its Mapping is "
            f"{now.mapping[1:] if now.mapping else None}): mapping set {target.id} version {target.version} "
            "exists, the flow was not re-pointed to it; re-run to move it",
            status=exc.status,
            code=exc.code,
            request_id=exc.request_id,
            method=exc.method,
            path=exc.path,
        ) from exc
    log.info("Flow %s now maps with mapping set %s version %d", flow_id, target.id, target.version)
    return MovedMapping(target, flow_id, ref.etag, flow_patched=True)


def preview_mapping(hook: FlowServiceHook, inp: PreviewMappingInput) -> dict[str, Any]:
    """Map ``inp.rows`` with the set given by its mappings, or read by id (``GET /mappingSets/{id}``).

    Returns ``{"rows": [<XDM record per row>], "errors": [{"row", "source", "destination", "reason"}],
    "row_count": n}``.
    """
    given = inp.mapping_set()
    if given is not None:
        body = given.to_api()
    else:
        assert inp.mapping_id is not None  # the input model requires one of the two
        stored = hook.get_mapping_set(inp.mapping_id, inp.mapping_version)
        body = {
            "outputSchema": {"schemaRef": stored.output_schema.schema_ref.model_dump(by_alias=True, exclude_none=True)}
            if stored.output_schema is not None and stored.output_schema.schema_ref is not None
            else {},
            "mappings": [
                m.model_dump(by_alias=True, include={"source_type", "source", "destination"}) for m in stored.mappings
            ],
        }
    rows = hook.preview_mapping_set(body, inp.rows)
    errors = [
        {"row": i, "source": e.source, "destination": e.destination, "reason": e.reason}
        for i, row in enumerate(rows)
        for e in row.errors
    ]
    return {"rows": [row.data for row in rows], "errors": errors, "row_count": len(rows)}
