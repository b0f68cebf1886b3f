"""Plan: what ``apply`` would do to make the service match a dataflows-as-code file.

Each part of each dataflow (base connection, source and target connections, flow) is matched by
name (a flow's connections are the ones it links to) and gets one action:

- ``create``: no entity has the name;
- ``update``: fields differ; the JSON Patch to send, against the entity's current etag;
- ``replace``: a field that cannot be patched differs (connection or flow spec, the base connection
  of a connection, the connections of a flow, a live entity wanted as a draft); deleted, then
  created again. A replaced part replaces the parts that link to it;
- ``publish``: the entity is a draft and the file wants it live;
- ``delete``: with ``prune``, a flow of the sandbox that the file does not hold (with its
  connections, as ``FlowServiceDeleteOperator(cascade=True)`` deletes them);
- ``unchanged``.

A dataflow's ``mapping`` (a Data Prep mapping set) is the part between the target connection and the
flow, matched through the flow's ``Mapping`` transformation: ``create`` (the flow has none, or no flow
exists), ``update`` (its mappings or schema changed: ``PUT`` makes the next version of the set, and the
flow's ``/transformations/{i}`` is patched to it), or ``unchanged``. A mapping to create or update is
validated by the plan (``POST /mappingSets/validate``): one that does not validate fails the plan,
naming the file, the entry (``dataflows[0].mapping.mappings[2]``) and Adobe's reason.

Keys of ``data``, ``params`` and ``scheduleParams`` that the file leaves out are the service's: they
are not compared (a default the service fills in is not drift).
See https://experienceleague.adobe.com/en/docs/experience-platform/dataflows/ui/update and the
Flow Service API reference https://developer.adobe.com/experience-platform-apis/references/flow-service/
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.dataflows.delete import plan_cascade
from airflow_flowservice.dataflows.ensure import resolve_flow_spec_id
from airflow_flowservice.dataflows.mapping import check_mapping_set, differences, mapping_transformation
from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceNotFoundError
from airflow_flowservice.models import Entity, EntityKind, Flow, SourceOrTargetConnection

if TYPE_CHECKING:
    from airflow_flowservice.as_code.spec_file import FileDataflow, SpecFile
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

Action = Literal["create", "update", "replace", "publish", "delete", "unchanged"]

PARTS: tuple[tuple[str, EntityKind], ...] = (
    ("base_connection", EntityKind.BASE_CONNECTION),
    ("source_connection", EntityKind.SOURCE_CONNECTION),
    ("target_connection", EntityKind.TARGET_CONNECTION),
    ("flow", EntityKind.FLOW),
)
"""Parts of a dataflow, in dependency order (apply creates in this order, deletes in reverse)."""

_SUBSET_KEYS = frozenset({"data", "params", "scheduleParams"})
_MANAGED: dict[EntityKind, tuple[str, ...]] = {
    EntityKind.BASE_CONNECTION: ("name", "description"),
    EntityKind.SOURCE_CONNECTION: ("name", "description", "data", "params"),
    EntityKind.TARGET_CONNECTION: ("name", "description", "data", "params"),
    EntityKind.FLOW: ("name", "description", "transformations", "scheduleParams"),
}


@dataclass
class Change:
    """One planned action on one entity.

    :param dataflow: the dataflow's key in the file (``None`` for a pruned flow's parts).
    :param part: ``base_connection``, ``source_connection``, ``target_connection`` or ``flow``.
    :param ops: the JSON Patch of an update.
    :param reasons: why a part is replaced (or deleted).
    """

    action: Action
    dataflow: str | None
    part: str
    kind: EntityKind | None  # None: the mapping set (Data Prep), not a Flow Service entity
    name: str | None
    id: str | None = None
    etag: str | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    publish: bool = False
    version: int | None = None  # the mapping set's current version (the flow's)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view (for XCom and ``plan --json``)."""
        out: dict[str, Any] = {
            "action": self.action,
            "dataflow": self.dataflow,
            "part": self.part,
            "kind": self.kind.value if self.kind is not None else MAPPING_KIND,
            "name": self.name,
            "id": self.id,
        }
        if self.version is not None:
            out["version"] = self.version
        if self.etag:
            out["etag"] = self.etag
        if self.ops:
            out["ops"] = self.ops
        if self.reasons:
            out["reasons"] = self.reasons
        if self.publish:
            out["publish"] = True
        return out


