"""The dataflows-as-code file: YAML describing dataflows, validated by pydantic models.

A file holds ``version: 1`` and a list of ``dataflows``; each names its base connection (optional),
source and target connections, mapping (optional: a Data Prep mapping set, its output schema and
mappings) and flow, with their specs, params, schedule and transformations, and whether it stays a
``draft``. Entities are matched to the service by name; the mapping set through its flow.

Secrets never appear in the file: a base connection's credentials are a reference to an Airflow
connection (``credentials: {conn_id: ..., fields: {auth param: connection field}}``), read when a
base connection is created, as the dataset-export operator's ``destination_conn_id`` is.
See https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/create-dataflows
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.inputs import BaseConnectionInput, DataflowConfig
from airflow_flowservice.validation import FieldError, config_error

SPEC_FILE_VERSION = 1

_CONN_FIELDS = ("login", "password", "host", "schema", "port")


class CredentialsRef(BaseModel):
    """Where a base connection's auth params come from: an Airflow connection, never the file.

    :param conn_id: the Airflow connection holding the credentials.
    :param fields: auth param -> connection field (``login``, ``password``, ``host``, ``schema``,
        ``port`` or ``extra.<key>``); default: login -> ``username``, password -> ``password``,
        plus every extra key.
    """

    model_config = ConfigDict(extra="forbid")

    conn_id: str = Field(min_length=1)
    fields: dict[str, str] | None = None

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, source in (value or {}).items():
            if source not in _CONN_FIELDS and not source.startswith("extra."):
                raise ValueError(
                    f"{source!r} (for {name!r}) is not a connection field; use login, password, host, schema, "
                    "port or extra.<key>"
                )
        return value


class FileBaseConnection(BaseConnectionInput):
    """A base connection in the file: like :class:`~airflow_flowservice.inputs.BaseConnectionInput`,
    with ``credentials`` (a reference to an Airflow connection) instead of ``auth_params``."""

    credentials: CredentialsRef | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("auth_params"):
            raise FieldError(
                "auth_params",
                "secrets never go in the file; store them in an Airflow connection and reference it with "
                "credentials: {conn_id: <connection id>, fields: {<auth param>: login|password|extra.<key>}}",
            )
        return data


class FileDataflow(DataflowConfig):
    """One dataflow of the file.

    :param name: the key of this dataflow in the file (unique); defaults to the flow's name.
    :param draft: keep every part a draft (``true``) or have it live (``false``, the default: parts
        still drafts in the service are published by ``apply``).
    """

    name: str | None = None
    draft: bool = False
    base_connection: FileBaseConnection | None = None

    @model_validator(mode="after")
    def _live_needs_schedule(self) -> FileDataflow:
        if not self.draft and self.flow.schedule_params is None:
            raise FieldError(
                "flow", "schedule_params: a live flow needs a schedule; add one or set draft: true on the dataflow"
            )
        return self

    @property
    def key(self) -> str:
        """The dataflow's key in the file: ``name``, else the flow's name."""
        return self.name or self.flow.name


class SpecFile(BaseModel):
    """The whole file: ``version: 1`` and ``dataflows``."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    dataflows: list[FileDataflow] = Field(default_factory=list)
    _source: str = PrivateAttr(default="<dict>")

    @property
    def source(self) -> str:
        """Where the spec was read from (the file's path), for error messages."""
        return self._source

    @model_validator(mode="after")
    def _unique(self) -> SpecFile:
        seen: dict[str, int] = {}
        for i, df in enumerate(self.dataflows):
            for what, name in (("name", df.key), ("flow.name", df.flow.name)):
                key = f"{what}:{name}"
                if key in seen:
                    raise FieldError(
                        "dataflows", f"[{i}].{what} {name!r} is also used by dataflows[{seen[key]}]; names are unique"
                    )
                seen[key] = i
        return self


def parse_spec(data: Any, source: str = "<dict>") -> SpecFile:
    """Validate an already-loaded spec (a dict); errors name ``source``, the path in it and the field."""
    if not isinstance(data, Mapping):
        raise FlowServiceConfigError(f"{source}: must be a mapping with 'version' and 'dataflows'")
    try:
        spec = SpecFile.model_validate(data, context={"draft": True, "dataflow": True})
    except ValidationError as exc:
        raise FlowServiceConfigError(f"{source}: {config_error(exc).message}") from None
    spec._source = source
    return spec


def load_spec_file(path: str | Path) -> SpecFile:
    """Read and validate a YAML spec file."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowServiceConfigError(f"{p}: cannot read the spec file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlowServiceConfigError(f"{p}: not valid YAML ({exc})") from None
    return parse_spec(data, str(p))


def load_spec(spec: str | Path | Mapping[str, Any] | SpecFile) -> SpecFile:
    """A spec from a file path, a dict or an already-validated :class:`SpecFile`."""
    if isinstance(spec, SpecFile):
        return spec
    if isinstance(spec, Mapping):
        return parse_spec(spec)
    return load_spec_file(spec)


def dump_spec(spec: SpecFile) -> str:
    """The YAML text of ``spec`` (defaults left out, so an exported file stays short)."""
    import yaml

    dataflows: list[dict[str, Any]] = []
    for df in spec.dataflows:
        body = df.model_dump(mode="json", exclude_defaults=True)
        head: dict[str, Any] = {k: body.pop(k) for k in ("name", "draft") if k in body}
        if df.flow.schedule_params is not None:  # whole: its keys tell a source from an export schedule
            body["flow"]["schedule_params"] = df.flow.schedule_params.model_dump(mode="json", exclude_none=True)
        dataflows.append({**head, **body})
    data: dict[str, Any] = {"version": SPEC_FILE_VERSION, "dataflows": dataflows}
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
