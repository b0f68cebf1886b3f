"""In-memory state of the emulator: entities and runs per (org, sandbox), behind one lock.

All Flow Service semantics live here (validation, drafts and publish, PATCH, delete rules, runs);
``app.py`` only maps HTTP to these methods.
"""

from __future__ import annotations

import bisect
import copy
import math
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, overload

from . import explore as explore_mod
from .catalog import Catalog, default_datasets, public_spec
from .clock import Clock
from .errors import (
    FlowServiceError,
    bad_request,
    draft_order,
    invalid_request,
    mandatory_field,
    not_found,
)
from .patch import apply_patch
from .query import ListQuery, apply_query, page_body, page_of, parse_list_query
from .runs import (
    MAX_SCHEDULED_PER_READ,
    OutcomePlan,
    first_due,
    record_count,
    render_run,
    run_phase,
    run_status,
    schedule_of,
)

#: Collections of entities and the resource ``type`` used in their 404 bodies.
COLLECTIONS = {
    "connections": "connections",
    "sourceConnections": "sourceConnections",
    "targetConnections": "targetConnections",
    "flows": "flows",
    "runs": "runs",
}

_AUDIT_KEYS = {
    "id",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
    "version",
    "etag",
    "state",
    "inheritedAttributes",
    "lastOperation",
    "lastRunDetails",
    "runs",
    "providerRefId",
}


def new_etag() -> str:
    """A fresh quoted etag, e.g. ``"1a0037e4-0000-0200-0000-602e06f60000"``."""
    h = uuid.uuid4().hex
    return f'"{h[:8]}-0000-0200-0000-{h[8:20]}"'