@dataclass
class Plan:
    """Every change, dataflow by dataflow in file order (parts in dependency order), then prunes."""

    changes: list[Change] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.action] = out.get(c.action, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "has_changes": self.has_changes,
            "counts": self.counts(),
            "changes": [c.to_dict() for c in self.changes],
        }

    def render(self) -> str:
        """The plan as text, one line per entity (and one per JSON Patch operation)."""
        import json

        marks = {"create": "+", "update": "~", "replace": "-/+", "publish": "^", "delete": "-", "unchanged": " "}
        lines: list[str] = []
        for c in self.changes:
            where = f"{c.dataflow}." if c.dataflow else "(not in file) "
            ident = f" {c.id}" if c.id else ""
            name = f" {c.name!r}" if c.name else ""
            lines.append(f"{marks[c.action]:>3} {c.action:<9} {where}{c.part}{name}{ident}")
            if c.part == MAPPING_PART:
                if c.action == "update":
                    lines.append(
                        f"      PUT /mappingSets/{c.id}: the version after {c.version}, then the flow re-pointed"
                    )
                elif c.action == "create":
                    lines.append("      POST /mappingSets (version 0)")
            elif c.action == "update":
                lines.append(f"      If-Match: {c.etag}")
                lines.extend(f"      {json.dumps(op, sort_keys=True)}{_when(op)}" for op in c.ops)
            lines.extend(f"      because {r}" for r in c.reasons)
        counts = self.counts()
        summary = ", ".join(f"{counts.get(a, 0)} to {a}" for a in ("create", "update", "replace", "publish", "delete"))
        lines.append(f"Plan: {summary}." if self.has_changes else "No changes: the service matches the file.")
        return "\n".join(lines)


def _when(op: dict[str, Any]) -> str:
    """After a JSON Patch operation setting a schedule's ``startTime`` (epoch seconds): the date it means."""
    from airflow_flowservice.validation import iso_utc

    value = op.get("value")
    if str(op.get("path", "")).endswith("/startTime") and str(value).strip().isdigit():
        return f"  ({iso_utc(int(str(value).strip()))})"
    return ""


# -- comparing ----------------------------------------------------------------------------------------


