"""The pydantic models that operators validate user input with, before any API call.

The models describe what the user writes (snake_case, flat spec ids); ``to_body()`` / ``to_params()``
/ ``to_api()`` give the API bodies (camelCase, nested ``connectionSpec``/``flowSpec`` references).
Errors become :class:`~airflow_flowservice.exceptions.FlowServiceConfigError` through
:func:`airflow_flowservice.validation.validate_input`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from airflow_flowservice.specs import (
    BUCKET_NAME_PATTERN,
    CONTAINER_NAME_PATTERN,
    DATA_PREP_UNSUPPORTED_SOURCES,
    DEFAULT_SCHEMA_CONTENT_TYPE,
    EXPORT_HOUR_INTERVALS,
    MAPPING_TRANSFORMATION,
    DestinationSpec,
    ExportCompression,
    ExportFileType,
    flow_specs_without_mapping,
)
from airflow_flowservice.validation import (
    _EXPORT_SCHEDULE,
    _SOURCE_SCHEDULE,
    FieldError,
    check_folder_path,
    parse_entity_id,
    parse_name,
    parse_spec_id,
    to_epoch_seconds,
    validate_input,
)

FREQUENCIES = ("once", "minute", "hour", "day", "week")
MIN_MINUTE_INTERVAL = 15

SpecId = Annotated[str, BeforeValidator(parse_spec_id)]
"""A connection-spec or flow-spec id (a UUID)."""
EntityId = Annotated[str, BeforeValidator(parse_entity_id)]
"""A base/source/target connection or flow id (a UUID)."""
Name = Annotated[str, BeforeValidator(parse_name)]
"""A non-empty entity name."""


def _schedule_kind(value: Any) -> str:
    """Which schedule a ``schedule_params`` value is: export flows use ``time_unit`` instead of ``frequency``."""
    if isinstance(value, ExportSchedule) or (
        isinstance(value, Mapping) and ("time_unit" in value or "timeUnit" in value)
    ):
        return _EXPORT_SCHEDULE
    return _SOURCE_SCHEDULE


def _positive_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number (got {value!r})")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _bool_text(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", loc_by_alias=False, defer_build=True)


# -- schedule ---------------------------------------------------------------------------------------


class ScheduleParamsInput(_Input):
    """``scheduleParams`` of a source flow, checked like the flow spec's ``scheduleSpec``.

    Accepts API spelling too (``startTime``). ``start_time`` is epoch **seconds** (an int, a digit
    string, an aware datetime or an ISO 8601 string with an offset); values above 1e11 are refused
    as milliseconds. ``frequency`` is ``once``, ``minute``, ``hour``, ``day`` or ``week``;
    ``interval`` is required unless ``once`` (where it and ``backfill`` are not allowed) and is at
    least 15 for ``minute``.
    """

    model_config = ConfigDict(
        extra="forbid", loc_by_alias=False, alias_generator=to_camel, populate_by_name=True, defer_build=True
    )

    start_time: Annotated[int, BeforeValidator(to_epoch_seconds)]
    frequency: str
    interval: Annotated[int | None, BeforeValidator(_positive_int)] = None
    backfill: Annotated[bool | None, BeforeValidator(_bool_text)] = None

    @field_validator("frequency", mode="before")
    @classmethod
    def _frequency(cls, value: Any) -> str:
        text = str(value).strip().lower() if isinstance(value, str) else None
        if text not in FREQUENCIES:
            raise ValueError(f"must be one of {', '.join(FREQUENCIES)} (got {value!r})")
        return text

    @model_validator(mode="after")
    def _rules(self) -> ScheduleParamsInput:
        given = self.model_fields_set
        if self.frequency == "once":
            if "interval" in given and self.interval is not None:
                raise FieldError(
                    "interval",
                    f"not allowed with frequency 'once' (got {self.interval}); remove it or pick a "
                    "recurring frequency (minute, hour, day, week)",
                )
            if "backfill" in given and self.backfill is not None:
                raise FieldError("backfill", "not allowed with frequency 'once'; remove it")
            return self
        if self.interval is None:
            raise FieldError(
                "interval",
                f"is required with frequency {self.frequency!r} (e.g. interval=1 runs every {self.frequency})",
            )
        minimum = MIN_MINUTE_INTERVAL if self.frequency == "minute" else 1
        if self.interval < minimum:
            detail = "when frequency is 'minute'" if self.frequency == "minute" else f"for frequency {self.frequency!r}"
            raise FieldError("interval", f"must be at least {minimum} {detail} (got {self.interval})")
        return self

    def to_api(self) -> dict[str, Any]:
        """The API's ``scheduleParams`` (``startTime`` in epoch seconds, as the flow spec types it: integer)."""
        body: dict[str, Any] = {"startTime": self.start_time, "frequency": self.frequency}
        if self.interval is not None:
            body["interval"] = self.interval
        if self.backfill is not None:
            body["backfill"] = self.backfill
        return body


