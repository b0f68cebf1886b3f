"""What the entity stores (connections, flows) share: documents per sandbox, reads, lists, PATCH, actions, delete.

A subclass names its ``collections`` and fills in the hooks (``_render``, ``_validate_patch``,
``_check_publishable``, ``_check_deletable``, ``_changed``, ``_deleted``); creation is its own.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import FlowServiceError, invalid_request, mandatory_field, not_found
from ..patch import apply_patch
from ..query import apply_query, parse_list_query
from ..state import Caller, EmulatorState, PerSandbox, SandboxKey

#: Top-level fields the service sets: never accepted in a PATCH.
READ_ONLY_FIELDS = frozenset(
    {
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
        "flowSpec",
        "connectionSpec",
        "baseConnectionId",
    }
)

Document = dict[str, Any]


def check_create_body(body: Any) -> dict[str, Any]:
    """The checks every create body passes: a non-empty object, no ``state``, a ``name``."""
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


def check_if_match(entity: Document, if_match: str | None, required: bool) -> None:
    """``If-Match`` against the entity's etag (``*`` matches any); 412 ``1404-412`` when stale."""
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


class EntityStore:
    """Documents of ``collections``, per sandbox. Every public method holds the shared lock."""

    collections: tuple[str, ...] = ()

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._tables: PerSandbox[dict[str, dict[str, Document]]] = PerSandbox(state, self._new_tables)

    def _new_tables(self) -> dict[str, dict[str, Document]]:
        return {name: {} for name in self.collections}

    def _table(self, key: SandboxKey, collection: str) -> dict[str, Document]:
        return self._tables[key][collection]

    def _get(self, key: SandboxKey, collection: str, entity_id: str) -> Document:
        entity = self._table(key, collection).get(entity_id)
        if entity is None:
            raise self._missing(key, collection, entity_id)
        return entity

    def _insert(self, caller: Caller, collection: str, fields: Document) -> Document:
        """A new entity of ``collection``: the audit fields, then ``fields``."""
        entity = self.state.audit_fields(caller, self.state.new_id())
        entity.update(fields)
        self._table(caller.key, collection)[entity["id"]] = entity
        return entity

    # ---- hooks -----------------------------------------------------------------------------------

    def _missing(self, key: SandboxKey, collection: str, entity_id: str) -> FlowServiceError:
        return not_found(collection, entity_id)

    def _before_read(self, key: SandboxKey) -> None:
        """Called before a retrieve or a list (flows: create the scheduled runs that are due)."""

    def _render(self, key: SandboxKey, collection: str, entity: Document) -> Document:
        """The public document: the entity without its private ``_`` fields, with ``version``/``etag``."""
        body = {k: copy.deepcopy(v) for k, v in entity.items() if not k.startswith("_")}
        body["version"] = entity["_etag"]
        body["etag"] = entity["_etag"]
        return body

    def _validate_patch(self, key: SandboxKey, collection: str, entity: Document, doc: Document, draft: bool) -> None:
        """Check (and normalise) the patched document ``doc`` before it replaces ``entity``."""

    def _allowed_actions(self, collection: str) -> tuple[str, ...]:
        return ("publish",)

    def _perform(self, caller: Caller, collection: str, entity: Document, op: str) -> dict[str, Any]:
        """Apply an action already checked against ``_allowed_actions``."""
        return self._publish(caller, collection, entity)

    def _check_publishable(self, key: SandboxKey, collection: str, entity: Document) -> None:
        """Raise if the draft ``entity`` cannot be published yet."""

    def _changed(self, key: SandboxKey, collection: str, entity: Document, operation: str, ops: Any = None) -> None:
        """Called after an update, a publish or a state change (``operation``); ``ops`` of a PATCH."""

    def _check_deletable(self, key: SandboxKey, collection: str, entity_id: str) -> None:
        """Raise if something still uses the entity."""

    def _deleted(self, key: SandboxKey, collection: str, entity_id: str) -> None:
        """Called after the entity was deleted."""

    # ---- endpoints -------------------------------------------------------------------------------

    def retrieve(self, caller: Caller, collection: str, entity_id: str) -> dict[str, Any]:
        with self.state.lock:
            self._before_read(caller.key)
            return {"items": [self._render(caller.key, collection, self._get(caller.key, collection, entity_id))]}

    def list_entities(self, caller: Caller, collection: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        q = parse_list_query(params)
        with self.state.lock:
            self._before_read(caller.key)
            items = []
            for entity in self._table(caller.key, collection).values():
                rendered = self._render(caller.key, collection, entity)
                rendered["_seq"] = entity["_seq"]
                items.append(rendered)
        body = apply_query(items, q, collection, seq=lambda it: int(it.get("_seq", 0)))
        for it in body.get("items", []):
            it.pop("_seq", None)
        return body

    def patch(self, caller: Caller, collection: str, entity_id: str, ops: Any, if_match: str | None) -> dict[str, Any]:
        """JSON-Patch ``ops`` with ``If-Match``; the patched document is validated like a create."""
        with self.state.lock:
            entity = self._get(caller.key, collection, entity_id)
            check_if_match(entity, if_match, required=True)
            if isinstance(ops, list):
                for op in ops:
                    path = str(op.get("path", "")) if isinstance(op, dict) else ""
                    if path.split("/")[1:2] == ["connectionSpec"]:
                        raise invalid_request("1414-400", "The connection spec of a connection cannot be updated.")
            public = {k: v for k, v in entity.items() if not k.startswith("_")}
            doc = apply_patch(public, ops, set(READ_ONLY_FIELDS))
            self._validate_patch(caller.key, collection, entity, doc, draft=entity["state"] == "draft")
            for name in list(entity):
                if not name.startswith("_") and name not in doc:
                    del entity[name]
            entity.update(doc)
            etag = self.state.touch(entity, caller, "update")
            self._changed(caller.key, collection, entity, "update", ops)
            return {"id": entity_id, "etag": etag}

    def action(
        self, caller: Caller, collection: str, entity_id: str, op: str | None, if_match: str | None
    ) -> dict[str, Any]:
        """``POST /{collection}/{id}/action?op=``: publish (and, on flows, enable / disable)."""
        op_norm = (op or "").strip().lower().replace("-", "_")
        with self.state.lock:
            entity = self._table(caller.key, collection).get(entity_id)
            if entity is None:
                raise self._missing(caller.key, collection, entity_id)
            if not op_norm:
                raise FlowServiceError(
                    "1334-400",
                    "Bad Request",
                    "The query param : op cannot be empty. Please provide valid op and try again.",
                )
            allowed = self._allowed_actions(collection)
            if op_norm not in allowed:
                raise FlowServiceError(
                    "1398-400",
                    "Bad Request",
                    f"The provided operation : {op} is unsupported. Supported operations on {collection}: "
                    f"{[a.upper() for a in allowed]}.",
                )
            check_if_match(entity, if_match, required=False)
            return self._perform(caller, collection, entity, op_norm)

    def _publish(self, caller: Caller, collection: str, entity: Document) -> dict[str, Any]:
        if entity["state"] != "draft":
            # Already published: accepted idempotently, nothing changes (same etag).
            return {"id": entity["id"], "etag": entity["_etag"]}
        self._check_publishable(caller.key, collection, entity)
        entity["state"] = "enabled"
        etag = self.state.touch(entity, caller, "publish")
        self._changed(caller.key, collection, entity, "publish")
        return {"id": entity["id"], "etag": etag}

    def delete(self, caller: Caller, collection: str, entity_id: str) -> None:
        with self.state.lock:
            self._get(caller.key, collection, entity_id)
            self._check_deletable(caller.key, collection, entity_id)
            del self._table(caller.key, collection)[entity_id]
            self._deleted(caller.key, collection, entity_id)

    # ---- control ---------------------------------------------------------------------------------

    def counts(self, key: SandboxKey) -> dict[str, int]:
        """How many entities of each collection the sandbox holds."""
        with self.state.lock:
            tables = self._tables.get(key)
            return {name: len(tables[name]) if tables else 0 for name in self.collections}

    def reset(self) -> None:
        with self.state.lock:
            self._tables.clear()