def _norm(value: Any, numbers: bool = False) -> Any:
    """``None``, ``""``, ``{}`` and ``[]`` are all "not set"; with ``numbers`` (schedules, which the API
    may send as strings), digit strings compare as numbers."""
    if value in (None, {}, [], ""):
        return None
    if numbers and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def diff_ops(current: dict[str, Any], desired: dict[str, Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The JSON Patch turning ``current`` into ``desired`` for ``keys`` (dicts of :data:`_SUBSET_KEYS`:
    only the keys the file gives)."""
    ops: list[dict[str, Any]] = []
    for key in keys:
        cur, want = current.get(key), desired.get(key)
        if key == "transformations" and isinstance(cur, list) and isinstance(want, list) and len(cur) == len(want):
            # One op per changed transformation (/transformations/{i}): re-pointing a flow's Mapping is one replace.
            ops.extend(
                {"op": "replace", "path": f"/transformations/{i}", "value": w}
                for i, (c, w) in enumerate(zip(cur, want, strict=True))
                if _norm(c) != _norm(w)
            )
            continue
        _diff(ops, f"/{_escape(key)}", cur, want, subset=key in _SUBSET_KEYS)
    return ops


def _diff(ops: list[dict[str, Any]], path: str, cur: Any, want: Any, *, subset: bool) -> None:
    numbers = path.startswith("/scheduleParams")
    if _norm(cur, numbers) == _norm(want, numbers):
        return
    if _norm(want) is None:
        if not subset:
            ops.append({"op": "remove", "path": path})
        return
    if isinstance(cur, dict) and isinstance(want, dict):
        for key in want:
            _diff(ops, f"{path}/{_escape(str(key))}", cur.get(key), want[key], subset=subset)
        if not subset:
            ops.extend({"op": "remove", "path": f"{path}/{_escape(str(k))}"} for k in cur if k not in want)
        return
    ops.append({"op": "add" if cur is None else "replace", "path": path, "value": want})


def current_body(entity: Entity) -> dict[str, Any]:
    """The entity as the API spells it (camelCase), ``None`` values left out."""
    return entity.model_dump(by_alias=True, exclude_none=True, mode="json")


# -- reading the service ------------------------------------------------------------------------------


@dataclass
class Current:
    """The entities of one dataflow found in the service (``None`` where none is)."""

    parts: dict[str, Entity | None]


def _one(hook: FlowServiceHook, kind: EntityKind, name: str, where: str) -> Entity | None:
    found = hook.find_entities_by_name(kind, name)
    if len(found) > 1:
        ids = ", ".join(e.id for e in found)
        raise FlowServiceConfigError(
            f"{where}.name: {len(found)} {kind.label}s are named {name!r} (ids {ids}); the file matches entities "
            "by name, so delete the duplicates or rename one"
        )
    return found[0] if found else None


def _linked(hook: FlowServiceHook, kind: EntityKind, ids: list[str]) -> Entity | None:
    """The one connection a flow links to (``None`` when it links to several, or it is gone)."""
    if len(ids) != 1:
        return None
    try:
        return hook.get_entity(kind, ids[0])
    except FlowServiceNotFoundError:
        return None


def read_current(hook: FlowServiceHook, df: FileDataflow, where: str) -> Current:
    """The parts of ``df`` in the service: the flow by name, then the connections it links to (or, when
    there is no flow, each connection by name: left over from an apply that stopped part-way)."""
    parts: dict[str, Entity | None] = dict.fromkeys(("base_connection", "source_connection", "target_connection"))
    flow = _one(hook, EntityKind.FLOW, df.flow.name, f"{where}.flow")
    parts["flow"] = flow
    for part, kind, ids in (
        (
            "source_connection",
            EntityKind.SOURCE_CONNECTION,
            flow.source_connection_ids if isinstance(flow, Flow) else [],
        ),
        (
            "target_connection",
            EntityKind.TARGET_CONNECTION,
            flow.target_connection_ids if isinstance(flow, Flow) else [],
        ),
    ):
        linked = _linked(hook, kind, ids)
        parts[part] = linked or _one(hook, kind, getattr(df, part).name, f"{where}.{part}")
    if df.base_connection is not None:
        base: Entity | None = None
        for user in df.base_users():
            conn = parts[user]
            parent = conn.parent_base_connection_id if isinstance(conn, SourceOrTargetConnection) else None
            if parent:
                base = hook.get_entity(EntityKind.BASE_CONNECTION, parent)
                if base.name != df.base_connection.name:
                    base = None
                break
        if base is None:
            base = _one(hook, EntityKind.BASE_CONNECTION, df.base_connection.name, f"{where}.base_connection")
        parts["base_connection"] = base
    return Current(parts)


# -- planning -----------------------------------------------------------------------------------------


def desired_bodies(hook: FlowServiceHook, df: FileDataflow) -> dict[str, dict[str, Any]]:
    """The create bodies of ``df``'s parts (links between parts left out: plan compares them apart)."""
    bodies: dict[str, dict[str, Any]] = {
        "source_connection": df.source_connection.to_body(),
        "target_connection": df.target_connection.to_body(),
        "flow": df.flow.to_body(resolve_flow_spec_id(hook, df.flow)),
    }
    if df.base_connection is not None:
        bodies["base_connection"] = df.base_connection.to_body({})
    return bodies


def _spec_id(body: dict[str, Any], key: str) -> Any:
    ref = body.get(key)
    return ref.get("id") if isinstance(ref, dict) else None


MAPPING_PART = "mapping"
MAPPING_KIND = "mappingSets"
#: Placeholders in a planned flow's Mapping transformation for what only apply learns: the id of a set
#: it creates, the version a PUT gives.
NEW_MAPPING_ID = "(id of the new mapping set)"
NEXT_MAPPING_VERSION = "(the new version)"


def plan_mapping(hook: FlowServiceHook, df: FileDataflow, flow: Entity | None, where: str) -> Change:
    """The change of ``df``'s mapping set, found through its flow's ``Mapping`` transformation; a mapping to
    create or update is validated (a config error names ``where``'s entry and Adobe's reason)."""
    assert df.mapping is not None
    change = Change("unchanged", df.key, MAPPING_PART, None, None)
    found = flow.mapping if isinstance(flow, Flow) else None
    if found is None:
        change.action = "create"
    else:
        _, change.id, change.version = found
        diff = differences(hook.get_mapping_set(change.id, change.version), df.mapping)
        latest = hook.get_mapping_set(change.id) if diff else None
        if latest is not None and latest.version != change.version and not differences(latest, df.mapping):
            change.version = latest.version  # put by an apply that stopped before the flow: only re-point the flow
        elif diff:
            change.action = "update"
            change.reasons.extend(diff)
    if change.action != "unchanged":
        check_mapping_set(hook, df.mapping, where=f"{where}.mapping.mappings")
    return change


def _with_mapping(flow_body: dict[str, Any], flow: Entity | None, mapping: Change) -> None:
    """Add the Mapping transformation ``mapping`` leads to into the flow's wanted body (at the index the flow
    has it, so an unchanged flow compares equal)."""
    version: Any = mapping.version if mapping.action == "unchanged" else NEXT_MAPPING_VERSION
    if mapping.action == "create":
        version = 0
    transformation = mapping_transformation(mapping.id or NEW_MAPPING_ID, 0)
    transformation["params"]["mappingVersion"] = str(version)
    wanted = list(flow_body.get("transformations") or [])
    found = flow.mapping if isinstance(flow, Flow) else None
    wanted.insert(min(found[0], len(wanted)) if found else len(wanted), transformation)
    flow_body["transformations"] = wanted


def plan_dataflow(hook: FlowServiceHook, df: FileDataflow, where: str) -> list[Change]:
    """The changes of one dataflow, parts in dependency order (the mapping set just before the flow)."""
    current = read_current(hook, df, where).parts
    bodies = desired_bodies(hook, df)
    changes: dict[str, Change] = {}
    if df.mapping is not None:
        changes[MAPPING_PART] = plan_mapping(hook, df, current["flow"], where)
        _with_mapping(bodies["flow"], current["flow"], changes[MAPPING_PART])
    for part, kind in PARTS:
        if part not in bodies:
            continue
        want = bodies[part]
        entity = current[part]
        change = Change("unchanged", df.key, part, kind, str(want["name"]))
        changes[part] = change
        if entity is None:
            change.action = "create"
            continue
        change.id, change.etag = entity.id, entity.etag
        have = current_body(entity)
        spec_key = "flowSpec" if kind == EntityKind.FLOW else "connectionSpec"
        if _spec_id(have, spec_key) != _spec_id(want, spec_key):
            change.reasons.append(f"{spec_key}.id is {_spec_id(have, spec_key)}, wanted {_spec_id(want, spec_key)}")
        if kind == EntityKind.BASE_CONNECTION:
            have_auth = (have.get("auth") or {}).get("specName")
            want_auth = (want.get("auth") or {}).get("specName")
            if have_auth != want_auth:
                change.reasons.append(f"auth.specName is {have_auth!r}, wanted {want_auth!r}")
        if isinstance(entity, SourceOrTargetConnection):
            _check_base_link(df, part, entity, changes, change)
        if isinstance(entity, Flow):
            for conn_part, ids in (
                ("source_connection", entity.source_connection_ids),
                ("target_connection", entity.target_connection_ids),
            ):
                conn_change = changes[conn_part]
                if conn_change.action in ("create", "replace") or ids != [conn_change.id]:
                    change.reasons.append(f"its {conn_part.replace('_', ' ')} changes (flows keep their connections)")
        if df.draft and not entity.is_draft:
            change.reasons.append("it is live and the file wants a draft (a published entity stays published)")
        if change.reasons:
            change.action = "replace"
            continue
        change.ops = diff_ops(have, want, (*_MANAGED[kind], *_extra_keys(df, part)))
        if change.ops:
            change.action = "update"
        if entity.is_draft and not df.draft:
            change.publish = True
            if not change.ops:
                change.action = "publish"
    order = [part for part, _ in PARTS[:3]] + [MAPPING_PART, "flow"]
    return [changes[part] for part in order if part in changes]


def _extra_keys(df: FileDataflow, part: str) -> tuple[str, ...]:
    model = getattr(df, part)
    return tuple(model.extra_body) if model is not None else ()


def _check_base_link(
    df: FileDataflow, part: str, conn: SourceOrTargetConnection, changes: dict[str, Change], change: Change
) -> None:
    model = getattr(df, part)
    parent = conn.parent_base_connection_id
    if part in df.base_users():
        base = changes["base_connection"]
        if base.action in ("create", "replace") or parent != base.id:
            change.reasons.append(f"its base connection changes (baseConnectionId is {parent})")
    elif model.base_connection_id is not None and parent != model.base_connection_id:
        change.reasons.append(f"baseConnectionId is {parent}, wanted {model.base_connection_id}")


def plan_prune(hook: FlowServiceHook, spec: SpecFile, keep: set[str]) -> list[Change]:
    """Flows of the sandbox not named in the file, with the connections only they use, in delete order."""
    names = {df.flow.name for df in spec.dataflows}
    changes: list[Change] = []
    for flow in hook.iter_entities(EntityKind.FLOW):
        if flow.name in names or flow.id in keep:
            continue
        cascade = plan_cascade(hook, EntityKind.FLOW, flow.id)
        for kind, entity_id in cascade.ordered():
            if entity_id in keep or any(c.id == entity_id for c in changes):
                continue
            part = {
                EntityKind.FLOW: "flow",
                EntityKind.SOURCE_CONNECTION: "source_connection",
                EntityKind.TARGET_CONNECTION: "target_connection",
                EntityKind.BASE_CONNECTION: "base_connection",
            }[kind]
            name = flow.name if kind == EntityKind.FLOW else None
            changes.append(
                Change("delete", None, part, kind, name, entity_id, reasons=[f"flow {flow.name!r} is not in the file"])
            )
    return changes


def make_plan(hook: FlowServiceHook, spec: SpecFile, *, prune: bool = False) -> Plan:
    """The plan of ``spec`` against the service (reads only)."""
    plan = Plan()
    for i, df in enumerate(spec.dataflows):
        try:
            plan.changes.extend(plan_dataflow(hook, df, f"dataflows[{i}]"))
        except FlowServiceConfigError as exc:  # e.g. a mapping that does not validate: name the file
            raise FlowServiceConfigError(f"{spec.source}: {exc.message}") from exc
    if prune:
        keep = {c.id for c in plan.changes if c.id}
        plan.changes.extend(plan_prune(hook, spec, keep))
    return plan