# -- JSON Patch ---------------------------------------------------------------------------------------


class PatchOp(_Input):
    """One JSON-Patch operation as Flow Service takes it: ``{"op": "replace", "path": "/name", "value": ...}``."""

    op: Literal["add", "replace", "remove"]
    path: str
    value: Any = None

    @field_validator("op", mode="before")
    @classmethod
    def _op(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("add", "replace", "remove"):
            return value.strip().lower()  # the docs send lower case; the spec's enum is upper case
        raise ValueError(f"must be 'add', 'replace' or 'remove' (got {value!r})")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value == "/":
            raise ValueError(
                f"must be a JSON pointer starting with '/', e.g. '/scheduleParams/interval' (got {value!r})"
            )
        return value

    @model_validator(mode="after")
    def _value(self) -> PatchOp:
        if self.op in ("add", "replace") and "value" not in self.model_fields_set:
            raise FieldError("value", f"is required with op {self.op!r}")
        if self.op == "remove" and "value" in self.model_fields_set:
            raise FieldError("value", "is not allowed with op 'remove'")
        return self

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"op": self.op, "path": self.path}
        if self.op != "remove":
            body["value"] = self.value
        return body


class PatchOps(_Input):
    """A non-empty list of :class:`PatchOp` (validated as the operator's ``ops`` argument)."""

    ops: list[PatchOp] = Field(min_length=1)


def validate_ops(ops: Any) -> list[PatchOp]:
    """``ops`` checked: a non-empty list of JSON-Patch operations."""
    if isinstance(ops, Mapping):
        ops = [ops]
    return validate_input(PatchOps, {"ops": ops}).ops


# -- entity bodies ------------------------------------------------------------------------------------

_RESERVED_BODY_KEYS = {
    "name",
    "description",
    "connectionSpec",
    "flowSpec",
    "auth",
    "baseConnectionId",
    "data",
    "params",
    "sourceConnectionIds",
    "targetConnectionIds",
    "transformations",
    "scheduleParams",
    "mode",
    "state",
    "id",
}


