"""The Conversion Service (Data Prep) of the emulator: mapping sets per (org, sandbox), with their versions.

Follows Adobe's Data Prep API spec (``data-prep.yaml``) and its "Mapping sets endpoint" guide:
``POST /mappingSets`` answers 200 with ``{id, version: 0, createdDate, ...}``; ``PUT`` replaces a set and
gives it the next version; ``GET ?version=`` reads an older one; ``validate`` answers one
``{status, errors}`` per mapping; ``preview`` maps sample rows. Where the guide and the spec differ, the
guide's payloads are served (dates in epoch ms, stored mappings' ``sourceType`` as ``text/x.schema-path``,
a preview as one ``{data, errors}`` per row, a set's mappings as a bare array), as the Flow Service side
of the emulator does (``tests/emulator/test_conversion.py`` lists each deviation).

Every ``destination`` must be a field of the output schema (the catalog's XDM schemas,
``catalog_schemas.py``), every ``EXPRESSION`` must parse (``expressions.py``); an unknown ``sourceType``
or output schema refuses the whole request. The error codes (``MAPPER-1000-400``...) are the emulator's:
the Conversion Service's are not documented. The flows store asks
:meth:`ConversionStore.mapping_problem` about a flow's ``Mapping`` transformation.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ..errors import EmulatorHTTPError
from ..state import Caller, EmulatorState, PerSandbox, SandboxKey
from .catalog import CatalogStore
from .catalog_schemas import XdmSchema
from .expressions import FUNCTIONS, ExpressionError, NotEvaluated, evaluate, field_value, parse

SOURCE_TYPES = ("ATTRIBUTE", "EXPRESSION", "STATIC")
# How the guide shows a stored mapping's sourceType (GET); requests may use either spelling.
_MEDIA = {"ATTRIBUTE": "text/x.schema-path", "EXPRESSION": "text/x.aep-xl"}
_FROM_MEDIA = {v: k for k, v in _MEDIA.items()}
MAPPER_ERROR_TYPE = "https://ns.adobe.com/aep/errors/MAPPER-{code}"


class ConversionError(EmulatorHTTPError):
    """A Conversion Service error, in the Platform's problem shape: ``{type, title, status, detail, report}``."""

    def __init__(self, code: str, title: str, message: str) -> None:
        super().__init__(f"MAPPER-{code}: {message}")
        self.code = code
        self.title = title
        self.message = message
        self.status = int(code.rsplit("-", 1)[1])

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "type": MAPPER_ERROR_TYPE.format(code=self.code),
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            "report": {"detailed-message": self.message, "request-id": request_id},
        }


def bad_request(message: str) -> ConversionError:
    return ConversionError("1000-400", "Bad Request", message)


def not_found(message: str) -> ConversionError:
    return ConversionError("1003-404", "Not Found", message)


def source_type_of(value: Any, where: str) -> str:
    """``ATTRIBUTE``, ``EXPRESSION`` or ``STATIC`` (media-type spellings accepted); else the request is refused."""
    text = str(value).strip() if isinstance(value, str) else ""
    name = _FROM_MEDIA.get(text.lower(), text.upper())
    if name not in SOURCE_TYPES:
        raise bad_request(
            f"Cannot deserialize {where}.sourceType {value!r}: not one of the values accepted for Enum class "
            f"SourceType: [{', '.join(SOURCE_TYPES)}]."
        )
    return name


def _error(mapping: dict[str, Any], exception: str) -> dict[str, Any]:
    """A ``TransformErrorInfo`` for one mapping."""
    return {
        "source": mapping.get("source"),
        "destination": mapping.get("destination"),
        "sourceType": mapping.get("sourceType"),
        "exception": exception,
    }


def _path(text: str) -> list[str]:
    """A source attribute's path (``${First Name}`` and ``a\\.b`` escapes as in expressions)."""
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current, escaped = current + ch, False
        elif ch == "\\":
            escaped = True
        elif ch == ".":
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def _coerce(value: Any, kind: str) -> Any:
    """A value as the XDM field's JSON type (the guide's preview maps ``1234`` to ``"1234"`` for a string)."""
    if kind == "string":
        return (
            value
            if isinstance(value, str)
            else ("true" if value is True else "false" if value is False else str(value))
        )
    if kind == "integer":
        return int(float(value)) if isinstance(value, str) else int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean" and isinstance(value, str):
        if value.strip().lower() not in ("true", "false"):
            raise ValueError(f"{value!r} is not a boolean")
        return value.strip().lower() == "true"
    return value


def _put(record: dict[str, Any], destination: str, value: Any) -> None:
    node = record
    *parents, leaf = destination.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


