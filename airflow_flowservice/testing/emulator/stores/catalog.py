"""The catalog resource: connection specs, flow specs, the datasets a dataset export can list, and the
XDM schemas of the datasets (their field paths, which Data Prep mapping sets map into).

The specs are fixed tables (``catalog_data.py``, ``catalog_schemas.py``); the datasets can be replaced
by a test (``emu.seed_datasets``), schemas added (``emu.add_xdm_schema``). Other stores look specs up
here (``connection_spec``, ``flow_spec``, ``spec_ref``), ask what a spec allows (``check_draft_mode``,
``requires_base_connection``, ``table_based``), and read schemas (``xdm_schema``).
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import FlowServiceError, bad_request, draft_order, invalid_request, mandatory_field, not_found
from ..query import apply_query, parse_list_query
from ..state import EmulatorState
from .catalog_data import CONNECTION_SPECS, FLOW_SPECS, default_datasets
from .catalog_schemas import XDM_TYPES, XdmSchema, default_schemas

SPEC_KINDS = ("connectionSpecs", "flowSpecs")


def public_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``spec`` without the emulator-private ``_`` keys (top level only)."""
    return {k: copy.deepcopy(v) for k, v in spec.items() if not k.startswith("_")}


class CatalogStore:
    """Read-only specs (``connection_specs``, ``flow_specs``: id -> spec) and the replaceable datasets."""

    def __init__(
        self,
        state: EmulatorState,
        connection_specs: list[dict[str, Any]] | None = None,
        flow_specs: list[dict[str, Any]] | None = None,
    ) -> None:
        self.state = state
        self.connection_specs: dict[str, dict[str, Any]] = {
            s["id"]: s for s in (connection_specs if connection_specs is not None else CONNECTION_SPECS)
        }
        self.flow_specs: dict[str, dict[str, Any]] = {
            s["id"]: s for s in (flow_specs if flow_specs is not None else FLOW_SPECS)
        }
        # The specs never change: their public documents are built once, and each answer gets fresh copies.
        self._public = {
            "connectionSpecs": [public_spec(s) for s in self.connection_specs.values()],
            "flowSpecs": [public_spec(s) for s in self.flow_specs.values()],
        }
        self.datasets: list[dict[str, Any]] = default_datasets()
        self.xdm_schemas: dict[str, XdmSchema] = {s.id: s for s in default_schemas()}

    # ---- lookups for the other stores ------------------------------------------------------------

    def connection_spec(self, spec_id: str) -> dict[str, Any] | None:
        return self.connection_specs.get(spec_id)

    def flow_spec(self, spec_id: str) -> dict[str, Any] | None:
        return self.flow_specs.get(spec_id)

    @staticmethod
    def draft_supported(spec: dict[str, Any]) -> bool:
        return bool(spec.get("attributes", {}).get("isDraftModeSupported", False))

    @staticmethod
    def requires_base_connection(spec: dict[str, Any]) -> bool:
        if "_requiresBaseConnection" in spec:
            return bool(spec["_requiresBaseConnection"])
        return True

    @staticmethod
    def table_based(spec: dict[str, Any]) -> bool:
        return bool(spec.get("_tableBased", False))

    def spec_ref(self, body: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
        """The spec a create body names in ``body[key]["id"]`` (``kind``: ``connection`` or ``flow``)."""
        ref = body.get(key)
        if not isinstance(ref, dict) or not ref.get("id"):
            raise mandatory_field(f"{key}.id")
        spec = self.connection_spec(str(ref["id"])) if kind == "connection" else self.flow_spec(str(ref["id"]))
        if spec is None:
            raise invalid_request(
                "1413-400",
                f"The spec ID provided is invalid. {key}.id={ref['id']} is not a known "
                f"{'connection' if kind == 'connection' else 'flow'} spec. Please provide a valid spec ID "
                "and try again.",
            )
        return spec

    def check_draft_mode(self, spec: dict[str, Any], draft: bool, what: str) -> None:
        """``mode=draft`` only where the spec's ``attributes.isDraftModeSupported`` is true."""
        if draft and not self.draft_supported(spec):
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

    # ---- the catalog's own endpoints -------------------------------------------------------------

    def list_specs(self, kind: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        q = parse_list_query(params, max_limit=1000)
        items = [{**spec, "_seq": i} for i, spec in enumerate(self._public[kind])]
        body = apply_query(items, q, kind, default_order="+_seq", seq=lambda it: int(it.get("_seq", 0)))
        for it in body.get("items", []):
            it.pop("_seq", None)
        return body

    def retrieve_spec(self, kind: str, spec_id: str) -> dict[str, Any]:
        spec = self.connection_spec(spec_id) if kind == "connectionSpecs" else self.flow_spec(spec_id)
        if spec is None:
            raise not_found(kind, spec_id)
        return {"items": [public_spec(spec)]}

    def dataset_configs(self, spec_id: str, params: dict[str, str]) -> dict[str, Any]:
        """``GET /connectionSpecs/{id}/configs``: the datasets of the data lake source spec."""
        spec = self.connection_spec(spec_id)
        if spec is None:
            raise not_found("connectionSpecs", spec_id)
        if "configs" not in (spec.get("attributes") or {}):
            raise FlowServiceError(
                "1372-400",
                "Bad Request",
                f"The current operation is not allowed. Configs are not available for connection spec ID={spec_id}.",
            )
        with self.state.lock:
            datasets = list(self.datasets)
        return activation_datasets(datasets, params)

    # ---- control ---------------------------------------------------------------------------------

    def seed_datasets(self, datasets: list[dict[str, Any]]) -> None:
        with self.state.lock:
            self.datasets = [copy.deepcopy(d) for d in datasets]

    def reset(self) -> None:
        with self.state.lock:
            self.datasets = default_datasets()
            self.xdm_schemas = {s.id: s for s in default_schemas()}

    # ---- the XDM schemas of the datasets (what Data Prep maps into) --------------------------------

    def xdm_schema(self, schema_id: str) -> XdmSchema | None:
        """The schema of ``$id`` ``schema_id`` (a copy), ``None`` for one the catalog does not know."""
        with self.state.lock:
            found = self.xdm_schemas.get(schema_id)
            return copy.deepcopy(found) if found is not None else None

    def xdm_schema_of_dataset(self, dataset_id: str) -> XdmSchema | None:
        """The schema a dataset follows (a copy), ``None`` for a dataset the catalog knows no schema of."""
        with self.state.lock:
            found = next((s for s in self.xdm_schemas.values() if dataset_id in s.datasets), None)
            return copy.deepcopy(found) if found is not None else None

    def list_xdm_schemas(self) -> list[XdmSchema]:
        with self.state.lock:
            return [copy.deepcopy(s) for _, s in sorted(self.xdm_schemas.items())]

    def add_xdm_schema(
        self, schema_id: str, fields: dict[str, str], title: str = "", datasets: list[str] | None = None
    ) -> None:
        """Add (or replace) a schema: ``fields`` maps each leaf path (``person.name.firstName``) to its JSON type."""
        if not isinstance(schema_id, str) or "://" not in schema_id:
            raise ValueError(f"schema_id must be a schema $id (a URI), got {schema_id!r}")
        bad = {path: kind for path, kind in fields.items() if kind not in XDM_TYPES or not str(path).strip()}
        if bad:
            raise ValueError(f"fields must map field paths to one of {XDM_TYPES}; bad: {bad}")
        with self.state.lock:
            self.xdm_schemas[schema_id] = XdmSchema(schema_id, title or schema_id, dict(fields), list(datasets or []))


def _bad(code: str, message: str) -> FlowServiceError:
    return FlowServiceError(code, "Bad Request", message)


def activation_datasets(datasets: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    """``GET /connectionSpecs/{data lake source}/configs?outputType=activationDatasets&outputField=datasets``.

    ``start``/``limit`` page the list (``pageInfo.end`` is the index of the last item returned).
    ``properties`` (a Catalog Service parameter) is accepted but, as in Adobe's dataset-export guide response, the full
    dataset objects are returned.
    """
    if params.get("outputType") != "activationDatasets" or params.get("outputField") != "datasets":
        raise _bad(
            "1359-400",
            "The param outputType=activationDatasets and outputField=datasets is missing in the request. "
            "Please "
            "provide a valid outputType and outputField and try again.",
        )
    try:
        start = int(params.get("start", "0"))
        limit = int(params.get("limit", "20"))
    except ValueError as exc:
        raise _bad("1312-400", "The provided param value is not a valid input for property=start/limit.") from exc
    if start < 0 or limit < 1:
        raise _bad(
            "1394-400",
            "The minimum value for a parameter limit is one. Please provide a valid limit and try again.",
        )
    items = [dict(ds) for ds in datasets[start : start + limit]]
    return {
        "items": items,
        "pageInfo": {
            "start": start,
            "end": start + len(items) - 1 if items else start,
            "total": len(datasets),
            "hasNext": start + len(items) < len(datasets),
        },
    }