def _parse_epoch_seconds(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _required_missing(spec: dict[str, Any] | None, params: Any) -> list[str]:
    """Required fields of a JSON-schema ``spec`` absent from ``params`` (names compared case-insensitively).

    Fields whose property carries a ``conditional`` (Adobe's dataset-export guide: ``fileType`` /
    ``datasetFileType``, which depend on the flow spec's workflow) are not enforced on the connection.
    """
    if not spec:
        return []
    required = spec.get("required") or []
    props = spec.get("properties") or {}
    given = (
        {str(k).lower() for k, v in (params or {}).items() if v is not None and v != ""}
        if isinstance(params, dict)
        else set()
    )
    missing = []
    for name in required:
        prop = props.get(name) or {}
        if isinstance(prop, dict) and "conditional" in prop:
            continue
        if name.lower() not in given:
            missing.append(name)
    return missing


@dataclass
class Scope:
    """Entities of one (org, sandbox)."""

    org_id: str
    sandbox: str
    sandbox_id: str
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    sourceConnections: dict[str, dict[str, Any]] = field(default_factory=dict)
    targetConnections: dict[str, dict[str, Any]] = field(default_factory=dict)
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: flow id -> ``(createdAt, seq, run id)`` of its runs, ascending: a page of one flow's runs is a
    #: slice of this list, whatever the number of runs
    runs_by_flow: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    #: flow id -> ``(start ms, seq, run id)`` of its runs, ascending: the flow's ``lastRunDetails`` is
    #: the last entry that has started, found by bisection, whatever the number of runs
    runs_by_start: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    #: flow id -> next schedule boundary (epoch seconds) to materialise
    next_due: dict[str, int] = field(default_factory=dict)

    def collection(self, name: str) -> dict[str, dict[str, Any]]:
        coll: dict[str, dict[str, Any]] = getattr(self, name)
        return coll

    def add_run(self, run: dict[str, Any]) -> None:
        """Store a run and index it by flow and creation time."""
        self.runs[run["id"]] = run
        bisect.insort(self.runs_by_flow.setdefault(run["flowId"], []), (run["createdAt"], run["_seq"], run["id"]))
        bisect.insort(self.runs_by_start.setdefault(run["flowId"], []), (run["_startMs"], run["_seq"], run["id"]))

    def drop_run(self, run_id: str) -> None:
        """Forget a run (as if Flow Service had purged it)."""
        run = self.runs.pop(run_id)
        self.runs_by_flow[run["flowId"]].remove((run["createdAt"], run["_seq"], run_id))
        self.runs_by_start[run["flowId"]].remove((run["_startMs"], run["_seq"], run_id))

    def last_started_run(self, flow_id: str, now_ms: int) -> dict[str, Any] | None:
        """The flow's run with the latest start at or before ``now_ms`` (ties: the last created), if any."""
        index = self.runs_by_start.get(flow_id)
        if not index:
            return None
        pos = bisect.bisect_right(index, (now_ms, math.inf))
        return self.runs[index[pos - 1][2]] if pos else None


class _NewestFirst(Sequence[str]):
    """Run ids of ``index[start:end]`` newest first, without copying the slice (a page reads 100 of them)."""

    def __init__(self, index: list[tuple[int, int, str]], start: int, end: int) -> None:
        self._index, self._start, self._end = index, start, end

    def __len__(self) -> int:
        return self._end - self._start

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._index[self._end - 1 - i][2]


def indexed_run_ids(sc: Scope, q: ListQuery) -> Sequence[str] | None:
    """Ids of the runs a list query selects, newest first, read from the flow index; ``None`` if it cannot.

    Serves the queries that select by ``flowId==`` or ``id==`` (values OR-ed), optionally narrowed by
    ``createdAt`` comparisons, in the default order (``-createdAt``): a page then costs a slice of
    one flow's index, not a filter and sort of every run. Any other query takes the general path.
    """
    if q.orderby not in (None, "-createdAt"):
        return None
    flows: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    lo, hi = -math.inf, math.inf  # createdAt in [lo, hi]
    for flt in q.filters:
        if flt.field == "flowId" and flt.op == "==" and flows is None:
            flows = flt.values
        elif flt.field == "id" and flt.op == "==" and ids is None:
            ids = flt.values
        elif flt.field == "createdAt" and flt.op in (">", ">=", "<", "<=") and len(flt.values) == 1:
            try:
                value = float(flt.values[0])
            except ValueError:
                return None
            if flt.op == ">=":
                lo = max(lo, math.ceil(value))
            elif flt.op == ">":
                lo = max(lo, math.floor(value) + 1)
            elif flt.op == "<=":
                hi = min(hi, math.floor(value))
            else:
                hi = min(hi, math.ceil(value) - 1)
        else:
            return None
    if ids is not None:
        wanted_flows = {f.lower() for f in flows} if flows is not None else None
        keys = [
            (run["createdAt"], run["_seq"], run["id"])
            for run in (sc.runs.get(i) for i in dict.fromkeys(ids))
            if run is not None and (wanted_flows is None or run["flowId"].lower() in wanted_flows)
        ]
        keys = [k for k in keys if lo <= k[0] <= hi]
    elif flows is not None:
        keys = []
        for flow_id in dict.fromkeys(flows):
            index = sc.runs_by_flow.get(flow_id) or sc.runs_by_flow.get(flow_id.lower()) or []
            start = 0 if lo == -math.inf else bisect.bisect_left(index, (int(lo),))
            end = len(index) if hi == math.inf else bisect.bisect_left(index, (int(hi) + 1,))
            if len(flows) == 1:
                return _NewestFirst(index, start, end)
            keys.extend(index[start:end])
    else:
        return None
    keys.sort(reverse=True)
    return [k[2] for k in keys]


@dataclass
class Caller:
    """Who makes the request (from the token) and where (org, sandbox)."""

    client_id: str
    org_id: str
    sandbox: str


class Store:
    """The emulator's state. Every public method takes the one lock (``self.lock``)."""

    def __init__(
        self,
        catalog: Catalog,
        clock: Clock,
        run_timeline: tuple[float, float] = (1.0, 2.0),
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.lock = threading.RLock()
        self.run_timeline = run_timeline
        self.outcomes = OutcomePlan()
        self.datasets: list[dict[str, Any]] = default_datasets()
        self._scopes: dict[tuple[str, str], Scope] = {}
        self._seq = 0
        #: (org, sandbox, Mapping params) -> why a flow cannot use them, or None: the Conversion Service's check
        self.mapping_check: Callable[[str, str, Any], str | None] | None = None

    # ---- infrastructure -------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.lock:
            yield

    def reset(self) -> None:
        with self.lock:
            self._scopes.clear()
            self.outcomes.clear()
            self.datasets = default_datasets()
            self._seq = 0

    def scope(self, org_id: str, sandbox: str) -> Scope:
        key = (org_id, sandbox)
        with self.lock:
            sc = self._scopes.get(key)
            if sc is None:
                sandbox_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"aep-sandbox:{org_id}:{sandbox}"))
                sc = Scope(org_id, sandbox, sandbox_id)
                self._scopes[key] = sc
            return sc

    def scopes(self) -> list[Scope]:
        with self.lock:
            return list(self._scopes.values())

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _audit(self, sc: Scope, caller: Caller, entity_id: str) -> dict[str, Any]:
        now = self.clock.now_ms()
        user = f"{caller.client_id}@AdobeID"
        etag = new_etag()
        return {
            "id": entity_id,
            "createdAt": now,
            "updatedAt": now,
            "createdBy": user,
            "updatedBy": user,
            "createdClient": caller.client_id,
            "updatedClient": caller.client_id,
            "sandboxId": sc.sandbox_id,
            "sandboxName": sc.sandbox,
            "imsOrgId": sc.org_id,
            "_seq": self._next_seq(),
            "_etag": etag,
        }

    @staticmethod
    def _touch(entity: dict[str, Any], caller: Caller, now_ms: int, operation: str = "update") -> str:
        etag = new_etag()
        entity["_etag"] = etag
        entity["updatedAt"] = now_ms
        entity["updatedBy"] = f"{caller.client_id}@AdobeID"
        entity["updatedClient"] = caller.client_id
        entity["_lastOperation"] = {"started": now_ms, "updated": now_ms, "operation": operation}
        return etag

    def _get(self, sc: Scope, collection: str, entity_id: str) -> dict[str, Any]:
        entity = sc.collection(collection).get(entity_id)
        if entity is None:
            raise not_found(COLLECTIONS[collection], entity_id)
        return entity

    # ---- rendering ------------------------------------------------------------------------------

    def _render(self, sc: Scope, collection: str, entity: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now_ms()
        if collection == "runs":
            return render_run(entity, now)
        body = {k: copy.deepcopy(v) for k, v in entity.items() if not k.startswith("_")}
        body["version"] = entity["_etag"]
        body["etag"] = entity["_etag"]
        if collection == "connections":
            auth = self._masked_auth(entity)
            if auth:
                body["auth"] = auth
            else:
                body.pop("auth", None)
        if collection == "flows":
            body["runs"] = f"/runs?property=flowId=={entity['id']}"
            op = entity.get("_lastOperation") or {
                "started": entity["createdAt"],
                "updated": entity["createdAt"],
                "operation": "create",
            }
            body["lastOperation"] = {
                **op,
                "percentCompleted": 100.0,
                "status": {"value": "completed", "errors": []},
            }
            last = self._last_run_details(sc, entity["id"], now)
            if last is not None:
                body["lastRunDetails"] = last
        return body

    def _masked_auth(self, entity: dict[str, Any]) -> dict[str, Any]:
        auth = copy.deepcopy(entity.get("auth") or {})
        spec = self.catalog.connection_spec(entity["connectionSpec"]["id"]) or {}
        secret_names: set[str] = set()
        for auth_spec in spec.get("authSpec", []):
            if auth_spec.get("name") == auth.get("specName"):
                for name, prop in (auth_spec.get("spec", {}).get("properties") or {}).items():
                    if isinstance(prop, dict) and prop.get("format") == "password":
                        secret_names.add(name.lower())
        params = auth.get("params")
        if isinstance(params, dict):
            for key in list(params):
                if key.lower() in secret_names and params[key] is not None:
                    params[key] = "****"
        return auth

    def _last_run_details(self, sc: Scope, flow_id: str, now_ms: int) -> dict[str, Any] | None:
        latest = sc.last_started_run(flow_id, now_ms)
        if latest is None:
            return None
        details: dict[str, Any] = {
            "id": latest["id"],
            "state": run_status(latest, now_ms),
            "startedAtUTC": latest["_startMs"],
        }
        if run_phase(latest, now_ms) == "done":
            details["completedAtUTC"] = latest["_endMs"]
        return details

    # ---- generic reads --------------------------------------------------------------------------

    def retrieve(self, caller: Caller, collection: str, entity_id: str) -> dict[str, Any]:
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            self._materialise(sc)
            return {"items": [self._render(sc, collection, self._get(sc, collection, entity_id))]}

    def list_entities(self, caller: Caller, collection: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        q = parse_list_query(params)
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            self._materialise(sc)
            if collection == "runs":
                indexed = indexed_run_ids(sc, q)
                if indexed is not None:
                    if q.count:
                        return {"count": len(indexed)}
                    page = [self._render(sc, "runs", sc.runs[i]) for i in page_of(indexed, q)]
                    return page_body(page, q, "runs", more=q.offset + q.limit < len(indexed))
            entities = list(sc.collection(collection).values())
            # Cheap pre-selection on flowId== (runs of one flow); the full filter runs after rendering.
            for flt in q.filters:
                if flt.field == "flowId" and flt.op == "==":
                    wanted = {v.lower() for v in flt.values}
                    entities = [e for e in entities if str(e.get("flowId", "")).lower() in wanted]
            items = []
            for entity in entities:
                rendered = self._render(sc, collection, entity)
                rendered["_seq"] = entity["_seq"]
                items.append(rendered)
        aliases = {"state": "metrics.statusSummary.status"} if collection == "runs" else None
        body = apply_query(items, q, collection, aliases=aliases, seq=lambda it: int(it.get("_seq", 0)))
        for it in body.get("items", []):
            it.pop("_seq", None)
        return body

    def seed_runs(
        self,
        org_id: str,
        sandbox: str,
        flow_id: str,
        windows: list[tuple[int, int]],
        *,
        lag_s: int = 60,
        created_from_ms: int | None = None,
    ) -> list[str]:
        """Past, finished runs of a flow, one per window, each created ``lag_s`` after its window ended.

        With ``created_from_ms``, the k-th run is created at ``created_from_ms + k`` instead.
        """
        with self.lock:
            sc = self.scope(org_id, sandbox)
            flow = self._get(sc, "flows", flow_id)
            ids = []
            for k, (start, end) in enumerate(windows):
                params = {"startTime": str(end + lag_s), "windowStartTime": str(start), "windowEndTime": str(end)}
                created = (end + lag_s) * 1000 if created_from_ms is None else created_from_ms + k
                run = self._new_run(
                    sc, flow, created_ms=created, window=(start, end), params=params, client_id="seed", start_s=None
                )
                ids.append(run["id"])
            return ids

    def list_specs(self, kind: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        q = parse_list_query(params, max_limit=1000)
        specs = self.catalog.connection_specs if kind == "connectionSpecs" else self.catalog.flow_specs
        items = [public_spec(s) for s in specs.values()]
        for i, it in enumerate(items):
            it["_seq"] = i
        body = apply_query(items, q, kind, default_order="+_seq", seq=lambda it: int(it.get("_seq", 0)))
        for it in body.get("items", []):
            it.pop("_seq", None)
        return body

    def retrieve_spec(self, kind: str, spec_id: str) -> dict[str, Any]:
        spec = self.catalog.connection_spec(spec_id) if kind == "connectionSpecs" else self.catalog.flow_spec(spec_id)
        if spec is None:
            raise not_found(kind, spec_id)
        return {"items": [public_spec(spec)]}

    # ---- connections ----------------------------------------------------------------------------

    def _check_draft_mode(self, spec: dict[str, Any], draft: bool, what: str) -> None:
        if draft and not Catalog.draft_supported(spec):
            if what == "flow":
                raise bad_request(
                    "Mode is not allowed in flow request. Draft mode is not supported by flow spec "
                    f"{spec['id']} "
                    f"({spec.get('name')}): attributes.isDraftModeSupported is false.",
                    code="1368-400",
                )
            raise draft_order(
                f"Draft mode is not supported for connection spec {spec['id']} ({spec.get('name')}): "
                "attributes.isDraftModeSupported is false. Create the entity without mode=draft."
            )

    def _spec_ref(self, body: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
        ref = body.get(key)
        if not isinstance(ref, dict) or not ref.get("id"):
            raise mandatory_field(f"{key}.id")
        spec = (
            self.catalog.connection_spec(str(ref["id"]))
            if kind == "connection"
            else self.catalog.flow_spec(str(ref["id"]))
        )
        if spec is None:
            raise invalid_request(
                "1413-400",
                f"The spec ID provided is invalid. {key}.id={ref['id']} is not a known "
                f"{'connection' if kind == 'connection' else 'flow'} spec. Please provide a valid spec ID "
                "and try again.",
            )
        return spec

    @staticmethod
    def _check_common(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body:
            raise invalid_request(
                "1405-400",
                "The request body cannot be null or empty. Please provide a request body and try again.",
            )
        if "state" in body:
            raise invalid_request("1410-400", "`State` is not allowed in the create request.")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise mandatory_field("name")
        return body

    def _validate_auth(self, spec: dict[str, Any], auth: Any, complete: bool) -> None:
        auth_specs = spec.get("authSpec") or []
        if not auth_specs:
            return  # e.g. Data Landing Zone and the data lake: no credentials
        if not isinstance(auth, dict) or not auth.get("specName"):
            if complete:
                raise mandatory_field("auth.specName")
            return
        names = [a.get("name") for a in auth_specs]
        chosen = next((a for a in auth_specs if a.get("name") == auth["specName"]), None)
        if chosen is None:
            raise invalid_request(
                "1415-400",
                f"The auth spec '{auth['specName']}' could not be found for the connection spec ID "
                f"{spec['id']}. "
                f"Supported auth specs: {names}.",
            )
        if complete:
            missing = _required_missing(chosen.get("spec"), auth.get("params"))
            if missing:
                raise mandatory_field(f"auth.params.{missing[0]}")

    def create_connection(self, caller: Caller, body: Any, draft: bool) -> dict[str, Any]:
        body = self._check_common(body)
        spec = self._spec_ref(body, "connectionSpec", "connection")
        self._check_draft_mode(spec, draft, "connection")
        self._validate_auth(spec, body.get("auth"), complete=not draft)
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            entity_id = str(uuid.uuid4())
            entity = self._audit(sc, caller, entity_id)
            entity.update(
                {
                    "name": body["name"],
                    "description": body.get("description", ""),
                    "connectionSpec": {
                        "id": spec["id"],
                        "version": str(body["connectionSpec"].get("version", "1.0")),
                    },
                    "state": "draft" if draft else "enabled",
                    "auth": copy.deepcopy(body.get("auth")) if isinstance(body.get("auth"), dict) else {},
                }
            )
            for extra in ("labels", "params"):
                if extra in body:
                    entity[extra] = copy.deepcopy(body[extra])
            sc.connections[entity_id] = entity
            return {"id": entity_id, "etag": entity["_etag"]}

    def _conn_body(
        self, caller: Caller, body: Any, draft: bool, collection: str
    ) -> tuple[Scope, dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        body = self._check_common(body)
        spec = self._spec_ref(body, "connectionSpec", "connection")
        self._check_draft_mode(spec, draft, "connection")
        sc = self.scope(caller.org_id, caller.sandbox)
        base: dict[str, Any] | None = None
        base_id = body.get("baseConnectionId")
        if base_id:
            base = sc.connections.get(str(base_id))
            if base is None:
                raise draft_order(
                    f"The base connection {base_id} referenced by baseConnectionId is not found. Verify the "
                    "resource ID before trying again."
                )
            if base["connectionSpec"]["id"] != spec["id"]:
                raise draft_order(
                    f"The base connection {base_id} has connection spec {base['connectionSpec']['id']}, "
                    "which does "
                    f"not match connectionSpec.id={spec['id']}."
                )
            if base["state"] == "draft" and not draft:
                raise draft_order(
                    f"The base connection {base_id} is still in draft state. Publish it "
                    "(POST /connections/{id}/action?op=publish) before creating a published "
                    f"{'source' if collection == 'sourceConnections' else 'target'} connection on it."
                )
        elif Catalog.requires_base_connection(spec) and not draft:
            raise mandatory_field("baseConnectionId")
        self._validate_params(spec, collection, body.get("params"), complete=not draft)
        return sc, body, spec, base

    @staticmethod
    def _validate_params(spec: dict[str, Any], collection: str, params: Any, complete: bool) -> None:
        if not complete:
            return
        key = "sourceSpec" if collection == "sourceConnections" else "targetSpec"
        section = spec.get(key)
        if not isinstance(section, dict):
            return
        missing = _required_missing(section.get("spec"), params)
        if missing:
            raise mandatory_field(f"params.{missing[0]}")

    def create_source_or_target(self, caller: Caller, collection: str, body: Any, draft: bool) -> dict[str, Any]:
        with self.lock:
            sc, body, spec, base = self._conn_body(caller, body, draft, collection)
            entity_id = str(uuid.uuid4())
            entity = self._audit(sc, caller, entity_id)
            entity.update(
                {
                    "name": body["name"],
                    "description": body.get("description", ""),
                    "state": "draft" if draft else "enabled",
                    "connectionSpec": {
                        "id": spec["id"],
                        "version": str(body["connectionSpec"].get("version", "1.0")),
                    },
                    "data": copy.deepcopy(body.get("data") or {}),
                    "params": copy.deepcopy(body.get("params") or {}),
                }
            )
            if base is not None:
                entity["baseConnectionId"] = base["id"]
                entity["inheritedAttributes"] = {
                    "baseConnection": {
                        "id": base["id"],
                        "connectionSpec": copy.deepcopy(base["connectionSpec"]),
                    }
                }
            for extra in ("labels",):
                if extra in body:
                    entity[extra] = copy.deepcopy(body[extra])
            sc.collection(collection)[entity_id] = entity
            return {"id": entity_id, "etag": entity["_etag"]}

    # ---- flows ----------------------------------------------------------------------------------

    def _validate_schedule(self, flow_spec: dict[str, Any], sp: Any, required: bool) -> dict[str, Any] | None:
        if sp is None or sp == {}:
            if required:
                raise FlowServiceError(
                    "1317-400",
                    "Bad Request",
                    "The provided schedule params are empty but should not be empty. Please provide valid "
                    "schedule "
                    "params and try again.",
                )
            return None
        if not isinstance(sp, dict):
            raise FlowServiceError("1317-400", "Bad Request", "The provided schedule params are invalid.")
        spec = (flow_spec.get("scheduleSpec") or {}).get("spec") or {}
        props = spec.get("properties") or {}
        out = copy.deepcopy(sp)
        start = sp.get("startTime")
        if start is None:
            raise FlowServiceError(
                "1359-400",
                "Bad Request",
                "The param scheduleParams.startTime is missing in the request. Please "
                "provide a valid scheduleParams.startTime and try again.",
            )
        start_s = _parse_epoch_seconds(start)
        if start_s is None:
            raise FlowServiceError(
                "1340-400",
                "Bad Request",
                f"An error occurred while parsing startTime={start!r}. Please check the "
                "time format provided in the request and try again (epoch seconds).",
            )
        out["startTime"] = start_s
        if "timeUnit" in props:  # dataset export flows (Adobe's dataset-export guide)
            unit = str(sp.get("timeUnit") or sp.get("frequency") or "").lower()
            if not unit:
                raise FlowServiceError(
                    "1359-400", "Bad Request", "The param scheduleParams.timeUnit is missing in the request."
                )
            if unit not in ("hour", "day"):
                raise FlowServiceError(
                    "1397-400",
                    "Bad Request",
                    f"The provided frequency : {unit} is invalid. Use timeUnit hour or day.",
                )
            interval = _parse_epoch_seconds(sp.get("interval"))
            if interval is None:
                raise FlowServiceError(
                    "1359-400", "Bad Request", "The param scheduleParams.interval is missing in the request."
                )
            allowed = (3, 6, 9, 12, 24) if unit == "hour" else (1,)
            if interval not in allowed:
                raise FlowServiceError(
                    "1363-400",
                    "Bad Request",
                    f"Interval {interval} is not allowed with frequency: {unit}. Allowed intervals: {list(allowed)}.",
                )
            out["timeUnit"] = unit
            out["interval"] = str(interval)
            return out
        freq_raw = sp.get("frequency")
        if freq_raw is None or freq_raw == "":
            raise FlowServiceError(
                "1359-400", "Bad Request", "The param scheduleParams.frequency is missing in the request."
            )
        freq = str(freq_raw).lower()
        allowed_freq = (props.get("frequency") or {}).get("enum") or ["once", "minute", "hour", "day", "week"]
        if freq not in allowed_freq:
            raise FlowServiceError(
                "1397-400",
                "Bad Request",
                f"The provided frequency : {freq_raw} is invalid. Please provide a valid frequency and try again.",
            )
        out["frequency"] = freq
        if freq == "once":
            if "interval" in sp:
                raise FlowServiceError(
                    "1361-400",
                    "Bad Request",
                    "Interval is not allowed with one time ingestion. Please remove interval or change "
                    "frequency and "
                    "then try again.",
                )
            if "backfill" in sp:
                raise FlowServiceError(
                    "1364-400",
                    "Bad Request",
                    "The backfill flag is not allowed when frequency is set to once. Please remove the "
                    "backfill flag "
                    "when frequency is set to once and try again.",
                )
            return out
        if sp.get("interval") is None:
            raise FlowServiceError(
                "1393-400",
                "Bad Request",
                "The provided parameter interval is null or empty. Please provide a valid interval and try again.",
            )
        interval = _parse_epoch_seconds(sp.get("interval"))
        if interval is None:
            raise FlowServiceError(
                "1312-400",
                "Bad Request",
                f"The provided param value {sp.get('interval')} is not a valid input for property=interval.",
            )
        minimum = 15 if freq == "minute" else 1
        if interval < minimum:
            raise FlowServiceError(
                "1362-400",
                "Bad Request",
                f"Interval cannot be less than {minimum}. Please provide a valid interval value and try again.",
            )
        out["interval"] = str(interval)
        if "backfill" in sp:
            backfill = _parse_bool(sp["backfill"])
            if backfill is None:
                raise FlowServiceError(
                    "1312-400",
                    "Bad Request",
                    f"The provided param value {sp['backfill']} is not a valid input for property=backfill.",
                )
            out["backfill"] = backfill
        return out

    @staticmethod
    def _delta_column(flow: dict[str, Any]) -> dict[str, Any] | None:
        for tr in flow.get("transformations") or []:
            if isinstance(tr, dict) and str(tr.get("name", "")).lower() == "copy":
                dc = (tr.get("params") or {}).get("deltaColumn")
                if isinstance(dc, dict) and dc.get("name"):
                    return dc
        return None

    def _flow_is_table_based(self, sc: Scope, flow: dict[str, Any]) -> bool:
        for sid in flow.get("sourceConnectionIds") or []:
            conn = sc.sourceConnections.get(sid)
            if conn is None:
                continue
            spec = self.catalog.connection_spec(conn["connectionSpec"]["id"]) or {}
            if Catalog.table_based(spec) or str((conn.get("data") or {}).get("format", "")).lower() == "tabular":
                return True
        return False

    def _validate_flow(self, sc: Scope, flow: dict[str, Any], flow_spec: dict[str, Any], draft: bool) -> None:
        """Validate a flow document (create, PATCH, publish). ``flow`` is modified (normalised)."""
        for key in ("sourceConnectionIds", "targetConnectionIds"):
            ids = flow.get(key)
            if ids is None and draft:
                continue
            if isinstance(ids, str):
                ids = [ids]
                flow[key] = ids
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
                kind = "source" if key.startswith("source") else "target"
                raise FlowServiceError(
                    "1338-400",
                    "Bad Request",
                    f"The {kind} connection ID can't be null in flowRequest. Please provide valid {kind} "
                    "connection "
                    "ID in flowRequest.",
                )
            collection = "sourceConnections" if key.startswith("source") else "targetConnections"
            allowed = flow_spec.get(f"{'source' if key.startswith('source') else 'target'}ConnectionSpecIds") or []
            for cid in ids:
                conn = sc.collection(collection).get(cid)
                if conn is None:
                    raise draft_order(
                        f"The {collection} resource {cid} referenced by {key} is not found. Verify the "
                        "resource ID "
                        "before trying again."
                    )
                if conn["connectionSpec"]["id"] not in allowed:
                    raise draft_order(
                        f"The {collection} resource {cid} has connection spec "
                        f"{conn['connectionSpec']['id']}, which "
                        f"flow spec {flow_spec['id']} ({flow_spec.get('name')}) does not allow in "
                        f"{key[:-3]}SpecIds."
                    )
                if conn["state"] == "draft" and not draft:
                    raise draft_order(
                        f"The {collection} resource {cid} is still in draft state. Publish it "
                        f"(POST /{collection}/{cid}/action?op=publish) before publishing or creating the "
                        "flow."
                    )
        transformations = flow.get("transformations")
        if transformations is not None:
            if not isinstance(transformations, list):
                raise FlowServiceError("1392-400", "Bad Request", "Failed to parse Transformations in flow request.")
            for i, tr in enumerate(transformations):
                if not isinstance(tr, dict) or not tr.get("name"):
                    raise mandatory_field(f"transformations[{i}].name")
                if not isinstance(tr.get("params"), dict):
                    raise mandatory_field(f"transformations[{i}].params")
                if self.mapping_check is not None and str(tr["name"]).lower() == "mapping":
                    problem = self.mapping_check(sc.org_id, sc.sandbox, tr["params"])
                    if problem is not None:
                        raise bad_request(f"transformations[{i}]: {problem}")
        sp = self._validate_schedule(flow_spec, flow.get("scheduleParams"), required=not draft)
        if sp is not None:
            flow["scheduleParams"] = sp
        if draft or sp is None:
            return
        if self._flow_is_table_based(sc, flow):
            delta = self._delta_column(flow)
            if sp.get("frequency") == "once" and delta is not None:
                raise FlowServiceError(
                    "1369-400",
                    "Bad Request",
                    "The delta column in copy transform is not allowed when frequency is set to once. Please "
                    "remove "
                    "the delta column and try again.",
                )
            if sp.get("frequency") != "once" and delta is None:
                raise FlowServiceError(
                    "1367-400",
                    "Bad Request",
                    "The delta column is required in copy transformation when creating a CRM connector. "
                    "Please "
                    "provide delta column and try again.",
                )

    def _inherited(self, sc: Scope, flow: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"sourceConnections": [], "targetConnections": []}
        for key, coll in (
            ("sourceConnectionIds", "sourceConnections"),
            ("targetConnectionIds", "targetConnections"),
        ):
            for cid in flow.get(key) or []:
                conn = sc.collection(coll).get(cid)
                if conn is None:
                    continue
                item: dict[str, Any] = {"id": cid, "connectionSpec": copy.deepcopy(conn["connectionSpec"])}
                base = sc.connections.get(conn.get("baseConnectionId") or "")
                if base is not None:
                    item["baseConnection"] = {
                        "id": base["id"],
                        "connectionSpec": copy.deepcopy(base["connectionSpec"]),
                    }
                out[coll].append(item)
        return out

    def create_flow(self, caller: Caller, body: Any, draft: bool) -> dict[str, Any]:
        body = self._check_common(body)
        flow_spec = self._spec_ref(body, "flowSpec", "flow")
        self._check_draft_mode(flow_spec, draft, "flow")
        if "mode" in body:
            raise bad_request(
                "Mode is not allowed in flow request. Please check your request and try again.", "1368-400"
            )
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            doc = copy.deepcopy(body)
            self._validate_flow(sc, doc, flow_spec, draft)
            entity_id = str(uuid.uuid4())
            entity = self._audit(sc, caller, entity_id)
            entity.update(
                {
                    "name": doc["name"],
                    "description": doc.get("description", ""),
                    "flowSpec": {
                        "id": flow_spec["id"],
                        "version": str(body["flowSpec"].get("version", "1.0")),
                    },
                    "state": "draft" if draft else "enabled",
                    "sourceConnectionIds": list(doc.get("sourceConnectionIds") or []),
                    "targetConnectionIds": list(doc.get("targetConnectionIds") or []),
                    "transformations": copy.deepcopy(doc.get("transformations") or []),
                }
            )
            if doc.get("scheduleParams"):
                entity["scheduleParams"] = doc["scheduleParams"]
            for extra in ("labels", "options"):
                if extra in doc:
                    entity[extra] = copy.deepcopy(doc[extra])
            entity["inheritedAttributes"] = self._inherited(sc, entity)
            entity["_lastOperation"] = {
                "started": entity["createdAt"],
                "updated": entity["createdAt"],
                "operation": "create",
            }
            sc.flows[entity_id] = entity
            self._init_schedule(sc, entity)
            return {"id": entity_id, "etag": entity["_etag"]}

    # ---- schedules ------------------------------------------------------------------------------

    def _init_schedule(self, sc: Scope, flow: dict[str, Any]) -> None:
        sc.next_due.pop(flow["id"], None)
        if flow["state"] != "enabled":
            return
        sched = schedule_of(flow)
        if sched is None:
            return
        start, interval = sched
        sc.next_due[flow["id"]] = first_due(start, interval, self.clock.now())

    def _materialise(self, sc: Scope) -> None:
        """Create the runs of recurring flows that are due at the current emulator time."""
        now = self.clock.now()
        for flow_id, due in list(sc.next_due.items()):
            flow = sc.flows.get(flow_id)
            sched = schedule_of(flow) if flow is not None else None
            if flow is None or flow["state"] != "enabled" or sched is None:
                sc.next_due.pop(flow_id, None)
                continue
            _, interval = sched
            if due > now:
                continue
            pending = int((now - due) // interval) + 1
            if pending > MAX_SCHEDULED_PER_READ:
                due += (pending - MAX_SCHEDULED_PER_READ) * interval
            while due <= now:
                self._new_run(
                    sc,
                    flow,
                    created_ms=due * 1000,
                    window=(due - interval, due),
                    params={"windowStartTime": due - interval, "windowEndTime": due},
                    client_id="acp_foundation_connectors",
                    start_s=None,
                )
                due += interval
            sc.next_due[flow_id] = due

    # ---- actions: publish / enable / disable ----------------------------------------------------

    def _check_if_match(self, entity: dict[str, Any], if_match: str | None, required: bool) -> None:
        if if_match is None or if_match.strip() == "":
            if required:
                raise invalid_request(
                    "1403-400",
                    "The header 'If-Match' is missing in the request. Please provide the header and try again.",
                )
            return
        supplied = if_match.strip()
        current = entity["_etag"]
        if supplied != current and supplied != "*":
            raise FlowServiceError(
                "1404-412",
                "Version not matching",
                f"The supplied version {supplied} does not match the current version on entity {current}. "
                "Please "
                "ensure that the supplied version matches the current version on entity and try again.",
                error_message=f"Supplied version=[{supplied}] does not match the current version on entity=[{current}]",
            )

    def action(
        self, caller: Caller, collection: str, entity_id: str, op: str | None, if_match: str | None
    ) -> dict[str, Any]:
        op_norm = (op or "").strip().lower().replace("-", "_")
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            entity = sc.collection(collection).get(entity_id)
            if entity is None:
                hint = ""
                if collection == "connections":
                    for other in ("sourceConnections", "targetConnections"):
                        if entity_id in sc.collection(other):
                            hint = f" {entity_id} is a {other[:-1]}: use POST /{other}/{entity_id}/action."
                err = not_found(COLLECTIONS[collection], entity_id)
                if hint:
                    err = FlowServiceError(err.code, err.title, err.message + hint, report_extra=err.report_extra)
                raise err
            if not op_norm:
                raise FlowServiceError(
                    "1334-400",
                    "Bad Request",
                    "The query param : op cannot be empty. Please provide valid op and try again.",
                )
            allowed = ("publish", "enable", "disable") if collection == "flows" else ("publish",)
            if op_norm not in allowed:
                raise FlowServiceError(
                    "1398-400",
                    "Bad Request",
                    f"The provided operation : {op} is unsupported. Supported operations on {collection}: "
                    f"{[a.upper() for a in allowed]}.",
                )
            self._check_if_match(entity, if_match, required=False)
            now = self.clock.now_ms()
            if op_norm == "publish":
                if entity["state"] != "draft":
                    # Already published: accepted idempotently, nothing changes (same etag).
                    return {"id": entity_id, "etag": entity["_etag"]}
                self._publish(sc, collection, entity)
                entity["state"] = "enabled"
                etag = self._touch(entity, caller, now, "publish")
                if collection == "flows":
                    entity["inheritedAttributes"] = self._inherited(sc, entity)
                    self._init_schedule(sc, entity)
                return {"id": entity_id, "etag": etag}
            # enable / disable (flows)
            if entity["state"] == "draft":
                raise invalid_request(
                    "1422-400",
                    f"The action {op_norm} cannot be applied on the current state draft. Publish the flow "
                    "first "
                    f"(POST /flows/{entity_id}/action?op=publish).",
                )
            target = "enabled" if op_norm == "enable" else "disabled"
            if entity["state"] == target:
                return {"id": entity_id, "etag": entity["_etag"]}
            entity["state"] = target
            etag = self._touch(entity, caller, now, op_norm)
            self._init_schedule(sc, entity)
            return {"id": entity_id, "etag": etag}

    def _publish(self, sc: Scope, collection: str, entity: dict[str, Any]) -> None:
        spec_key = "flowSpec" if collection == "flows" else "connectionSpec"
        spec = (
            self.catalog.flow_spec(entity[spec_key]["id"])
            if collection == "flows"
            else self.catalog.connection_spec(entity[spec_key]["id"])
        ) or {}
        if collection == "connections":
            self._validate_auth(spec, entity.get("auth"), complete=True)
            return
        if collection in ("sourceConnections", "targetConnections"):
            base_id = entity.get("baseConnectionId")
            kind = "source" if collection == "sourceConnections" else "target"
            if base_id:
                base = sc.connections.get(base_id)
                if base is None:
                    raise draft_order(f"The base connection {base_id} of this {kind} connection no longer exists.")
                if base["state"] == "draft":
                    raise draft_order(
                        f"Cannot publish {kind} connection {entity['id']}: its base connection {base_id} is "
                        "still in "
                        "draft state. Publish the base connection first (POST "
                        f"/connections/{base_id}/action?op=publish)."
                    )
            elif Catalog.requires_base_connection(spec):
                raise mandatory_field("baseConnectionId")
            self._validate_params(spec, collection, entity.get("params"), complete=True)
            return
        # flows: connections must be published, then the full flow validation applies.
        for key, coll in (
            ("sourceConnectionIds", "sourceConnections"),
            ("targetConnectionIds", "targetConnections"),
        ):
            for cid in entity.get(key) or []:
                conn = sc.collection(coll).get(cid)
                if conn is not None and conn["state"] == "draft":
                    raise draft_order(
                        f"Cannot publish flow {entity['id']}: its {coll[:-1]} {cid} is still in draft state. "
                        "Publish "
                        f"the source and target connections first (POST /{coll}/{cid}/action?op=publish)."
                    )
        doc = {k: v for k, v in entity.items() if not k.startswith("_")}
        if not doc.get("scheduleParams") and "timeUnit" not in (
            (spec.get("scheduleSpec") or {}).get("spec", {}).get("properties") or {}
        ):
            # Seed 000 publishes a draft flow created without scheduleParams and documents success:
            # such a flow gets a one-time schedule starting when it is published.
            doc["scheduleParams"] = {"startTime": int(self.clock.now()), "frequency": "once"}
        self._validate_flow(sc, doc, spec, draft=False)
        if "scheduleParams" in doc:
            entity["scheduleParams"] = doc["scheduleParams"]

    # ---- PATCH / DELETE -------------------------------------------------------------------------

    def patch(self, caller: Caller, collection: str, entity_id: str, ops: Any, if_match: str | None) -> dict[str, Any]:
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            entity = self._get(sc, collection, entity_id)
            self._check_if_match(entity, if_match, required=True)
            if isinstance(ops, list):
                for op in ops:
                    path = str(op.get("path", "")) if isinstance(op, dict) else ""
                    if path.split("/")[1:2] in (["connectionSpec"],):
                        raise invalid_request("1414-400", "The connection spec of a connection cannot be updated.")
            public = {k: v for k, v in entity.items() if not k.startswith("_")}
            read_only = set(_AUDIT_KEYS) | {"flowSpec", "connectionSpec", "baseConnectionId"}
            doc = apply_patch(public, ops, read_only)
            draft = entity["state"] == "draft"
            if collection == "flows":
                spec = self.catalog.flow_spec(entity["flowSpec"]["id"]) or {}
                if not isinstance(doc.get("name"), str) or not doc["name"].strip():
                    raise mandatory_field("name")
                self._validate_flow(sc, doc, spec, draft=draft)
                doc["inheritedAttributes"] = self._inherited(sc, doc)
            elif collection == "connections":
                spec = self.catalog.connection_spec(entity["connectionSpec"]["id"]) or {}
                self._validate_auth(spec, doc.get("auth"), complete=not draft)
            else:
                spec = self.catalog.connection_spec(entity["connectionSpec"]["id"]) or {}
                self._validate_params(spec, collection, doc.get("params"), complete=not draft)
            for key in list(entity):
                if not key.startswith("_") and key not in doc:
                    del entity[key]
            entity.update(doc)
            etag = self._touch(entity, caller, self.clock.now_ms(), "update")
            if collection == "flows":
                entity["_lastOperation"]["ops"] = copy.deepcopy(ops)
                self._init_schedule(sc, entity)
            return {"id": entity_id, "etag": etag}

    def delete(self, caller: Caller, collection: str, entity_id: str) -> None:
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            self._get(sc, collection, entity_id)
            if collection == "connections":
                for flow in sc.flows.values():
                    for key, coll in (
                        ("sourceConnectionIds", "sourceConnections"),
                        ("targetConnectionIds", "targetConnections"),
                    ):
                        for cid in flow.get(key) or []:
                            conn = sc.collection(coll).get(cid)
                            if conn is not None and conn.get("baseConnectionId") == entity_id:
                                raise invalid_request(
                                    "1418-400",
                                    f"The base connection with the ID {entity_id} cannot be deleted because "
                                    "the base "
                                    "connection is being used in one or more flows. Please ensure that "
                                    "corresponding "
                                    "flows are deleted before deleting a base connection (flow "
                                    f"{flow['id']}).",
                                )
            elif collection in ("sourceConnections", "targetConnections"):
                key = "sourceConnectionIds" if collection == "sourceConnections" else "targetConnectionIds"
                users = [f["id"] for f in sc.flows.values() if entity_id in (f.get(key) or [])]
                if users:
                    raise invalid_request("1447-400", f"Found active flows containing id {entity_id}: {users}.")
            del sc.collection(collection)[entity_id]
            if collection == "flows":
                sc.next_due.pop(entity_id, None)

    # ---- connection extras ----------------------------------------------------------------------

    def test_connection(self, caller: Caller, entity_id: str) -> dict[str, Any]:
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            self._get(sc, "connections", entity_id)
            return {"result": True}

    def explore(self, caller: Caller, entity_id: str, params: dict[str, str]) -> Any:
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            conn = self._get(sc, "connections", entity_id)
            spec = self.catalog.connection_spec(conn["connectionSpec"]["id"]) or {"id": conn["connectionSpec"]["id"]}
        return explore_mod.explore(spec, params)

    def connection_configs(self, caller: Caller, entity_id: str, params: dict[str, str]) -> Any:
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            self._get(sc, "connections", entity_id)
        # No catalog spec declares connection-level config options; the list is empty.
        return []

    def spec_explore(self, spec_id: str) -> Any:
        """``GET /connectionSpecs/{id}/explore``: no catalog spec explores without credentials."""
        if self.catalog.connection_spec(spec_id) is None:
            raise not_found("connectionSpecs", spec_id)
        raise FlowServiceError(
            "1372-400",
            "Bad Request",
            "The current operation is not allowed. Explore via connection spec is not allowed for connection "
            f"spec ID={spec_id}. Explore through a base connection: GET /connections/{{id}}/explore.",
        )

    def spec_configs(self, spec_id: str, params: dict[str, str]) -> Any:
        spec = self.catalog.connection_spec(spec_id)
        if spec is None:
            raise not_found("connectionSpecs", spec_id)
        if "configs" not in (spec.get("attributes") or {}):
            raise FlowServiceError(
                "1372-400",
                "Bad Request",
                f"The current operation is not allowed. Configs are not available for connection spec ID={spec_id}.",
            )
        with self.lock:
            datasets = list(self.datasets)
        return explore_mod.activation_datasets(datasets, params)

    # ---- runs -----------------------------------------------------------------------------------

    def _new_run(
        self,
        sc: Scope,
        flow: dict[str, Any],
        *,
        created_ms: int,
        window: tuple[int, int],
        params: dict[str, Any],
        client_id: str,
        start_s: int | None,
        parent: str | None = None,
    ) -> dict[str, Any]:
        run_id = str(uuid.uuid4())
        t1, t2 = self.run_timeline
        begin_ms = max(created_ms, start_s * 1000 if start_s is not None else created_ms)
        kind, failed_records = self.outcomes.take(flow["id"])
        run: dict[str, Any] = {
            "id": run_id,
            "createdAt": created_ms,
            "updatedAt": created_ms,
            "createdBy": f"{client_id}@AdobeID",
            "updatedBy": "acp_foundation_connectors@AdobeID",
            "createdClient": client_id,
            "updatedClient": "acp_foundation_connectors",
            "sandboxId": sc.sandbox_id,
            "sandboxName": sc.sandbox,
            "imsOrgId": sc.org_id,
            "flowId": flow["id"],
            "flowSpec": copy.deepcopy(flow["flowSpec"]),
            "providerRefId": f"M-{flow['id']}-incremental-0:{run_id}",
            "params": copy.deepcopy(params),
            "_seq": self._next_seq(),
            "_window": window,
            "_startMs": begin_ms + int(t1 * 1000),
            "_endMs": begin_ms + int(max(t2, t1) * 1000),
            "_outcome": kind,
            "_failedRecords": failed_records,
        }
        if parent:
            run["parentFlowRunId"] = parent
        sc.add_run(run)
        return run

    def create_run(self, caller: Caller, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body:
            raise invalid_request(
                "1405-400",
                "The request body cannot be null or empty. Please provide a request body and try again.",
            )
        flow_id = body.get("flowId")
        if not isinstance(flow_id, str) or not flow_id:
            raise invalid_request(
                "1446-400", "The flow ID cannot be null or empty. Please update the flow ID and try again."
            )
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            self._materialise(sc)
            flow = self._get(sc, "flows", flow_id)
            if flow["state"] == "draft":
                raise FlowServiceError(
                    "1380-400",
                    "Bad Request",
                    f"Failed to create flow run. Error message: the flow {flow_id} is in draft state; "
                    "publish it "
                    f"(POST /flows/{flow_id}/action?op=publish) before creating runs.",
                )
            if flow["state"] != "enabled":
                raise FlowServiceError(
                    "1380-400",
                    "Bad Request",
                    f"Failed to create flow run. Error message: the flow {flow_id} is in state "
                    f"{flow['state']}; "
                    "enable it before creating runs.",
                )
            sp = flow.get("scheduleParams") or {}
            frequency = str(sp.get("frequency") or sp.get("timeUnit") or "")
            if frequency.lower() != "once":
                raise FlowServiceError(
                    "1386-400",
                    "Bad Request",
                    f"The flowId={flow_id} with scheduleParams frequency={frequency or None} is not "
                    "supported for "
                    "creating flow runs. Please provide a valid frequency and try again.",
                )
            params = body.get("params")
            if not isinstance(params, dict) or not params:
                raise self._bad_params(params)
            win_start = _parse_epoch_seconds(params.get("windowStartTime"))
            win_end = _parse_epoch_seconds(params.get("windowEndTime"))
            start_time = params.get("startTime")
            start_s = _parse_epoch_seconds(start_time) if start_time is not None else None
            if win_start is None or win_end is None or (start_time is not None and start_s is None):
                raise self._bad_params(params)
            if win_end < win_start:
                raise FlowServiceError(
                    "1381-400",
                    "Bad Request",
                    f"WindowEndTime={win_end} cannot be before Window StartTime={win_start}. Please provide "
                    "a valid "
                    "end time and try again.",
                )
            delta = params.get("deltaColumn")
            if delta is not None and (not isinstance(delta, dict) or not delta.get("name")):
                raise self._bad_params(params)
            if self._flow_is_table_based(sc, flow):
                current = self._delta_column(flow)
                if current is None:
                    if delta is None:
                        raise FlowServiceError(
                            "1383-400",
                            "Bad Request",
                            "The delta column is missing in the params received for creating a flow run. "
                            "Please "
                            "provide delta column in params and try again.",
                        )
                    self._store_delta_column(flow, delta, caller)
                elif delta is not None and str(delta.get("name")) != str(current.get("name")):
                    raise FlowServiceError(
                        "1382-400",
                        "Bad Request",
                        "The delta column should match the value present in the flow's Copy transformations. "
                        "Please "
                        f"provide a valid delta column and try again (flow has {current.get('name')!r}, "
                        f"got {delta.get('name')!r}).",
                    )
            run = self._new_run(
                sc,
                flow,
                created_ms=self.clock.now_ms(),
                window=(win_start, win_end),
                params=copy.deepcopy(params),
                client_id=caller.client_id,
                start_s=start_s,
            )
            return {"id": run["id"], "etag": render_run(run, self.clock.now_ms())["etag"]}

    @staticmethod
    def _bad_params(params: Any) -> FlowServiceError:
        return FlowServiceError(
            "1384-400",
            "Bad Request",
            f"The params={params} provided for creating flow run are invalid or empty. Please provide valid "
            "params "
            "(windowStartTime, windowEndTime and startTime as epoch seconds) and try again.",
        )

    def _store_delta_column(self, flow: dict[str, Any], delta: dict[str, Any], caller: Caller) -> None:
        transformations = flow.setdefault("transformations", [])
        for tr in transformations:
            if isinstance(tr, dict) and str(tr.get("name", "")).lower() == "copy":
                tr.setdefault("params", {})["deltaColumn"] = copy.deepcopy(delta)
                break
        else:
            transformations.insert(0, {"name": "Copy", "params": {"deltaColumn": copy.deepcopy(delta)}})
        self._touch(flow, caller, self.clock.now_ms(), "update")

    def run_action(self, caller: Caller, run_id: str, op: str | None, if_match: str | None) -> dict[str, Any]:
        op_norm = (op or "").strip().lower().replace("-", "_")
        with self.lock:
            sc = self.scope(caller.org_id, caller.sandbox)
            self._materialise(sc)
            run = self._get(sc, "runs", run_id)
            if op_norm != "re_trigger":
                raise invalid_request(
                    "1401-400",
                    f"The provided flow run action={op} is not supported. Please provide a valid flow run "
                    "action "
                    "(RE_TRIGGER) and try again.",
                )
            now = self.clock.now_ms()
            rendered = render_run(run, now)
            if if_match and if_match.strip() not in (rendered["etag"], "*"):
                raise FlowServiceError(
                    "1404-412",
                    "Version not matching",
                    f"The supplied version {if_match} does not match the current version on entity {rendered['etag']}.",
                    error_message=(
                        f"Supplied version=[{if_match.strip()}] does not match the current version on "
                        f"entity=[{rendered['etag']}]"
                    ),
                )
            status = run_status(run, now)
            zero_records = status == "success" and record_count(*run["_window"]) == 0
            if status != "failed" and not zero_records:
                raise FlowServiceError(
                    "1387-400",
                    "Bad Request",
                    f"The flowRunId={run_id} is in an invalid state={status} for re-triggering. Only failed "
                    "runs and "
                    "successful runs that ingested zero records can be re-triggered.",
                )
            flow = sc.flows.get(run["flowId"])
            if flow is None or flow["state"] != "enabled":
                state = flow["state"] if flow is not None else "deleted"
                raise FlowServiceError(
                    "1388-400",
                    "Bad Request",
                    f"The flow={run['flowId']} is in state={state} and cannot be re-triggered. The flow must "
                    "be in "
                    "enabled state for re-triggering.",
                )
            new = self._new_run(
                sc,
                flow,
                created_ms=now,
                window=run["_window"],
                params=copy.deepcopy(run.get("params") or {}),
                client_id=caller.client_id,
                start_s=None,
                parent=run_id,
            )
            return {"id": new["id"], "etag": render_run(new, now)["etag"]}

    # ---- control ----------------------------------------------------------------------------------

    def seed_datasets(self, datasets: list[dict[str, Any]]) -> None:
        with self.lock:
            self.datasets = [copy.deepcopy(d) for d in datasets]

    def snapshot(self) -> dict[str, Any]:
        """Counts per scope (for the admin endpoint and debugging)."""
        with self.lock:
            return {
                f"{sc.org_id}/{sc.sandbox}": {name: len(sc.collection(name)) for name in COLLECTIONS}
                for sc in self._scopes.values()
            }