class EntityInput(_Input):
    """Fields every create body has.

    :param extra_body: more top-level body fields, e.g. ``{"options": {"partialIngestionPercent": 5}}``.
    """

    name: Name
    description: str | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extra_body", mode="before")
    @classmethod
    def _extra(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, Mapping):
            clash = sorted(set(value) & _RESERVED_BODY_KEYS)
            if clash:
                raise ValueError(
                    f"sets {', '.join(repr(k) for k in clash)}, which the operator builds from its own arguments; "
                    "use those arguments instead"
                )
        return value

    def _common(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            body["description"] = self.description
        return body


class ConnectionInput(EntityInput):
    """A connection of a connection spec."""

    connection_spec_id: SpecId
    connection_spec_version: str = "1.0"

    def _spec_ref(self) -> dict[str, Any]:
        return {"connectionSpec": {"id": self.connection_spec_id, "version": self.connection_spec_version}}


class BaseConnectionInput(ConnectionInput):
    """A base connection (an account): ``auth.specName`` and ``auth.params`` for one connection spec.

    Whether ``auth_spec_name`` exists in the spec and every required param is there is checked
    against the connection spec itself (one read) before creating.
    """

    auth_spec_name: str | None = None
    auth_params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("auth_spec_name")
    @classmethod
    def _auth_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; give the name of one of the connection spec's authSpec entries")
        return value

    @field_validator("auth_params", mode="before")
    @classmethod
    def _auth_params(cls, value: Any) -> Any:
        return {} if value is None else value

    def to_body(self, auth_params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``POST /connections`` body; ``auth_params`` replaces the model's (merged with a connection's)."""
        body = {**self._common(), **self._spec_ref(), **self.extra_body}
        params = dict(self.auth_params if auth_params is None else auth_params)
        if self.auth_spec_name is not None:
            body["auth"] = {"specName": self.auth_spec_name, "params": params}
        return body


class SourceOrTargetInput(ConnectionInput):
    """A source or target connection: ``data`` (format, schema) and ``params`` (path, dataSetId...)."""

    base_connection_id: EntityId | None = None
    data: dict[str, Any] | None = None
    params: dict[str, Any] | None = None

    def to_body(self) -> dict[str, Any]:
        """The ``POST /sourceConnections`` / ``/targetConnections`` body."""
        body = {**self._common(), **self._spec_ref(), **self.extra_body}
        if self.base_connection_id is not None:
            body["baseConnectionId"] = self.base_connection_id
        if self.data is not None:
            body["data"] = self.data
        if self.params is not None:
            body["params"] = self.params
        return body


class SourceConnectionInput(SourceOrTargetInput):
    """A source connection (what to read)."""


class TargetConnectionInput(SourceOrTargetInput):
    """A target connection (where to write)."""


class FlowInput(EntityInput):
    """A dataflow. Give the flow spec by id or by name (``CloudStorageToAEP``), not both.

    A live flow (``draft=False`` in the validation context) needs at least one source and one target
    connection and ``schedule_params``; a draft may leave them out (the draft flow of Adobe's drafts guide has no
    schedule).
    """

    flow_spec_id: SpecId | None = None
    flow_spec_name: str | None = None
    flow_spec_version: str = "1.0"
    source_connection_ids: list[EntityId] = Field(default_factory=list)
    target_connection_ids: list[EntityId] = Field(default_factory=list)
    transformations: list[dict[str, Any]] = Field(default_factory=list)
    # Dataset-export flows schedule with timeUnit/interval (Adobe's dataset-export guide), source flows with frequency.
    schedule_params: (
        Annotated[
            Annotated[ScheduleParamsInput, Tag(_SOURCE_SCHEDULE)] | Annotated[ExportSchedule, Tag(_EXPORT_SCHEDULE)],
            Discriminator(_schedule_kind),
        ]
        | None
    ) = None

    @field_validator("source_connection_ids", "target_connection_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("transformations", mode="before")
    @classmethod
    def _transformations(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, Mapping) or not item.get("name") or not isinstance(item.get("params"), Mapping):
                    raise ValueError(
                        f"item {i} must be {{'name': ..., 'params': {{...}}}}, e.g. "
                        "{'name': 'Mapping', 'params': {'mappingId': '...', 'mappingVersion': '0'}}"
                    )
        return value

    @property
    def has_mapping(self) -> bool:
        """Whether ``transformations`` holds a ``Mapping`` transformation."""
        return any(str(t.get("name", "")).lower() == MAPPING_TRANSFORMATION.lower() for t in self.transformations)

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> FlowInput:
        no_mapping = flow_specs_without_mapping()
        if self.has_mapping and self.flow_spec_id in no_mapping:
            raise FieldError("transformations", no_mapping_message(self.flow_spec_id, no_mapping[self.flow_spec_id]))
        if (self.flow_spec_id is None) == (self.flow_spec_name is None or not self.flow_spec_name.strip()):
            raise FieldError(
                "flow_spec_id", "give exactly one of flow_spec_id (a UUID) or flow_spec_name (e.g. 'CloudStorageToAEP')"
            )
        draft = bool((info.context or {}).get("draft", False))
        # Inside a DataflowConfig the operator links the new connections itself.
        linked_later = bool((info.context or {}).get("dataflow", False))
        if not draft:
            for field in ("source_connection_ids", "target_connection_ids") if not linked_later else ():
                if not getattr(self, field):
                    raise FieldError(
                        field, "a live flow needs at least one; give the id(s) or create it with draft=True"
                    )
            if self.schedule_params is None:
                raise FieldError(
                    "schedule_params",
                    "a live flow needs a schedule, e.g. {'start_time': 1700000000, 'frequency': 'once'}; "
                    "or create it with draft=True",
                )
        return self

    def to_body(self, flow_spec_id: str) -> dict[str, Any]:
        """The ``POST /flows`` body, with the flow spec id resolved (from the name when given by name)."""
        body = {**self._common(), "flowSpec": {"id": flow_spec_id, "version": self.flow_spec_version}}
        body.update(self.extra_body)
        if self.source_connection_ids:
            body["sourceConnectionIds"] = list(self.source_connection_ids)
        if self.target_connection_ids:
            body["targetConnectionIds"] = list(self.target_connection_ids)
        if self.transformations:
            body["transformations"] = list(self.transformations)
        if self.schedule_params is not None:
            body["scheduleParams"] = self.schedule_params.to_api()
        return body


def no_mapping_message(flow_spec_id: str | None, name: str | None) -> str:
    """The config error of a mapping on a flow whose flow spec lists no ``Mapping`` transformation."""
    return (
        f"the flow spec {flow_spec_id} ({name}) lists no {MAPPING_TRANSFORMATION} transformation "
        "(transformationSpecs), so its flows take no mapping set; remove the mapping, or use a flow spec "
        "that maps data into a dataset (e.g. CloudStorageToAEP)"
    )


# -- Data Prep: mapping sets -------------------------------------------------------------------------

SOURCE_TYPES = ("ATTRIBUTE", "EXPRESSION", "STATIC")
# How Adobe's mapping-set guide shows stored mappings: accepted on input so an exported set reads back.
_SOURCE_TYPE_MEDIA = {"text/x.schema-path": "ATTRIBUTE", "text/x.aep-xl": "EXPRESSION"}
_SCHEMA_ID = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
_MAPPING_SET_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_PREVIEW_ROWS = 100


def _source_type(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        name = _SOURCE_TYPE_MEDIA.get(text.lower(), text.upper())
        if name in SOURCE_TYPES:
            return name
    raise ValueError(f"must be one of {', '.join(SOURCE_TYPES)} (got {value!r})")


def _text(value: Any) -> Any:
    """A mapping's ``source``: YAML may give a STATIC value as a number or a boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def parse_schema_id(value: Any) -> str:
    """An XDM schema ``$id`` (a URI); ``ValueError`` otherwise."""
    text = value.strip() if isinstance(value, str) else None
    if not text or not _SCHEMA_ID.match(text):
        raise ValueError(
            "must be the XDM schema's $id, a URI such as "
            f"'https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d' (got {value!r})"
        )
    return text


def parse_mapping_set_id(value: Any) -> str:
    """A mapping set id (32 hexadecimal characters, as ``POST /mappingSets`` returns); ``ValueError`` otherwise."""
    text = value.strip().lower() if isinstance(value, str) else None
    if not text or not _MAPPING_SET_ID.match(text):
        raise ValueError(
            f"{value!r} is not a mapping set id: give the 32-character id POST /mappingSets returned, "
            "e.g. 'e7c80e4c0d8f4a98a7d400b4e178b635'"
        )
    return text


SchemaId = Annotated[str, BeforeValidator(parse_schema_id)]
"""An XDM schema ``$id``."""
MappingSetId = Annotated[str, BeforeValidator(parse_mapping_set_id)]
"""A mapping set id."""


class MappingInput(_Input):
    """One mapping of a mapping set: ``source`` -> ``destination`` (an XDM field path of the output schema).

    ``source_type``: ``ATTRIBUTE`` (``source`` is a field of the source data, e.g. ``first_name``),
    ``EXPRESSION`` (a Data Prep expression, e.g. ``lower(email)``) or ``STATIC`` (``source`` is the value).
    Accepts API spelling too (``sourceType``).
    """

    model_config = ConfigDict(
        extra="forbid", loc_by_alias=False, alias_generator=to_camel, populate_by_name=True, defer_build=True
    )

    source_type: Annotated[str, BeforeValidator(_source_type)]
    source: Annotated[str, BeforeValidator(_text)]
    destination: str
    name: str | None = None
    description: str | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty; give a source field, an expression or (STATIC) the value")
        return value.strip()

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        text = value.strip()
        if not text or any(ch.isspace() for ch in text) or text.startswith(".") or text.endswith(".") or ".." in text:
            raise ValueError(
                f"must be an XDM field path of the output schema such as 'person.name.firstName' (got {value!r})"
            )
        return text

    def to_api(self) -> dict[str, Any]:
        """The mapping as ``POST /mappingSets`` takes it."""
        body: dict[str, Any] = {"sourceType": self.source_type, "source": self.source, "destination": self.destination}
        if self.name is not None:
            body["name"] = self.name
        if self.description is not None:
            body["description"] = self.description
        return body

    def key(self) -> tuple[str, str, str, str | None, str | None]:
        """What the mapping does, as :meth:`airflow_flowservice.models.Mapping.key` reads it from the service."""
        return (self.source_type, self.source, self.destination, self.name or None, self.description or None)


class OutputSchemaInput(_Input):
    """The XDM schema a mapping set maps into: its ``$id`` and content type (``contentType`` accepted)."""

    model_config = ConfigDict(
        extra="forbid", loc_by_alias=False, alias_generator=to_camel, populate_by_name=True, defer_build=True
    )

    id: SchemaId
    content_type: str = DEFAULT_SCHEMA_CONTENT_TYPE


def _schema_ref(value: Any) -> Any:
    return {"id": value} if isinstance(value, str) else value


def _mappings_list(value: Any) -> Any:
    return [value] if isinstance(value, Mapping) else value


class MappingSetInput(_Input):
    """A mapping set: the ``output_schema`` (the target dataset's XDM schema) and its ``mappings``.

    ``output_schema`` is ``{"id": <schema $id>, "content_type": ...}`` (or just the ``$id``). Two mappings
    to one destination are refused.
    """

    output_schema: Annotated[OutputSchemaInput, BeforeValidator(_schema_ref)]
    mappings: Annotated[list[MappingInput], BeforeValidator(_mappings_list)] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_mapping_per_destination(self) -> MappingSetInput:
        seen: dict[str, int] = {}
        for i, mapping in enumerate(self.mappings):
            if mapping.destination in seen:
                raise FieldError(
                    "mappings",
                    f"[{seen[mapping.destination]}] and [{i}] both map to {mapping.destination!r}; a destination "
                    "takes one mapping",
                )
            seen[mapping.destination] = i
        return self

    def to_api(self) -> dict[str, Any]:
        """The ``POST /mappingSets`` (and ``PUT``, ``validate``) body."""
        return {
            "outputSchema": {
                "schemaRef": {"id": self.output_schema.id, "contentType": self.output_schema.content_type}
            },
            "mappings": [m.to_api() for m in self.mappings],
        }


class CreateMappingSetInput(_Input):
    """The arguments of ``FlowServiceCreateMappingSetOperator`` that describe the set."""

    output_schema_id: SchemaId
    output_schema_content_type: str = DEFAULT_SCHEMA_CONTENT_TYPE
    mappings: Annotated[list[MappingInput], BeforeValidator(_mappings_list)] = Field(min_length=1)

    def to_mapping_set(self) -> MappingSetInput:
        """The set, checked like a config's ``mapping`` section (one mapping per destination)."""
        return validate_input(
            MappingSetInput,
            {
                "output_schema": {"id": self.output_schema_id, "content_type": self.output_schema_content_type},
                "mappings": [m.model_dump() for m in self.mappings],
            },
        )


def _preview_rows(value: Any) -> Any:
    # FlowServiceExploreOperator returns {"rows": [...], ...}: its output is accepted as it is.
    return value.get("rows") if isinstance(value, Mapping) and "rows" in value else value


class PreviewMappingInput(_Input):
    """The arguments of ``FlowServicePreviewMappingOperator``: sample rows, and the set (given, or by id)."""

    rows: Annotated[list[dict[str, Any]], BeforeValidator(_preview_rows)] = Field(min_length=1)
    mappings: Annotated[list[MappingInput] | None, BeforeValidator(_mappings_list)] = None
    output_schema_id: SchemaId | None = None
    output_schema_content_type: str = DEFAULT_SCHEMA_CONTENT_TYPE
    mapping_id: MappingSetId | None = None
    mapping_version: Annotated[int | None, BeforeValidator(_positive_int)] = None

    @field_validator("rows")
    @classmethod
    def _few_rows(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > MAX_PREVIEW_ROWS:
            raise ValueError(f"at most {MAX_PREVIEW_ROWS} sample rows can be previewed (got {len(value)})")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PreviewMappingInput:
        if (self.mappings is None) == (self.mapping_id is None):
            raise FieldError(
                "mappings", "give either mappings (with output_schema_id) or mapping_id (an existing mapping set)"
            )
        if self.mappings is not None and self.output_schema_id is None:
            raise FieldError("output_schema_id", "is required with mappings: the $id of the XDM schema they map into")
        if self.mapping_id is None and self.mapping_version is not None:
            raise FieldError("mapping_version", "only goes with mapping_id")
        if self.mapping_version is not None and self.mapping_version < 0:
            raise FieldError("mapping_version", f"must be 0 or more (got {self.mapping_version})")
        return self

    def mapping_set(self) -> MappingSetInput | None:
        """The set given by its mappings (``None`` when given by ``mapping_id``)."""
        if self.mappings is None:
            return None
        return validate_input(
            MappingSetInput,
            {
                "output_schema": {"id": self.output_schema_id, "content_type": self.output_schema_content_type},
                "mappings": [m.model_dump() for m in self.mappings],
            },
        )


class DataflowConfig(_Input):
    """One declarative dataflow: optional base connection, source, target, optional mapping, and flow.

    The operator fills the links: the base connection goes to whichever of the source and target
    connections has the same ``connection_spec_id`` (for a cloud storage source, the source; for a
    dataset export, the target), and the flow gets the new source and target ids. A source or
    target may instead name an existing ``base_connection_id``. A ``mapping`` (Data Prep mapping set)
    is created after the target connection, and the flow gets its ``Mapping`` transformation.
    """

    base_connection: BaseConnectionInput | None = None
    source_connection: SourceConnectionInput
    target_connection: TargetConnectionInput
    mapping: MappingSetInput | None = None
    flow: FlowInput

    @model_validator(mode="after")
    def _mapping_fits(self) -> DataflowConfig:
        if self.mapping is None:
            return self
        if self.flow.has_mapping:
            raise FieldError(
                "mapping",
                f"flow.transformations already has a {MAPPING_TRANSFORMATION} transformation; give the mapping "
                "in one place (remove it from flow.transformations)",
            )
        no_mapping = flow_specs_without_mapping()
        if self.flow.flow_spec_id in no_mapping:
            raise FieldError("mapping", no_mapping_message(self.flow.flow_spec_id, no_mapping[self.flow.flow_spec_id]))
        source = DATA_PREP_UNSUPPORTED_SOURCES.get(self.source_connection.connection_spec_id)
        if source is not None:
            raise FieldError(
                "mapping",
                f"Data Prep is not supported for {source} sources (Adobe's {source} source guide); remove the mapping",
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _flow_links(cls, data: Any) -> Any:
        flow = data.get("flow") if isinstance(data, Mapping) else None
        if isinstance(flow, Mapping):
            for key in ("source_connection_ids", "target_connection_ids"):
                if flow.get(key):
                    raise FieldError(
                        "flow", f"{key} is filled in by the operator with the new connection ids; remove it"
                    )
        return data

    @model_validator(mode="after")
    def _base_links(self) -> DataflowConfig:
        base = self.base_connection
        if base is None:
            return self
        users = self.base_users()
        if not users:
            raise FieldError(
                "base_connection",
                f"its connection_spec_id {base.connection_spec_id} matches neither source_connection nor "
                "target_connection; a base connection serves the connection of the same spec",
            )
        for name in users:
            if getattr(self, name).base_connection_id is not None:
                raise FieldError(
                    name, "has a base_connection_id and the config also creates base_connection; give only one"
                )
        return self

    def base_users(self) -> list[str]:
        """Which of ``source_connection`` / ``target_connection`` the base connection belongs to."""
        if self.base_connection is None:
            return []
        spec = self.base_connection.connection_spec_id
        return [
            name
            for name, conn in (
                ("source_connection", self.source_connection),
                ("target_connection", self.target_connection),
            )
            if conn.connection_spec_id == spec
        ]


# -- dataset-export targets and schedules -----------------------------------------------------------


class ExportTargetParams(BaseModel):
    """What every export target connection takes: a folder, a file type and a compression."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    path: str = Field(description="Folder inside the bucket/container, e.g. 'exports/aep'.")
    file_type: ExportFileType = ExportFileType.JSON
    compression: ExportCompression = ExportCompression.NONE

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_folder_path(value, field_name="path")

    def to_params(self) -> dict[str, Any]:
        """The ``params`` of the target-connection body, as Adobe's dataset-export guide shows it."""
        return {
            "mode": "Server-to-server",
            "path": self.path,
            "compression": self.compression.value,
            "datasetFileType": self.file_type.value,
        }


class BucketTargetParams(ExportTargetParams):
    """Amazon S3 / Google Cloud Storage: ``bucket_name`` plus a folder."""

    bucket_name: str = Field(description="Bucket name, e.g. 'my-aep-exports'.")

    @field_validator("bucket_name")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not BUCKET_NAME_PATTERN.match(value):
            raise ValueError(
                f"bucket_name {value!r} is not a valid bucket name: 3-63 lower-case letters, digits, '.' or '-', "
                "starting and ending with a letter or digit"
            )
        return value

    def to_params(self) -> dict[str, Any]:
        return {**super().to_params(), "bucketName": self.bucket_name}


class ContainerTargetParams(ExportTargetParams):
    """Azure Blob Storage: ``container`` plus a folder."""

    container: str = Field(description="Blob container name, e.g. 'aep-exports'.")

    @field_validator("container")
    @classmethod
    def _container(cls, value: str) -> str:
        if not CONTAINER_NAME_PATTERN.match(value):
            raise ValueError(
                f"container {value!r} is not a valid Azure container name: 3-63 lower-case letters, digits and "
                "single '-'"
            )
        return value

    def to_params(self) -> dict[str, Any]:
        return {**super().to_params(), "container": self.container}


class SftpTargetParams(ExportTargetParams):
    """SFTP: the remote folder (sent as ``remotePath``); may be absolute."""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_folder_path(value, field_name="path", absolute=True)

    def to_params(self) -> dict[str, Any]:
        params = super().to_params()
        params["remotePath"] = params.pop("path")
        return params


class ExportSchedule(BaseModel):
    """``scheduleParams`` of a dataset-export flow: ``timeUnit`` hour or day, not ``frequency``.

    Every 3, 6, 9, 12 or 24 hours (``time_unit="hour"``), or daily (``time_unit="day"``, interval 1),
    from ``start_time`` (epoch seconds, an aware datetime or an ISO 8601 string). Without
    ``start_time`` the schedule starts when it is validated, i.e. when the task runs: Adobe's export
    flow requires a ``startTime`` ("UNIX timestamp start time (in seconds)", dataset export API
    tutorial), and "from now on, every 3 hours" is what a schedule without one means.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    time_unit: Literal["hour", "day"] = "hour"
    interval: int = 3
    start_time: int = Field(default_factory=lambda: int(time.time()))

    @field_validator("start_time", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> int:
        return to_epoch_seconds(value)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: int, info: ValidationInfo) -> int:
        if "time_unit" not in info.data:  # time_unit itself was refused: its error says it all
            return value
        unit = info.data["time_unit"]
        if unit == "hour" and value not in EXPORT_HOUR_INTERVALS:
            allowed = ", ".join(str(i) for i in EXPORT_HOUR_INTERVALS)
            raise ValueError(f"{value} is not an export interval; with time_unit 'hour' use one of {allowed}")
        if unit == "day" and value != 1:
            raise ValueError(f"{value} is not allowed with time_unit 'day': daily exports use interval 1")
        return value

    def to_api(self) -> dict[str, Any]:
        """The flow's ``scheduleParams`` body."""
        return {"timeUnit": self.time_unit, "interval": self.interval, "startTime": self.start_time}


TARGET_PARAMS: dict[str, type[ExportTargetParams]] = {
    "folder": ExportTargetParams,
    "bucket": BucketTargetParams,
    "container": ContainerTargetParams,
    "sftp": SftpTargetParams,
}
"""The target-params model of each :attr:`DestinationSpec.target_params` kind."""


def target_params_model(destination: DestinationSpec) -> type[ExportTargetParams]:
    """The pydantic model of ``destination``'s target-connection params."""
    return TARGET_PARAMS[destination.target_params]
