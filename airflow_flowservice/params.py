"""Operator input, validated before any API call.

Every entity operator turns its (rendered) arguments into one of these pydantic models first; a
:class:`~pydantic.ValidationError` becomes a :class:`~airflow_flowservice.exceptions.FlowServiceConfigError`
whose message names the field and the fix, e.g.
``schedule_params.interval: must be at least 15 when frequency is 'minute' (got 5)``.

The models describe what the user writes (snake_case, flat spec ids); ``to_body()`` gives the API
body (camelCase, nested ``connectionSpec``/``flowSpec`` references).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.models import EntityKind
from airflow_flowservice.specs import ExportSchedule

#: Above this an epoch value is taken for milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
MS_THRESHOLD = 100_000_000_000
FREQUENCIES = ("once", "minute", "hour", "day", "week")
MIN_MINUTE_INTERVAL = 15
IfExists = Literal["reuse", "fail"]
IF_EXISTS_VALUES: tuple[str, ...] = ("reuse", "fail")
_EXAMPLE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
M = TypeVar("M", bound=BaseModel)


class FieldError(ValueError):
    """A cross-field check that blames one field of the model it runs in (``field`` is its name)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# -- turning pydantic errors into one readable line -----------------------------------------------


_SOURCE_SCHEDULE, _EXPORT_SCHEDULE = "source schedule", "export schedule"
_UNION_TAGS = frozenset({_SOURCE_SCHEDULE, _EXPORT_SCHEDULE})


def _schedule_kind(value: Any) -> str:
    """Which schedule a ``schedule_params`` value is: export flows use ``time_unit`` (seed 003)."""
    if isinstance(value, ExportSchedule) or (
        isinstance(value, Mapping) and ("time_unit" in value or "timeUnit" in value)
    ):
        return _EXPORT_SCHEDULE
    return _SOURCE_SCHEDULE


def _loc(parts: tuple[int | str, ...], rename: Mapping[str, str]) -> str:
    text = ""
    for part in parts:
        if part in _UNION_TAGS:  # a union member's tag is not a field name
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = rename.get(part, part) if not text else part
            text += f".{name}" if text else name
    return text


_PLAIN_MESSAGES = {
    "dict_type": "must be a dict (a JSON object)",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "too_short": "must not be empty",
}


def _describe(error: Any, rename: Mapping[str, str]) -> str:
    loc = _loc(tuple(error["loc"]), rename)
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, FieldError):
        loc = f"{loc}.{cause.field}" if loc else cause.field
        return f"{loc}: {cause}"
    kind = error["type"]
    if kind == "missing":
        return f"{loc}: is required"
    if kind == "extra_forbidden":
        return f"{loc}: unknown field; check the spelling (fields are snake_case, e.g. connection_spec_id)"
    message = _PLAIN_MESSAGES.get(kind) or str(error["msg"]).removeprefix("Value error, ")
    if kind != "value_error" and "auth_params" not in loc:
        value = error.get("input")
        if isinstance(value, (str, int, float, bool)) or value is None:
            message += f" (got {value!r})"
    return f"{loc}: {message}" if loc else message


def config_error(
    exc: ValidationError, prefix: str = "", rename: Mapping[str, str] | None = None, separator: str = "."
) -> FlowServiceConfigError:
    """One :class:`FlowServiceConfigError` listing every problem of ``exc``, each as ``field: fix``.

    :param prefix: prepended to every field name, joined with ``separator`` (``target`` + ``.`` ->
        ``target.path``; ``/scheduleParams`` + ``/`` -> ``/scheduleParams/interval``).
    """
    problems = [_describe(err, rename or {}) for err in exc.errors()]
    if prefix:
        problems = [f"{prefix}{separator}{p}" for p in problems]
    return FlowServiceConfigError("; ".join(problems))


