"""Entity logic shared by the operators: specs, create-or-reuse by name, publish and delete in order.

Plain functions taking a :class:`~airflow_flowservice.hooks.flowservice.FlowServiceHook`, so that any
operator (entities, dataflow, dataset export) builds on the same rules:

- :func:`ensure_entity` finds entities by name first (``if_exists="reuse"|"fail"``), creates only
  when none matches, and after an ambiguous create failure (5xx, connection lost after sending)
  looks the entity up instead of sending the create again.
- :func:`connection_spec` / :func:`flow_spec` read specs once per process (they are catalog data).
- :func:`publish_in_order` publishes what is still a draft: base connection -> source and target
  connections -> flow; :func:`publish_dataflow` does it with one call per part when all ids are known.
- :func:`delete_in_order` deletes a flow before its connections, and connections before their base.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.exceptions import (
    FlowServiceBadRequestError,
    FlowServiceConfigError,
    FlowServiceConflictError,
    FlowServiceError,
    FlowServiceNotFoundError,
    FlowServiceServerError,
    FlowServiceTransportError,
)
from airflow_flowservice.models import (
    ConnectionSpec,
    Entity,
    EntityKind,
    Flow,
    FlowSpec,
    SourceOrTargetConnection,
)
from airflow_flowservice.params import DATAFLOW_KINDS

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.params import BaseConnectionInput, DataflowConfig, FlowInput, SourceOrTargetInput

log = logging.getLogger(__name__)

CONNECTION_KINDS = (EntityKind.SOURCE_CONNECTION, EntityKind.TARGET_CONNECTION)


class FlowServiceEntityExistsError(FlowServiceError):
    """An entity with the requested name already exists and cannot be reused (``if_exists`` rules)."""


# -- specs (cached per process: catalog data, safe to lose) ------------------------------------------

_SPECS: dict[tuple[str, str, str], ConnectionSpec | FlowSpec] = {}
_SPECS_LOCK = threading.Lock()


def clear_spec_cache() -> None:
    """Forget every cached connection spec and flow spec."""
    with _SPECS_LOCK:
        _SPECS.clear()


def _cached(hook: FlowServiceHook, key: tuple[str, str], load: Callable[[], ConnectionSpec | FlowSpec]) -> Any:
    full = (hook.credentials.api_url, *key)
    with _SPECS_LOCK:
        found = _SPECS.get(full)
    if found is None:
        found = load()
        with _SPECS_LOCK:
            _SPECS[full] = found
    return found


def connection_spec(hook: FlowServiceHook, spec_id: str, field: str = "connection_spec_id") -> ConnectionSpec:
    """``GET /connectionSpecs/{id}`` (once per process); an unknown id is a config error naming ``field``."""

    def load() -> ConnectionSpec:
        try:
            return hook.get_connection_spec(spec_id)
        except FlowServiceNotFoundError as exc:
            raise FlowServiceConfigError(
                f"{field}: no connection spec has id {spec_id} (the service answered 404); "
                "check the id against GET /connectionSpecs"
            ) from exc

    spec: ConnectionSpec = _cached(hook, ("connectionSpecs", spec_id), load)
    return spec


def flow_spec(
    hook: FlowServiceHook, *, spec_id: str | None = None, name: str | None = None, field: str = "flow_spec"
) -> FlowSpec:
    """A flow spec by id (``GET /flowSpecs/{id}``) or by name (``?property=name=="..."``), once per process."""

    def load() -> FlowSpec:
        try:
            if spec_id is not None:
                return hook.get_flow_spec(spec_id)
            return hook.find_flow_spec(str(name))
        except FlowServiceNotFoundError as exc:
            what = f"id {spec_id}" if spec_id is not None else f"name {name!r}"
            raise FlowServiceConfigError(
                f"{field}: no flow spec has {what} (the service answered 404); check it against GET /flowSpecs"
            ) from exc

    key = ("flowSpecs", spec_id) if spec_id is not None else ("flowSpecs:name", str(name))
    spec: FlowSpec = _cached(hook, key, load)
    return spec


def check_draft_supported(spec: ConnectionSpec | FlowSpec, what: str) -> None:
    """Fail (config error on ``draft``) unless ``attributes.isDraftModeSupported`` is true on the spec."""
    if not spec.is_draft_mode_supported:
        raise FlowServiceConfigError(
            f"draft: the {what} spec {spec.id} ({spec.name}) does not support drafts "
            "(attributes.isDraftModeSupported is not true); create it with draft=False"
        )


# -- auth of base connections --------------------------------------------------------------------------


def check_auth(spec: ConnectionSpec, auth_spec_name: str | None, params: Mapping[str, Any]) -> None:
    """Check ``auth`` against the spec: the ``specName`` exists and every required param is given.

    Secret params (``format: password`` in the auth spec) are registered with Airflow's masker.
    Param names are matched case-insensitively, as the seed's own example needs (it sends ``userId``
    for the spec's ``userid``); a case difference is logged.
    """
    label = f"connection spec {spec.id} ({spec.name})"
    if not spec.auth_spec:
        if auth_spec_name is not None or params:
            raise FlowServiceConfigError(
                f"auth_spec_name: {label} takes no credentials; remove auth_spec_name and auth_params"
            )
        return
    names = [a.name for a in spec.auth_spec]
    if auth_spec_name is None:
        raise FlowServiceConfigError(f"auth_spec_name: is required; {label} accepts {_quoted(names)}")
    chosen = next((a for a in spec.auth_spec if a.name == auth_spec_name), None)
    if chosen is None:
        raise FlowServiceConfigError(
            f"auth_spec_name: {auth_spec_name!r} is not an auth spec of {label}; use one of {_quoted(names)}"
        )
    given = {str(k).lower(): str(k) for k, v in params.items() if v is not None and v != ""}
    missing = [p for p in chosen.required_params if p.lower() not in given]
    if missing:
        raise FlowServiceConfigError(
            f"auth_params: missing {_quoted(missing)}, required by auth spec {auth_spec_name!r} of {label}; "
            "add them to auth_params or to the Airflow connection named by auth_params_from_conn_id"
        )
    for required in chosen.required_params:
        if given[required.lower()] != required:
            log.warning("auth param %r is spelled %r in the connection spec", given[required.lower()], required)
    properties = chosen.spec.get("properties") or {}
    secret = {str(n).lower() for n, p in properties.items() if isinstance(p, dict) and p.get("format") == "password"}
    for key, value in params.items():
        if str(key).lower() in secret and isinstance(value, str):
            _mask(value, str(key))


def _quoted(items: Iterable[str]) -> str:
    return ", ".join(repr(i) for i in items)


def _mask(value: str, name: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(value, name)


DEFAULT_AUTH_FIELDS: dict[str, str] = {"username": "login", "password": "password"}
"""Default ``auth_conn_fields``: login -> ``username``, password -> ``password``; every extra key is
passed under its own name, and the host (when set) as ``host``."""


def auth_params_from_connection(
    hook: FlowServiceHook,
    conn_id: str,
    fields: Mapping[str, str] | None = None,
    field: str = "auth_params_from_conn_id",
) -> dict[str, Any]:
    """Auth params read from an Airflow connection, so that DAG files hold no secrets.

    :param conn_id: the Airflow connection holding the credentials (any connection type).
    :param fields: auth param -> connection field: ``login``, ``password``, ``host``, ``schema``,
        ``port`` or ``extra.<key>``, e.g. ``{"userid": "login", "password": "password",
        "host": "extra.endpoint"}``. Default: :data:`DEFAULT_AUTH_FIELDS` plus every extra key.
    :param field: the operator argument that named the connection, for error messages.
    Every value but the login and the host is registered with Airflow's secret masker.
    """
    conn = hook.defined_connection(conn_id, field)
    extra = conn.extra_dejson
    if fields is None:
        params: dict[str, Any] = {name: getattr(conn, src) for name, src in DEFAULT_AUTH_FIELDS.items()}
        params = {k: v for k, v in params.items() if v not in (None, "")}
        if conn.host:
            params["host"] = conn.host
        params.update(extra)
    else:
        params = {}
        for name, source in fields.items():
            if source.startswith("extra."):
                value = extra.get(source.removeprefix("extra."))
            elif source in ("login", "password", "host", "schema", "port"):
                value = getattr(conn, source)
            else:
                raise FlowServiceConfigError(
                    f"auth_conn_fields: {source!r} (for {name!r}) is not a connection field; use login, password, "
                    "host, schema, port or extra.<key>"
                )
            if value in (None, ""):
                raise FlowServiceConfigError(
                    f"{field}: connection {conn_id!r} has no {source} for auth param {name!r}; set it on the "
                    "connection"
                    + ("" if field == "destination_conn_id" else " or map another field in auth_conn_fields")
                )
            params[name] = value
    public = {"login", "host"}
    sources = dict(fields) if fields is not None else {**DEFAULT_AUTH_FIELDS, "host": "host"}
    for name, value in params.items():
        if isinstance(value, str) and sources.get(name, "extra") not in public:
            _mask(value, name)
    return params


# -- create or reuse --------------------------------------------------------------------------------


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


# -- create each kind ----------------------------------------------------------------------------


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
    """Before creating a flow as a draft: its flow spec allows drafts."""
    if draft:
        if inp.flow_spec_id is None:
            spec = flow_spec(hook, name=inp.flow_spec_name, field="flow_spec_name")
        else:
            spec = flow_spec(hook, spec_id=spec_id, field="flow_spec_id")
        check_draft_supported(spec, "flow")


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


# -- a whole dataflow --------------------------------------------------------------------------------

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
    for where, check in checks:
        try:
            check()
        except FlowServiceConfigError as exc:
            raise FlowServiceConfigError(f"config.{where}: {exc.message}") from exc
    return spec_id[0]


def create_dataflow(
    hook: FlowServiceHook,
    cfg: DataflowConfig,
    *,
    draft: bool,
    if_exists: Literal["reuse", "fail"],
    auth_params: Mapping[str, Any] | None = None,
    on_created: Callable[[str, EnsuredEntity], None] | None = None,
) -> dict[str, EnsuredEntity]:
    """Create (or reuse) base -> source -> target -> flow of ``cfg``; keys are :data:`DATAFLOW_KEYS`.

    Every check (specs, drafts, auth) runs before the first create. A part whose parent was just
    created is not looked up by name (no existing entity can reference a new parent): a new
    dataflow costs a lookup only for its roots (the base connection, a connection without one).
    ``on_created(key, entity)`` is called as soon as each part exists. A failure part-way raises the
    same error with the ids that already exist added to its message (re-running with
    ``if_exists="reuse"`` finishes the job).
    """
    params = {**(auth_params or {}), **(cfg.base_connection.auth_params if cfg.base_connection else {})}
    flow_spec_id = dataflow_checks(hook, cfg, params, draft=draft)
    done: dict[str, EnsuredEntity] = {}

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
        source_in = cfg.source_connection
        if "source_connection" in links:
            source_in = source_in.model_copy(update={"base_connection_id": links["source_connection"]})
        fresh_base = cfg.base_connection is not None and done["base_connection_id"].created
        source = create_connection(
            hook,
            EntityKind.SOURCE_CONNECTION,
            source_in,
            draft=draft,
            if_exists=if_exists,
            check=False,
            lookup=not (fresh_base and "source_connection" in links),
        )
        record("source_connection_id", source)
        target_in = cfg.target_connection
        if "target_connection" in links:
            target_in = target_in.model_copy(update={"base_connection_id": links["target_connection"]})
        target = create_connection(
            hook,
            EntityKind.TARGET_CONNECTION,
            target_in,
            draft=draft,
            if_exists=if_exists,
            check=False,
            lookup=not (fresh_base and "target_connection" in links),
        )
        record("target_connection_id", target)
        flow_in = cfg.flow.model_copy(
            update={
                "flow_spec_id": flow_spec_id,
                "flow_spec_name": None,
                "source_connection_ids": [source.id],
                "target_connection_ids": [target.id],
            }
        )
        fresh_parts = source.created or target.created
        record(
            "flow_id",
            create_flow(hook, flow_in, draft=draft, if_exists=if_exists, check=False, lookup=not fresh_parts),
        )
    except FlowServiceError as exc:
        if not done:
            raise
        existing = ", ".join(f"{key}={entity.id}" for key, entity in done.items())
        raise _with_note(exc, f"already exist: {existing}; re-run with if_exists='reuse' to finish") from exc
    return done


def _with_note(exc: FlowServiceError, note: str) -> FlowServiceError:
    """A copy of ``exc`` (same class, status, code, request id) whose message ends with ``note``."""
    new = copy.copy(exc)
    new.message = f"{exc.message} ({note})"
    new.args = (new._render(),)
    return new


# -- publish in dependency order ------------------------------------------------------------------


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
                raise _with_note(exc, f"published before it: {done}") from exc
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
    # kind.path is /sourceConnections or /targetConnections: seed 001's publish curls post every
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


# -- delete in dependency order -------------------------------------------------------------------


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
