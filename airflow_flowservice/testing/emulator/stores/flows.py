"""The flows resource: dataflows (``/flows``), their validation, drafts, publish, enable and disable.

A flow's runs live in the runs store: reading a flow first lets it create the scheduled runs that are
due (``catch_up``) and shows its ``lastRunDetails``; a flow that changes asks it to plan its
schedule again. The runs store reads a flow as :class:`FlowFacts`.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import FlowServiceError, bad_request, draft_order, invalid_request, mandatory_field
from ..state import Caller, EmulatorState, SandboxKey
from .catalog import CatalogStore
from .connections import SOURCES, TARGETS, ConnectionRef, ConnectionStore
from .entities import Document, EntityStore, check_create_body
from .schedules import schedule_of, validate_schedule

FLOWS = "flows"
#: The flow fields that name connections, and the collection of each.
_CONNECTION_FIELDS = (("sourceConnectionIds", SOURCES), ("targetConnectionIds", TARGETS))


@dataclass(frozen=True)
class FlowFacts:
    """What the runs store reads of a flow."""

    id: str
    state: str
    #: ``{"id", "version"}`` of the flow spec (a copy)
    flow_spec: dict[str, Any]
    #: ``scheduleParams.frequency`` (or ``timeUnit``) as stored, ``""`` without a schedule
    frequency: str
    #: ``(startTime, interval seconds)`` of a recurring schedule
    schedule: tuple[int, int] | None
    #: the ``deltaColumn`` of the flow's Copy transformation (a copy), if any
    delta_column: dict[str, Any] | None


class FlowRuns(Protocol):
    """What the flows store asks of the runs store."""

    def catch_up(self, key: SandboxKey) -> None:
        """Create the runs of recurring flows that are due at the current emulator time."""
        ...

    def last_run_details(self, key: SandboxKey, flow_id: str) -> dict[str, Any] | None:
        """``lastRunDetails`` of a flow: its latest run that has started."""
        ...

    def reschedule(self, key: SandboxKey, flow_id: str) -> None:
        """Plan the flow's scheduled runs again (it was created, changed, enabled, disabled or deleted)."""
        ...


class FlowMappings(Protocol):
    """What the flows store asks of the conversion store (Data Prep)."""

    def mapping_problem(self, key: SandboxKey, params: Any) -> str | None:
        """Why a ``Mapping`` transformation's params name no existing mapping set version (``None``: they do)."""
        ...


class _NoMappings:
    def mapping_problem(self, key: SandboxKey, params: Any) -> str | None:
        return None


class _NoRuns:
    def catch_up(self, key: SandboxKey) -> None:
        return None

    def last_run_details(self, key: SandboxKey, flow_id: str) -> dict[str, Any] | None:
        return None

    def reschedule(self, key: SandboxKey, flow_id: str) -> None:
        return None


def _is_mapping(transformation: dict[str, Any]) -> bool:
    return str(transformation.get("name", "")).lower() == "mapping"


def copy_delta_column(flow: Document) -> dict[str, Any] | None:
    for tr in flow.get("transformations") or []:
        if isinstance(tr, dict) and str(tr.get("name", "")).lower() == "copy":
            dc = (tr.get("params") or {}).get("deltaColumn")
            if isinstance(dc, dict) and dc.get("name"):
                return dc
    return None