def validate_input(
    model: type[M],
    data: Any,
    *,
    prefix: str = "",
    rename: Mapping[str, str] | None = None,
    context: dict[str, Any] | None = None,
) -> M:
    """``model.model_validate(data)`` with errors turned into a :class:`FlowServiceConfigError`.

    :param prefix: prepended to every field name (``config`` -> ``config.flow.name``).
    :param rename: top-level field name -> operator argument name (``params`` -> ``connection_params``).
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise config_error(exc, prefix, rename) from None


# -- scalar checks ------------------------------------------------------------------------------------


def to_epoch_seconds(value: Any) -> int:
    """Epoch **seconds** from an int, a digit string, an aware datetime/pendulum or an ISO 8601 string.

    >>> to_epoch_seconds("1700000000")
    1700000000
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"must be epoch seconds, e.g. 1700000000 (got {value!r})")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"the datetime {value.isoformat()} has no time zone; give an aware datetime "
                "(pendulum.datetime(..., tz='UTC')) or epoch seconds"
            )
        return int(value.timestamp())
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            seconds = int(text)
        else:
            return to_epoch_seconds(_parse_iso(text))
    elif isinstance(value, float):
        seconds = int(value)
    elif isinstance(value, int):
        seconds = value
    else:
        raise ValueError(f"must be epoch seconds, e.g. 1700000000 (got {value!r})")
    if seconds < 0:
        raise ValueError(f"must be epoch seconds, not negative (got {seconds})")
    if seconds > MS_THRESHOLD:
        raise ValueError(
            f"{seconds} looks like milliseconds; Flow Service wants epoch seconds here (use {seconds // 1000})"
        )
    return seconds


def _parse_iso(text: str) -> datetime:
    import pendulum

    try:
        parsed = pendulum.parse(text, exact=True, tz=None)
    except (ValueError, TypeError):
        parsed = None
    if not isinstance(parsed, datetime):
        raise ValueError(
            f"must be epoch seconds (e.g. 1700000000) or an ISO 8601 date-time with a time zone (got {text!r})"
        )
    if parsed.tzinfo is None:
        raise ValueError(
            f"{text!r} has no time zone; give epoch seconds or an ISO 8601 date-time with an offset "
            "(e.g. '2024-05-01T00:00:00+00:00')"
        )
    return parsed


def _uuid(value: Any, what: str) -> str:
    text = str(value).strip() if isinstance(value, str) else None
    try:
        if text is None:
            raise ValueError
        parsed = uuid.UUID(text)
    except ValueError:
        raise ValueError(f"{value!r} is not {what}: give its UUID, e.g. {_EXAMPLE_SPEC_ID!r}") from None
    if str(parsed) != text.lower():
        raise ValueError(f"{value!r} is not {what}: give its UUID in the 8-4-4-4-12 form, e.g. {_EXAMPLE_SPEC_ID!r}")
    return text.lower()


def _spec_id(value: Any) -> str:
    return _uuid(value, "a spec id")


def _entity_id(value: Any) -> str:
    return _uuid(value, "a Flow Service entity id")


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string (got {type(value).__name__})")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty; give the entity a name unique in the sandbox")
    if '"' in text:
        raise ValueError(f"{value!r} contains '\"', which the API's name filter cannot match; remove it")
    return text


