"""The connections resource: base connections (``/connections``), source and target connections.

Other stores never see a connection's document: they get a :class:`ConnectionRef` (``ref``,
``require``). Deleting a connection a flow uses is refused; the flows store answers which flows
use which connections (``users``, wired in ``app.build_stores``).
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import FlowServiceError, draft_order, invalid_request, mandatory_field, not_found
from ..state import Caller, EmulatorState, SandboxKey
from .catalog import CatalogStore
from .entities import Document, EntityStore, check_create_body

BASE = "connections"
SOURCES = "sourceConnections"
TARGETS = "targetConnections"


@dataclass(frozen=True)
class ConnectionRef:
    """What another store may read of a connection."""

    id: str
    collection: str
    #: ``{"id", "version"}`` of its connection spec (a copy)
    connection_spec: dict[str, Any]
    state: str
    #: ``data.format`` of a source connection (``tabular``, ``delimited``, ...), lower case
    data_format: str
    #: ``{"id", "connectionSpec"}`` of its base connection, while that exists
    base: dict[str, Any] | None

    @property
    def spec_id(self) -> str:
        return str(self.connection_spec["id"])


class ConnectionUsers(Protocol):
    """Who uses connections (the flows store)."""

    def flows_using(self, key: SandboxKey, source_ids: Collection[str], target_ids: Collection[str]) -> list[str]:
        """Ids of the flows, oldest first, that name one of ``source_ids`` or ``target_ids``."""
        ...


class _NoUsers:
    def flows_using(self, key: SandboxKey, source_ids: Collection[str], target_ids: Collection[str]) -> list[str]:
        return []


def required_missing(spec: dict[str, Any] | None, params: Any) -> list[str]:
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


class ConnectionStore(EntityStore):
    """Base, source and target connections per sandbox."""

    collections = (BASE, SOURCES, TARGETS)

    def __init__(self, state: EmulatorState, catalog: CatalogStore) -> None:
        super().__init__(state)
        self.catalog = catalog
        self.users: ConnectionUsers = _NoUsers()

    # ---- what other stores may read --------------------------------------------------------------

    def ref(self, key: SandboxKey, collection: str, connection_id: str) -> ConnectionRef | None:
        with self.state.lock:
            conn = self._table(key, collection).get(connection_id)
            if conn is None:
                return None
            base_doc = self._table(key, BASE).get(conn.get("baseConnectionId") or "")
            base = None
            if base_doc is not None:  # a connectionSpec is {"id", "version"}: strings only
                base = {"id": base_doc["id"], "connectionSpec": dict(base_doc["connectionSpec"])}
            return ConnectionRef(
                id=connection_id,
                collection=collection,
                connection_spec=dict(conn["connectionSpec"]),
                state=conn["state"],
                data_format=str((conn.get("data") or {}).get("format", "")).lower(),
                base=base,
            )

    def require(self, key: SandboxKey, connection_id: str) -> ConnectionRef:
        """The base connection ``connection_id``, or 404."""
        found = self.ref(key, BASE, connection_id)
        if found is None:
            raise not_found(BASE, connection_id)
        return found

    # ---- create ----------------------------------------------------------------------------------

    def create(self, caller: Caller, collection: str, body: Any, draft: bool) -> dict[str, Any]:
        if collection == BASE:
            return self.create_base(caller, body, draft)
        return self.create_source_or_target(caller, collection, body, draft)

    def create_base(self, caller: Caller, body: Any, draft: bool) -> dict[str, Any]:
        body = check_create_body(body)
        spec = self.catalog.spec_ref(body, "connectionSpec", "connection")
        self.catalog.check_draft_mode(spec, draft, "connection")
        self._validate_auth(spec, body.get("auth"), complete=not draft)
        fields = {
            "name": body["name"],
            "description": body.get("description", ""),
            "connectionSpec": {"id": spec["id"], "version": str(body["connectionSpec"].get("version", "1.0"))},
            "state": "draft" if draft else "enabled",
            "auth": copy.deepcopy(body.get("auth")) if isinstance(body.get("auth"), dict) else {},
        }
        for extra in ("labels", "params"):
            if extra in body:
                fields[extra] = copy.deepcopy(body[extra])
        with self.state.lock:
            entity = self._insert(caller, BASE, fields)
            return {"id": entity["id"], "etag": entity["_etag"]}

    def create_source_or_target(self, caller: Caller, collection: str, body: Any, draft: bool) -> dict[str, Any]:
        body = check_create_body(body)
        spec = self.catalog.spec_ref(body, "connectionSpec", "connection")
        self.catalog.check_draft_mode(spec, draft, "connection")
        with self.state.lock:
            base = self._base_for(caller.key, body, spec, draft, collection)
            self._validate_params(spec, collection, body.get("params"), complete=not draft)
            fields: Document = {
                "name": body["name"],
                "description": body.get("description", ""),
                "state": "draft" if draft else "enabled",
                "connectionSpec": {"id": spec["id"], "version": str(body["connectionSpec"].get("version", "1.0"))},
                "data": copy.deepcopy(body.get("data") or {}),
                "params": copy.deepcopy(body.get("params") or {}),
            }
            if base is not None:
                fields["baseConnectionId"] = base["id"]
                fields["inheritedAttributes"] = {
                    "baseConnection": {"id": base["id"], "connectionSpec": copy.deepcopy(base["connectionSpec"])}
                }
            if "labels" in body:
                fields["labels"] = copy.deepcopy(body["labels"])
            entity = self._insert(caller, collection, fields)
            return {"id": entity["id"], "etag": entity["_etag"]}

    def _base_for(
        self, key: SandboxKey, body: Document, spec: Document, draft: bool, collection: str
    ) -> Document | None:
        """The base connection a source/target connection body names (checked), if any."""
        base_id = body.get("baseConnectionId")
        if not base_id:
            if self.catalog.requires_base_connection(spec) and not draft:
                raise mandatory_field("baseConnectionId")
            return None
        base = self._table(key, BASE).get(str(base_id))
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
                f"{'source' if collection == SOURCES else 'target'} connection on it."
            )
        return base

    def _validate_auth(self, spec: Document, auth: Any, complete: bool) -> None:
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
            missing = required_missing(chosen.get("spec"), auth.get("params"))
            if missing:
                raise mandatory_field(f"auth.params.{missing[0]}")

    @staticmethod
    def _validate_params(spec: Document, collection: str, params: Any, complete: bool) -> None:
        if not complete:
            return
        section = spec.get("sourceSpec" if collection == SOURCES else "targetSpec")
        if not isinstance(section, dict):
            return
        missing = required_missing(section.get("spec"), params)
        if missing:
            raise mandatory_field(f"params.{missing[0]}")

    # ---- reads -----------------------------------------------------------------------------------

    def _render(self, key: SandboxKey, collection: str, entity: Document) -> Document:
        body = super()._render(key, collection, entity)
        if collection == BASE:
            auth = self._masked_auth(entity)
            if auth:
                body["auth"] = auth
            else:
                body.pop("auth", None)
        return body

    def _masked_auth(self, entity: Document) -> Document:
        """The connection's ``auth`` with every ``format: password`` parameter of its auth spec as ``****``."""
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
            for name in list(params):
                if name.lower() in secret_names and params[name] is not None:
                    params[name] = "****"
        return auth

    def test(self, caller: Caller, connection_id: str) -> dict[str, Any]:
        """``GET /connections/{id}/test``."""
        self.require(caller.key, connection_id)
        return {"result": True}

    # ---- PATCH, publish, delete ------------------------------------------------------------------

    def _validate_patch(self, key: SandboxKey, collection: str, entity: Document, doc: Document, draft: bool) -> None:
        spec = self.catalog.connection_spec(entity["connectionSpec"]["id"]) or {}
        if collection == BASE:
            self._validate_auth(spec, doc.get("auth"), complete=not draft)
        else:
            self._validate_params(spec, collection, doc.get("params"), complete=not draft)

    def _missing(self, key: SandboxKey, collection: str, entity_id: str) -> FlowServiceError:
        err = not_found(collection, entity_id)
        if collection != BASE:
            return err
        # Adobe's drafts guide posts the publish of source/target connections to /connections/{id}/action.
        for other in (SOURCES, TARGETS):
            if entity_id in self._table(key, other):
                hint = f" {entity_id} is a {other[:-1]}: use POST /{other}/{entity_id}/action."
                err = FlowServiceError(err.code, err.title, err.message + hint, report_extra=err.report_extra)
        return err

    def _check_publishable(self, key: SandboxKey, collection: str, entity: Document) -> None:
        spec = self.catalog.connection_spec(entity["connectionSpec"]["id"]) or {}
        if collection == BASE:
            self._validate_auth(spec, entity.get("auth"), complete=True)
            return
        base_id = entity.get("baseConnectionId")
        kind = "source" if collection == SOURCES else "target"
        if base_id:
            base = self._table(key, BASE).get(base_id)
            if base is None:
                raise draft_order(f"The base connection {base_id} of this {kind} connection no longer exists.")
            if base["state"] == "draft":
                raise draft_order(
                    f"Cannot publish {kind} connection {entity['id']}: its base connection {base_id} is "
                    "still in "
                    "draft state. Publish the base connection first (POST "
                    f"/connections/{base_id}/action?op=publish)."
                )
        elif self.catalog.requires_base_connection(spec):
            raise mandatory_field("baseConnectionId")
        self._validate_params(spec, collection, entity.get("params"), complete=True)

    def _check_deletable(self, key: SandboxKey, collection: str, entity_id: str) -> None:
        if collection == BASE:
            on_base = {
                name: {cid for cid, conn in self._table(key, name).items() if conn.get("baseConnectionId") == entity_id}
                for name in (SOURCES, TARGETS)
            }
            users = self.users.flows_using(key, on_base[SOURCES], on_base[TARGETS])
            if users:
                raise invalid_request(
                    "1418-400",
                    f"The base connection with the ID {entity_id} cannot be deleted because "
                    "the base "
                    "connection is being used in one or more flows. Please ensure that "
                    "corresponding "
                    "flows are deleted before deleting a base connection (flow "
                    f"{users[0]}).",
                )
            return
        ids = {entity_id}
        users = self.users.flows_using(key, ids if collection == SOURCES else (), ids if collection == TARGETS else ())
        if users:
            raise invalid_request("1447-400", f"Found active flows containing id {entity_id}: {users}.")