class ConversionStore:
    """The mapping sets of every sandbox (each a list of versions), checked against the catalog's XDM schemas."""

    def __init__(self, state: EmulatorState, catalog: CatalogStore) -> None:
        self.state = state
        self.catalog = catalog
        self._sets: PerSandbox[dict[str, list[dict[str, Any]]]] = PerSandbox(state, dict)

    @property
    def lock(self) -> Any:
        return self.state.lock

    def reset(self) -> None:
        with self.lock:
            self._sets.clear()

    def _scope(self, org_id: str, sandbox: str) -> dict[str, list[dict[str, Any]]]:
        return self._sets[(org_id, sandbox)]

    # ---- reading a request --------------------------------------------------------------------

    def _read_set(self, body: Any, where: str = "") -> tuple[XdmSchema, dict[str, Any], list[dict[str, Any]]]:
        """The output schema, its ``schemaRef`` and the mappings of a mapping-set body; refuses what cannot be read."""
        prefix = f"{where}." if where else ""
        if not isinstance(body, dict):
            raise bad_request(
                f"The request body must be a mapping set {{outputSchema, mappings}}, got {type(body).__name__}."
            )
        ref = (
            ((body.get("outputSchema") or {}).get("schemaRef") or {})
            if isinstance(body.get("outputSchema"), dict)
            else {}
        )
        schema_id = ref.get("id") if isinstance(ref, dict) else None
        if not schema_id:
            raise bad_request(f"{prefix}outputSchema.schemaRef.id is required: the $id of the XDM schema to map into.")
        schema = self.catalog.xdm_schema(str(schema_id))
        if schema is None:
            raise ConversionError(
                "1001-400", "Bad Request", f"The output schema {schema_id} is not found in the Schema Registry."
            )
        raw = body.get("mappings")
        if not isinstance(raw, list) or not raw or not all(isinstance(m, dict) for m in raw):
            raise bad_request(f"{prefix}mappings must be a non-empty array of mappings.")
        mappings = []
        for i, m in enumerate(raw):
            item = {k: m[k] for k in ("source", "destination", "name", "description") if m.get(k) is not None}
            item["sourceType"] = source_type_of(m.get("sourceType", "ATTRIBUTE"), f"{prefix}mappings[{i}]")
            mappings.append(item)
        content_type = ref.get("contentType") or "application/vnd.adobe.xed-full+json;version=1"
        return schema, {"id": schema.id, "contentType": content_type}, mappings

    def _problems(self, schema: XdmSchema, mapping: dict[str, Any], earlier: dict[str, int]) -> list[str]:
        """Why a mapping cannot map (``[]`` when it can): source, destination in the schema, expression syntax."""
        found: list[str] = []
        source, destination = mapping.get("source"), mapping.get("destination")
        if not isinstance(source, str) or not source.strip():
            found.append("source is required")
        elif mapping["sourceType"] == "EXPRESSION":
            try:
                parse(source)
            except ExpressionError as exc:
                found.append(f"Invalid expression {source!r}: {exc}")
        if not isinstance(destination, str) or not destination.strip():
            found.append("destination is required")
        elif destination not in schema.fields:
            found.append(f"The destination path {destination!r} is not a field of the schema {schema.id}")
        elif destination in earlier:
            found.append(f"The destination path {destination!r} is already mapped by mappings[{earlier[destination]}]")
        return found

    def _checks(self, schema: XdmSchema, mappings: list[dict[str, Any]]) -> list[list[str]]:
        earlier: dict[str, int] = {}
        results = []
        for i, mapping in enumerate(mappings):
            results.append(self._problems(schema, mapping, earlier))
            earlier.setdefault(str(mapping.get("destination")), i)
        return results

    # ---- endpoints ----------------------------------------------------------------------------

    def validate(self, who: Caller, body: Any) -> dict[str, Any]:
        """``POST /mappingSets/validate``: one ``{status, errors}`` per mapping."""
        schema, _, mappings = self._read_set(body)
        response = []
        for mapping, problems in zip(mappings, self._checks(schema, mappings), strict=True):
            errors = [_error(mapping, p) for p in problems] or None
            response.append({"status": "FAILED" if errors else "SUCCESS", "errors": errors})
        return {"validationResponse": response}

    def _checked(self, body: Any) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
        schema, ref, mappings = self._read_set(body)
        problems = [
            f"mappings[{i}] ({m.get('source')} -> {m.get('destination')}): {'; '.join(p)}"
            for i, (m, p) in enumerate(zip(mappings, self._checks(schema, mappings), strict=True))
            if p
        ]
        if problems:
            raise ConversionError("1002-400", "Bad Request", "The mapping set is not valid: " + "; ".join(problems))
        name = body.get("name") if isinstance(body.get("name"), str) else None
        return ref, mappings, name

    def _version(
        self,
        who: Caller,
        set_id: str,
        number: int,
        ref: dict[str, Any],
        mappings: list[dict[str, Any]],
        name: str | None,
    ) -> dict[str, Any]:
        # The spec types the dates date-time strings; the guide's payloads have epoch ms: the guide's are served.
        now, user = self.state.clock.now_ms(), f"{who.client_id}@AdobeID"
        audit = {"createdDate": now, "modifiedDate": now, "createdBy": user, "modifiedBy": user}
        stored = [{"id": uuid.uuid4().hex, "version": 0, **audit, **m} for m in mappings]
        doc: dict[str, Any] = {"id": set_id, "version": number, **audit, "schemaRef": ref, "mappings": stored}
        if name:
            doc["name"] = name
        return doc

    def create(self, who: Caller, body: Any) -> dict[str, Any]:
        """``POST /mappingSets``: version 0 of a new set; the answer is ``SimpleRepresentation``."""
        ref, mappings, name = self._checked(body)
        with self.lock:
            set_id = uuid.uuid4().hex
            doc = self._version(who, set_id, 0, ref, mappings, name)
            self._scope(who.org_id, who.sandbox)[set_id] = [doc]
            return {k: doc[k] for k in ("id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy")}

    def _versions(self, who: Caller, set_id: str) -> list[dict[str, Any]]:
        versions = self._scope(who.org_id, who.sandbox).get(set_id)
        if versions is None:
            raise not_found(f"The mapping set {set_id} is not found.")
        return versions

    def put(self, who: Caller, set_id: str, body: Any) -> dict[str, Any]:
        """``PUT /mappingSets/{id}``: the body replaces the set, as its next version."""
        ref, mappings, name = self._checked(body)
        with self.lock:
            versions = self._versions(who, set_id)
            doc = self._version(who, set_id, len(versions), ref, mappings, name)
            doc["createdDate"], doc["createdBy"] = versions[0]["createdDate"], versions[0]["createdBy"]
            versions.append(doc)
            return self._render(doc, expand=False)

    def get(self, who: Caller, set_id: str, version: str | None, expand: bool) -> dict[str, Any]:
        """``GET /mappingSets/{id}[?version=n]``: the latest version unless ``version``."""
        with self.lock:
            versions = self._versions(who, set_id)
            if version is None:
                return self._render(versions[-1], expand)
            if not version.strip().isdigit():
                raise bad_request(f"The query param version={version} is not a version number.")
            if int(version) >= len(versions):
                raise not_found(
                    f"The mapping set {set_id} has no version {int(version)} (its latest is {len(versions) - 1})."
                )
            return self._render(versions[int(version)], expand)

    def _render(self, doc: dict[str, Any], expand: bool) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in doc.items() if k not in ("schemaRef", "mappings")}
        ref = dict(doc["schemaRef"])
        output: dict[str, Any] = {"id": uuid.uuid5(uuid.NAMESPACE_URL, ref["id"]).hex, "version": 0, "schemaRef": ref}
        schema = self.catalog.xdm_schema(ref["id"]) if expand else None
        if schema is not None:
            output["jsonSchema"] = schema.json_schema()
        out.update(
            {"supportVersion": "1.1", "outputSchema": output, "mappings": [self._mapping(m) for m in doc["mappings"]]}
        )
        out.update({"status": "PUBLISHED", "strictMapping": False, "allowNullValues": False})
        out.update({"xdmVersion": ref["contentType"], "schemaRef": dict(ref), "xdmSchema": ref["id"]})
        return out

    @staticmethod
    def _mapping(stored: dict[str, Any]) -> dict[str, Any]:
        out = dict(stored)
        out["sourceType"] = _MEDIA.get(stored["sourceType"], stored["sourceType"])
        out.update({"identity": False, "primaryIdentity": False, "matchScore": 0.0, "functionVersion": 1})
        out.update({"sourceAttribute": stored.get("source"), "destinationXdmPath": stored.get("destination")})
        return out

    def list_sets(self, who: Caller, query: dict[str, str]) -> dict[str, Any]:
        """``GET /mappingSets?limit=&start=[&name=][&orderBy=]``: the latest version of each set."""
        try:
            limit, start = int(query["limit"]), int(query["start"])
        except (KeyError, ValueError):
            raise bad_request(
                "The query params limit and start are required whole numbers (e.g. limit=10&start=0)."
            ) from None
        with self.lock:
            latest = [versions[-1] for versions in self._scope(who.org_id, who.sandbox).values()]
            if query.get("name"):
                latest = [d for d in latest if d.get("name") == query["name"]]
            order = query.get("orderBy") or "-updatedDate"
            key = "createdDate" if "created" in order else "modifiedDate"
            latest.sort(key=lambda d: d[key], reverse=not order.startswith("+"))
            page = [self._render(d, query.get("expandSchema") == "true") for d in latest[start : start + limit]]
            return {"data": page, "_page": {"count": len(page), "limit": limit}, "_links": {}}

    def mappings(self, who: Caller, set_id: str, mapping_id: str | None = None) -> Any:
        """``GET /mappingSets/{id}/mappings[/{mappingId}]`` (the latest version's)."""
        with self.lock:
            found = [self._mapping(m) for m in self._versions(who, set_id)[-1]["mappings"]]
        if mapping_id is None:
            return found  # the spec types it one MappingOperation; the guide shows a list: the guide's is served
        one = next((m for m in found if m["id"] == mapping_id), None)
        if one is None:
            raise not_found(f"The mapping {mapping_id} is not in the mapping set {set_id}.")
        return one

    def preview(self, who: Caller, body: Any) -> list[dict[str, Any]]:
        """``POST /mappingSets/preview``: ``data`` (rows) mapped by ``mappingSet``; one ``{data, errors}`` per row."""
        if not isinstance(body, dict) or "mappingSet" not in body:
            raise bad_request("The request body must be {data: [rows], mappingSet: {outputSchema, mappings}}.")
        schema, _, mappings = self._read_set(body["mappingSet"], "mappingSet")
        rows = body.get("data")
        rows = [rows] if isinstance(rows, dict) else rows
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise bad_request("data must be an array of sample records (JSON objects).")
        checks = self._checks(schema, mappings)
        # The spec answers one PreviewResponse; the guide answers one per sample row: the guide's is served.
        return [self._preview_row(schema, mappings, checks, row) for row in rows]

    @staticmethod
    def _preview_row(
        schema: XdmSchema, mappings: list[dict[str, Any]], checks: list[list[str]], row: dict[str, Any]
    ) -> dict[str, Any]:
        record: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for mapping, problems in zip(mappings, checks, strict=True):
            if problems:
                errors.extend(_error(mapping, p) for p in problems)
                continue
            source, destination = str(mapping["source"]), str(mapping["destination"])
            try:
                if mapping["sourceType"] == "ATTRIBUTE":
                    value = field_value(row, _path(source))
                elif mapping["sourceType"] == "EXPRESSION":
                    value = evaluate(parse(source), row)
                else:
                    value = source
                if value is not None:
                    _put(record, destination, _coerce(value, schema.fields[destination]))
            except NotEvaluated as exc:
                errors.append(_error(mapping, f"the emulator does not evaluate {exc}() (the expression is valid)"))
            except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
                errors.append(_error(mapping, f"Cannot map the value: {type(exc).__name__}: {exc}"))
        return {"data": record, "errors": errors or None}

    # ---- functions (the expression language) --------------------------------------------------

    @staticmethod
    def validate_expression(body: Any) -> bool:
        """``POST /languages/el/validate``: whether the expression parses (the spec's example nests it once more)."""
        expression = body.get("expression") if isinstance(body, dict) else None
        if isinstance(expression, dict):
            expression = expression.get("expression")
        if not isinstance(expression, str):
            raise bad_request("expression is required: the expression to validate, as a string.")
        try:
            parse(expression)
        except ExpressionError:
            return False
        return True

    @staticmethod
    def functions() -> list[dict[str, Any]]:
        """``GET /languages/el/functions``."""
        return [{"function": name, "syntax": f"{name}(...)", "since": 1} for name in sorted(FUNCTIONS)]

    @staticmethod
    def operators() -> list[dict[str, Any]]:
        """``GET /languages/el/operators``."""
        names = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "mod", "!": "not"}
        names.update({"==": "equals", "!=": "notEquals", "<": "lessThan", ">": "greaterThan", "&&": "and", "||": "or"})
        return [
            {"operatorSymbol": sym, "methodName": name, "numberOfOperands": 1 if sym == "!" else 2}
            for sym, name in names.items()
        ]

    # ---- flows (read by the Flow Service side) ------------------------------------------------

    def mapping_problem(self, key: SandboxKey, params: Any) -> str | None:
        """Why a flow's ``Mapping`` transformation ``params`` cannot be used (``None`` when they can)."""
        if not isinstance(params, dict) or not params.get("mappingId"):
            return "The Mapping transformation needs params.mappingId, the id of a mapping set."
        set_id = str(params["mappingId"])
        with self.lock:
            tables = self._sets.get(key)
            versions = tables.get(set_id) if tables is not None else None
            if versions is None:
                return (
                    f"The mapping set {set_id} of the Mapping transformation is not found in this sandbox; create it "
                    "with POST /data/foundation/conversion/mappingSets."
                )
            version = params.get("mappingVersion")
            if version is None:
                return None
            text = str(version).strip()
            if not text.isdigit() or int(text) >= len(versions):
                return (
                    f"The mapping set {set_id} has no version {version!r} (its versions are 0 to {len(versions) - 1})."
                )
        return None