class FlowStore(EntityStore):
    """Flows per sandbox."""

    collections = (FLOWS,)

    def __init__(self, state: EmulatorState, catalog: CatalogStore, connections: ConnectionStore) -> None:
        super().__init__(state)
        self.catalog = catalog
        self.connections = connections
        self.runs: FlowRuns = _NoRuns()
        self.mappings: FlowMappings = _NoMappings()

    # ---- what other stores may read --------------------------------------------------------------

    def facts(self, key: SandboxKey, flow_id: str) -> FlowFacts | None:
        with self.state.lock:
            flow = self._table(key, FLOWS).get(flow_id)
            if flow is None:
                return None
            sp = flow.get("scheduleParams") or {}
            delta = copy_delta_column(flow)
            return FlowFacts(
                id=flow_id,
                state=flow["state"],
                flow_spec=dict(flow["flowSpec"]),
                frequency=str(sp.get("frequency") or sp.get("timeUnit") or ""),
                schedule=schedule_of(flow),
                delta_column=copy.deepcopy(delta) if delta is not None else None,
            )

    def needs_delta_column(self, key: SandboxKey, flow_id: str) -> bool:
        """Whether the flow reads a table-based source (its runs need a ``deltaColumn``)."""
        with self.state.lock:
            return self._table_based(key, self._get(key, FLOWS, flow_id))

    def record_delta_column(self, caller: Caller, flow_id: str, delta: dict[str, Any]) -> None:
        """Write a first run's ``deltaColumn`` into the flow's Copy transformation (the flow gets a new etag)."""
        with self.state.lock:
            flow = self._get(caller.key, FLOWS, flow_id)
            transformations = flow.setdefault("transformations", [])
            for tr in transformations:
                if isinstance(tr, dict) and str(tr.get("name", "")).lower() == "copy":
                    tr.setdefault("params", {})["deltaColumn"] = copy.deepcopy(delta)
                    break
            else:
                transformations.insert(0, {"name": "Copy", "params": {"deltaColumn": copy.deepcopy(delta)}})
            self.state.touch(flow, caller, "update")

    def flows_using(self, key: SandboxKey, source_ids: Collection[str], target_ids: Collection[str]) -> list[str]:
        with self.state.lock:
            return [
                flow["id"]
                for flow in self._table(key, FLOWS).values()
                if any(cid in source_ids for cid in flow.get("sourceConnectionIds") or [])
                or any(cid in target_ids for cid in flow.get("targetConnectionIds") or [])
            ]

    # ---- create ----------------------------------------------------------------------------------

    def create(self, caller: Caller, body: Any, draft: bool) -> dict[str, Any]:
        body = check_create_body(body)
        flow_spec = self.catalog.spec_ref(body, "flowSpec", "flow")
        self.catalog.check_draft_mode(flow_spec, draft, "flow")
        if "mode" in body:
            raise bad_request(
                "Mode is not allowed in flow request. Please check your request and try again.", "1368-400"
            )
        with self.state.lock:
            doc = copy.deepcopy(body)
            self._validate(caller.key, doc, flow_spec, draft)
            fields: Document = {
                "name": doc["name"],
                "description": doc.get("description", ""),
                "flowSpec": {"id": flow_spec["id"], "version": str(body["flowSpec"].get("version", "1.0"))},
                "state": "draft" if draft else "enabled",
                "sourceConnectionIds": list(doc.get("sourceConnectionIds") or []),
                "targetConnectionIds": list(doc.get("targetConnectionIds") or []),
                "transformations": copy.deepcopy(doc.get("transformations") or []),
            }
            if doc.get("scheduleParams"):
                fields["scheduleParams"] = doc["scheduleParams"]
            for extra in ("labels", "options"):
                if extra in doc:
                    fields[extra] = copy.deepcopy(doc[extra])
            entity = self._insert(caller, FLOWS, fields)
            entity["inheritedAttributes"] = self._inherited(caller.key, entity)
            entity["_lastOperation"] = {
                "started": entity["createdAt"],
                "updated": entity["createdAt"],
                "operation": "create",
            }
            self.runs.reschedule(caller.key, entity["id"])
            return {"id": entity["id"], "etag": entity["_etag"]}

    # ---- validation ------------------------------------------------------------------------------

    def _validate(self, key: SandboxKey, flow: Document, flow_spec: Document, draft: bool) -> None:
        """Validate a flow document (create, PATCH, publish). ``flow`` is modified (normalised)."""
        for field, collection in _CONNECTION_FIELDS:
            self._check_connections(key, flow, field, collection, flow_spec, draft)
        transformations = flow.get("transformations")
        if transformations is not None:
            if not isinstance(transformations, list):
                raise FlowServiceError("1392-400", "Bad Request", "Failed to parse Transformations in flow request.")
            for i, tr in enumerate(transformations):
                if not isinstance(tr, dict) or not tr.get("name"):
                    raise mandatory_field(f"transformations[{i}].name")
                if not isinstance(tr.get("params"), dict):
                    raise mandatory_field(f"transformations[{i}].params")
                problem = self.mappings.mapping_problem(key, tr["params"]) if _is_mapping(tr) else None
                if problem is not None:
                    raise bad_request(f"transformations[{i}]: {problem}")
        sp = validate_schedule(flow_spec, flow.get("scheduleParams"), required=not draft)
        if sp is not None:
            flow["scheduleParams"] = sp
        if draft or sp is None or not self._table_based(key, flow):
            return
        delta = copy_delta_column(flow)
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

    def _check_connections(
        self, key: SandboxKey, flow: Document, field: str, collection: str, flow_spec: Document, draft: bool
    ) -> None:
        """``sourceConnectionIds`` / ``targetConnectionIds``: present, existing, of an allowed spec, published."""
        ids = flow.get(field)
        if ids is None and draft:
            return
        if isinstance(ids, str):
            ids = [ids]
            flow[field] = ids
        kind = "source" if collection == SOURCES else "target"
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise FlowServiceError(
                "1338-400",
                "Bad Request",
                f"The {kind} connection ID can't be null in flowRequest. Please provide valid {kind} "
                "connection "
                "ID in flowRequest.",
            )
        allowed = flow_spec.get(f"{kind}ConnectionSpecIds") or []
        for cid in ids:
            conn = self.connections.ref(key, collection, cid)
            if conn is None:
                raise draft_order(
                    f"The {collection} resource {cid} referenced by {field} is not found. Verify the "
                    "resource ID "
                    "before trying again."
                )
            if conn.spec_id not in allowed:
                raise draft_order(
                    f"The {collection} resource {cid} has connection spec "
                    f"{conn.spec_id}, which "
                    f"flow spec {flow_spec['id']} ({flow_spec.get('name')}) does not allow in "
                    f"{field[:-3]}SpecIds."
                )
            if conn.state == "draft" and not draft:
                raise draft_order(
                    f"The {collection} resource {cid} is still in draft state. Publish it "
                    f"(POST /{collection}/{cid}/action?op=publish) before publishing or creating the "
                    "flow."
                )

    def _connections_of(
        self, key: SandboxKey, flow: Document, fields: tuple[tuple[str, str], ...] = _CONNECTION_FIELDS
    ) -> list[ConnectionRef]:
        """The flow's source connections, then its target connections (those that exist)."""
        refs = []
        for field, collection in fields:
            for cid in flow.get(field) or []:
                ref = self.connections.ref(key, collection, cid)
                if ref is not None:
                    refs.append(ref)
        return refs

    def _table_based(self, key: SandboxKey, flow: Document) -> bool:
        for conn in self._connections_of(key, flow, _CONNECTION_FIELDS[:1]):
            spec = self.catalog.connection_spec(conn.spec_id) or {}
            if self.catalog.table_based(spec) or conn.data_format == "tabular":
                return True
        return False

    def _inherited(self, key: SandboxKey, flow: Document) -> Document:
        out: Document = {SOURCES: [], TARGETS: []}
        for conn in self._connections_of(key, flow):
            item: Document = {"id": conn.id, "connectionSpec": conn.connection_spec}
            if conn.base is not None:
                item["baseConnection"] = conn.base
            out[conn.collection].append(item)
        return out

    # ---- reads -----------------------------------------------------------------------------------

    def _before_read(self, key: SandboxKey) -> None:
        self.runs.catch_up(key)

    def _render(self, key: SandboxKey, collection: str, entity: Document) -> Document:
        body = super()._render(key, collection, entity)
        body["runs"] = f"/runs?property=flowId=={entity['id']}"
        op = entity.get("_lastOperation") or {
            "started": entity["createdAt"],
            "updated": entity["createdAt"],
            "operation": "create",
        }
        body["lastOperation"] = {**op, "percentCompleted": 100.0, "status": {"value": "completed", "errors": []}}
        last = self.runs.last_run_details(key, entity["id"])
        if last is not None:
            body["lastRunDetails"] = last
        return body

    # ---- PATCH, actions, delete ------------------------------------------------------------------

    def _validate_patch(self, key: SandboxKey, collection: str, entity: Document, doc: Document, draft: bool) -> None:
        spec = self.catalog.flow_spec(entity["flowSpec"]["id"]) or {}
        if not isinstance(doc.get("name"), str) or not doc["name"].strip():
            raise mandatory_field("name")
        self._validate(key, doc, spec, draft=draft)
        doc["inheritedAttributes"] = self._inherited(key, doc)

    def _allowed_actions(self, collection: str) -> tuple[str, ...]:
        return ("publish", "enable", "disable")

    def _perform(self, caller: Caller, collection: str, entity: Document, op: str) -> dict[str, Any]:
        if op == "publish":
            return self._publish(caller, collection, entity)
        if entity["state"] == "draft":
            raise invalid_request(
                "1422-400",
                f"The action {op} cannot be applied on the current state draft. Publish the flow "
                "first "
                f"(POST /flows/{entity['id']}/action?op=publish).",
            )
        target = "enabled" if op == "enable" else "disabled"
        if entity["state"] == target:
            return {"id": entity["id"], "etag": entity["_etag"]}
        entity["state"] = target
        etag = self.state.touch(entity, caller, op)
        self._changed(caller.key, collection, entity, op)
        return {"id": entity["id"], "etag": etag}

    def _check_publishable(self, key: SandboxKey, collection: str, entity: Document) -> None:
        """A flow's connections must be published; then the full flow validation applies."""
        for conn in self._connections_of(key, entity):
            if conn.state == "draft":
                raise draft_order(
                    f"Cannot publish flow {entity['id']}: its {conn.collection[:-1]} {conn.id} is still in draft "
                    "state. Publish "
                    f"the source and target connections first (POST /{conn.collection}/{conn.id}/action?op=publish)."
                )
        spec = self.catalog.flow_spec(entity["flowSpec"]["id"]) or {}
        doc = {k: v for k, v in entity.items() if not k.startswith("_")}
        if not doc.get("scheduleParams") and "timeUnit" not in (
            (spec.get("scheduleSpec") or {}).get("spec", {}).get("properties") or {}
        ):
            # Adobe's drafts guide publishes a draft flow created without scheduleParams and documents
            # success: such a flow gets a one-time schedule starting when it is published.
            doc["scheduleParams"] = {"startTime": int(self.state.clock.now()), "frequency": "once"}
        self._validate(key, doc, spec, draft=False)
        if "scheduleParams" in doc:
            entity["scheduleParams"] = doc["scheduleParams"]

    def _changed(self, key: SandboxKey, collection: str, entity: Document, operation: str, ops: Any = None) -> None:
        if operation == "update":
            entity["_lastOperation"]["ops"] = copy.deepcopy(ops)
        elif operation == "publish":
            entity["inheritedAttributes"] = self._inherited(key, entity)
        self.runs.reschedule(key, entity["id"])

    def _deleted(self, key: SandboxKey, collection: str, entity_id: str) -> None:
        self.runs.reschedule(key, entity_id)