SpecId = Annotated[str, BeforeValidator(_spec_id)]
"""A connection-spec or flow-spec id (a UUID)."""
EntityId = Annotated[str, BeforeValidator(_entity_id)]
"""A base/source/target connection or flow id (a UUID)."""
Name = Annotated[str, BeforeValidator(_name)]
"""A non-empty entity name."""


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
    """``scheduleParams`` of a source flow, checked like the flow spec's ``scheduleSpec`` (seed 000).

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


def check_if_exists(value: Any) -> IfExists:
    """``if_exists`` is ``"reuse"`` or ``"fail"``."""
    if value == "reuse" or value == "fail":
        return value  # type: ignore[no-any-return]
    raise FlowServiceConfigError(f"if_exists: must be 'reuse' or 'fail' (got {value!r})")


def check_entity_id(value: Any, field: str) -> str:
    """An entity id argument (a UUID), or a config error naming ``field``."""
    try:
        return _entity_id(value)
    except ValueError as exc:
        raise FlowServiceConfigError(f"{field}: {exc}") from None


_KIND_NAMES: dict[str, EntityKind] = {
    **{k.value.lower(): k for k in EntityKind},
    "base_connection": EntityKind.BASE_CONNECTION,
    "connection": EntityKind.BASE_CONNECTION,
    "source_connection": EntityKind.SOURCE_CONNECTION,
    "target_connection": EntityKind.TARGET_CONNECTION,
    "flow": EntityKind.FLOW,
}


def parse_kind(value: Any, field: str = "kind") -> EntityKind:
    """An :class:`EntityKind` from itself, its collection name (``sourceConnections``) or ``source_connection``."""
    if isinstance(value, EntityKind):
        return value
    kind = _KIND_NAMES.get(str(value).strip().lower()) if isinstance(value, str) else None
    if kind is None:
        raise FlowServiceConfigError(
            f"{field}: must be one of flows, connections, sourceConnections, targetConnections (got {value!r})"
        )
    return kind


# The parts of a dataflow, in dependency (publish) order: the keys FlowServiceCreateDataflowOperator returns.
DATAFLOW_KINDS: dict[str, EntityKind] = {
    "base_connection_id": EntityKind.BASE_CONNECTION,
    "source_connection_id": EntityKind.SOURCE_CONNECTION,
    "target_connection_id": EntityKind.TARGET_CONNECTION,
    "flow_id": EntityKind.FLOW,
}


def check_dataflow_ids(value: Any, field: str = "dataflow_ids") -> dict[str, str]:
    """The ids of a dataflow (``None`` parts dropped), or a config error naming ``field`` and the keys."""
    keys = ", ".join(DATAFLOW_KINDS)
    if not isinstance(value, Mapping):
        raise FlowServiceConfigError(
            f"{field}: must be a dict with keys {keys}, e.g. create_dataflow.output (got {type(value).__name__})"
        )
    unknown = sorted(str(k) for k in set(value) - set(DATAFLOW_KINDS))
    if unknown:
        raise FlowServiceConfigError(f"{field}: unknown key(s) {', '.join(unknown)}; use {keys}")
    return {k: check_entity_id(value[k], f"{field}.{k}") for k in DATAFLOW_KINDS if value.get(k)}


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
    connection and ``schedule_params``; a draft may leave them out (seed 000's draft flow has no
    schedule).
    """

    flow_spec_id: SpecId | None = None
    flow_spec_name: str | None = None
    flow_spec_version: str = "1.0"
    source_connection_ids: list[EntityId] = Field(default_factory=list)
    target_connection_ids: list[EntityId] = Field(default_factory=list)
    transformations: list[dict[str, Any]] = Field(default_factory=list)
    # Dataset-export flows schedule with timeUnit/interval (seed 003), source flows with frequency.
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

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> FlowInput:
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


class DataflowConfig(_Input):
    """One declarative dataflow: optional base connection, source, target and flow.

    The operator fills the links: the base connection goes to whichever of the source and target
    connections has the same ``connection_spec_id`` (for a cloud storage source, the source; for a
    dataset export, the target), and the flow gets the new source and target ids. A source or
    target may instead name an existing ``base_connection_id``.
    """

    base_connection: BaseConnectionInput | None = None
    source_connection: SourceConnectionInput
    target_connection: TargetConnectionInput
    flow: FlowInput

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


__all__ = [
    "FREQUENCIES",
    "IF_EXISTS_VALUES",
    "MIN_MINUTE_INTERVAL",
    "MS_THRESHOLD",
    "BaseConnectionInput",
    "DataflowConfig",
    "EntityId",
    "FieldError",
    "FlowInput",
    "IfExists",
    "Name",
    "PatchOp",
    "ScheduleParamsInput",
    "SourceConnectionInput",
    "SpecId",
    "TargetConnectionInput",
    "check_entity_id",
    "check_if_exists",
    "config_error",
    "parse_kind",
    "to_epoch_seconds",
    "validate_input",
    "validate_ops",
]
