"""Pydantic models of Flow Service entities, runs and their metrics.

Parsed once at the client edge with ``model_validate``. Every model allows unknown fields
(``extra="allow"``) so new API fields never break users; the fields the provider reads are typed.
Field names follow the API (camelCase aliases); Python attributes are snake_case.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Re-exported; defined apart so that operators import it without the models (DAG parse time).
from airflow_flowservice.kinds import EntityKind as EntityKind


class ApiModel(BaseModel):
    """Base of every API model: camelCase aliases, unknown fields kept, populate by name too."""

    # defer_build: schemas are built on first use, not at import (DAG files parse faster).
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True, defer_build=True)


class SpecRef(ApiModel):
    """A reference to a connection spec or flow spec: ``{"id": ..., "version": "1.0"}``."""

    id: str
    version: str | None = None


class EntityRef(ApiModel):
    """What create, PATCH and action calls return: the entity id and its new (quoted) etag."""

    id: str
    etag: str | None = None


class AuthSpec(ApiModel):
    """One authentication method a connection spec accepts (``Basic Authentication``, ...)."""

    name: str
    type: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)

    @property
    def required_params(self) -> list[str]:
        """Names of the params the spec's JSON schema marks required."""
        return [str(name) for name in self.spec.get("required", [])]


class ConnectionSpec(ApiModel):
    """A connection spec: what a source or destination needs (auth methods, params)."""

    id: str
    name: str | None = None
    provider_id: str | None = None
    version: str | None = None
    auth_spec: list[AuthSpec] = Field(default_factory=list)
    source_spec: dict[str, Any] | None = None
    target_spec: dict[str, Any] | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_draft_mode_supported(self) -> bool:
        """``attributes.isDraftModeSupported``: may entities of this spec be drafts."""
        return bool(self.attributes.get("isDraftModeSupported", False))


class FlowSpec(ApiModel):
    """A flow spec: which source and target specs a flow may join, and its transformations."""

    id: str
    name: str | None = None
    version: str | None = None
    source_connection_spec_ids: list[str] = Field(default_factory=list)
    target_connection_spec_ids: list[str] = Field(default_factory=list)
    transformation_specs: list[dict[str, Any]] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("transformation_specs", mode="before")
    @classmethod
    def _specs_list(cls, value: Any) -> Any:
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    @property
    def transformation_names(self) -> list[str] | None:
        """The names of the transformations a flow of this spec may have (``Mapping``, ``Copy``...); ``None``
        when the spec does not say (no ``transformationSpecs``)."""
        if "transformation_specs" not in self.model_fields_set:
            return None
        return [str(t.get("name")) for t in self.transformation_specs if t.get("name")]

    @property
    def is_draft_mode_supported(self) -> bool:
        """``attributes.isDraftModeSupported`` on the flow spec."""
        return bool(self.attributes.get("isDraftModeSupported", False))


class Entity(ApiModel):
    """Fields every stored Flow Service entity has."""

    id: str
    name: str | None = None
    description: str | None = None
    etag: str | None = None
    state: str | None = None
    created_at: int | None = None
    updated_at: int | None = None

    @property
    def is_draft(self) -> bool:
        """Entities created with ``mode=draft`` report state ``draft`` until published."""
        return (self.state or "").lower() == "draft"


class BaseConnection(Entity):
    """A base connection (an account): auth params for one connection spec."""

    connection_spec: SpecRef
    auth: dict[str, Any] | None = None


class InheritedBaseConnection(ApiModel):
    """``inheritedAttributes.baseConnection`` of a source/target connection."""

    id: str
    connection_spec: SpecRef | None = None


class SourceOrTargetConnection(Entity):
    """Fields shared by source and target connections."""

    connection_spec: SpecRef
    base_connection_id: str | None = None
    data: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    inherited_attributes: dict[str, Any] | None = None

    @property
    def parent_base_connection_id(self) -> str | None:
        """The base connection this connection belongs to, from the body or inheritedAttributes."""
        if self.base_connection_id:
            return self.base_connection_id
        base = (self.inherited_attributes or {}).get("baseConnection") or {}
        value = base.get("id")
        return str(value) if value else None


class SourceConnection(SourceOrTargetConnection):
    """A source connection: what to read (datasets, a campaign id, a folder...)."""


class TargetConnection(SourceOrTargetConnection):
    """A target connection: where to write (a dataset, a bucket path...)."""


class ScheduleParams(ApiModel):
    """``scheduleParams`` of a flow. Times are epoch **seconds**; the API often sends strings."""

    start_time: int | None = None
    frequency: str | None = None
    interval: int | None = None
    backfill: bool | None = None

    @field_validator("start_time", "interval", mode="before")
    @classmethod
    def _int_from_str(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        return value


class LastRunDetails(ApiModel):
    """``lastRunDetails`` of a flow."""

    id: str | None = None
    state: str | None = None
    started_at_utc: int | None = Field(default=None, alias="startedAtUTC")
    completed_at_utc: int | None = Field(default=None, alias="completedAtUTC")


class Flow(Entity):
    """A dataflow: source connections → transformations → target connections on a schedule."""

    flow_spec: SpecRef
    source_connection_ids: list[str] = Field(default_factory=list)
    target_connection_ids: list[str] = Field(default_factory=list)
    transformations: list[dict[str, Any]] = Field(default_factory=list)
    schedule_params: ScheduleParams | None = None
    inherited_attributes: dict[str, Any] | None = None
    last_run_details: LastRunDetails | None = None

    @property
    def mapping(self) -> tuple[int, str, int] | None:
        """``(index, mappingId, mappingVersion)`` of the flow's ``Mapping`` transformation, if it has one."""
        for index, transformation in enumerate(self.transformations):
            if str(transformation.get("name", "")).lower() == "mapping":
                params = transformation.get("params") or {}
                version = str(params.get("mappingVersion", "0")).strip()
                return index, str(params.get("mappingId", "")), int(version) if version.isdigit() else 0
        return None

    @property
    def delta_column(self) -> dict[str, Any] | None:
        """The ``deltaColumn`` set in the flow's Copy transformation, if any."""
        for transformation in self.transformations:
            if str(transformation.get("name", "")).lower() == "copy":
                value = (transformation.get("params") or {}).get("deltaColumn")
                if isinstance(value, dict):
                    return value
        return None


class ErrorInfo(ApiModel):
    """An error entry of a run (``{code, message}``; destinations add ``count`` and ``type``)."""

    code: str | None = None
    message: str | None = None
    count: int | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_to_str(cls, value: Any) -> Any:
        return None if value is None else str(value)


class DurationSummary(ApiModel):
    """Run timing in epoch ms (``completedAtUTC`` may be missing on failed runs)."""

    started_at_utc: int | None = Field(default=None, alias="startedAtUTC")
    # The destinations spec names it stoppedAtUTC; every example in Adobe's monitoring guides uses completedAtUTC.
    completed_at_utc: int | None = Field(
        default=None, alias="completedAtUTC", validation_alias=AliasChoices("completedAtUTC", "stoppedAtUTC")
    )


class SizeSummary(ApiModel):
    """Bytes read and written (``-1`` where unknown)."""

    input_bytes: int | None = None
    output_bytes: int | None = None


class RecordSummary(ApiModel):
    """Record counts of a run."""

    input_record_count: int | None = None
    output_record_count: int | None = None
    created_record_count: int | None = None
    updated_record_count: int | None = None
    skipped_record_count: int | None = None
    failed_record_count: int | None = None
    failed_info: list[ErrorInfo] = Field(default_factory=list)
    skipped_info: list[ErrorInfo] = Field(default_factory=list)


class FileSummary(ApiModel):
    """File counts of a run."""

    input_file_count: int | None = None
    output_file_count: int | None = None
    skipped_file_count: int | None = None
    failed_file_count: int | None = None


class StatusSummary(ApiModel):
    """``statusSummary``: the run status (mixed case in the wild) and its errors."""

    status: str | None = None
    errors: list[ErrorInfo] = Field(default_factory=list)


class RunMetrics(ApiModel):
    """``metrics`` of a run; every part may be missing while the run has not started."""

    duration_summary: DurationSummary = Field(default_factory=DurationSummary)
    size_summary: SizeSummary = Field(default_factory=SizeSummary)
    record_summary: RecordSummary = Field(default_factory=RecordSummary)
    file_summary: FileSummary = Field(default_factory=FileSummary)
    status_summary: StatusSummary = Field(default_factory=StatusSummary)


class Run(ApiModel):
    """A flow run with its metrics."""

    id: str
    flow_id: str | None = None
    etag: str | None = Field(default=None, validation_alias=AliasChoices("etag", "eTag"))
    created_at: int | None = None
    updated_at: int | None = None
    params: dict[str, Any] | None = None
    metrics: RunMetrics = Field(default_factory=RunMetrics)
    # The spec spells it "activites"; Adobe's monitoring guides and real payloads use "activities".
    activities: list[dict[str, Any]] = Field(
        default_factory=list, validation_alias=AliasChoices("activities", "activites")
    )

    @property
    def status(self) -> str:
        """The run status as the service sent it (``""`` when not reported yet)."""
        return self.metrics.status_summary.status or ""

    def window(self) -> tuple[int, int] | None:
        """The ``(windowStartTime, windowEndTime)`` in epoch seconds this run was created with."""
        params = self.params or {}
        start, end = params.get("windowStartTime"), params.get("windowEndTime")
        try:
            return (int(start), int(end)) if start is not None and end is not None else None
        except (TypeError, ValueError):
            return None


class DatasetInfo(ApiModel):
    """A dataset listed by the data lake source's ``activationDatasets`` configs."""

    id: str
    name: str | None = None
    state: str | None = None


# -- Data Prep (the Conversion Service): mapping sets ---------------------------------------------------

#: How Adobe's mapping-set guide shows a stored mapping's ``sourceType`` (``text/x.schema-path``), and the
#: spec's enum name for it (``ATTRIBUTE``); both are read as the enum name.
SOURCE_TYPE_MEDIA: dict[str, str] = {"text/x.schema-path": "ATTRIBUTE", "text/x.aep-xl": "EXPRESSION"}


def source_type_name(value: Any) -> str:
    """A mapping's ``sourceType`` as the spec names it (``ATTRIBUTE``, ``EXPRESSION``, ``STATIC``)."""
    text = str(value or "").strip()
    return SOURCE_TYPE_MEDIA.get(text.lower(), text.upper())


class SchemaRef(ApiModel):
    """``schemaRef`` of a mapping set's output schema: the XDM schema ``$id`` and its content type."""

    id: str
    content_type: str | None = None


class MappingSchema(ApiModel):
    """``outputSchema`` (or ``inputSchema``) of a mapping set."""

    id: str | None = None
    version: int | None = None
    schema_ref: SchemaRef | None = None


class Mapping(ApiModel):
    """One mapping of a mapping set: ``source`` (an attribute, an expression or a value) -> ``destination``."""

    source_type: str = "ATTRIBUTE"
    source: str = ""
    destination: str = ""
    name: str | None = None
    description: str | None = None
    id: str | None = None
    version: int | None = None

    # The spec's SourceType enum is ATTRIBUTE|EXPRESSION|STATIC; Adobe's mapping-set guide shows stored
    # mappings as text/x.schema-path: both are read as the enum name.
    @field_validator("source_type", mode="before")
    @classmethod
    def _source_type(cls, value: Any) -> Any:
        return source_type_name(value) if value is not None else "ATTRIBUTE"

    def key(self) -> tuple[str, str, str, str | None, str | None]:
        """What the mapping does (ids, versions and audit fields left out): compared by dataflows as code."""
        return (self.source_type, self.source, self.destination, self.name or None, self.description or None)


class MappingSet(ApiModel):
    """A mapping set at one version (``GET /mappingSets/{id}[?version=]``).

    Dates are epoch ms in Adobe's guide and date-time strings in the spec: both are kept as sent.
    """

    id: str
    version: int = 0
    name: str | None = None
    output_schema: MappingSchema | None = None
    mappings: list[Mapping] = Field(default_factory=list)
    created_date: int | str | None = None
    modified_date: int | str | None = None

    @property
    def output_schema_id(self) -> str | None:
        """The XDM schema ``$id`` the set maps to."""
        ref = self.output_schema.schema_ref if self.output_schema else None
        return ref.id if ref else None


class MappingSetRef(ApiModel):
    """What ``POST /mappingSets`` returns: the new set's id and version (0)."""

    id: str
    version: int = 0


class TransformError(ApiModel):
    """``TransformErrorInfo``: why one mapping (or one preview row's mapping) failed."""

    source: str | None = None
    destination: str | None = None
    source_type: str | None = None
    column_name: str | None = None
    exception: str | None = None

    @property
    def reason(self) -> str:
        """Adobe's reason, as one line."""
        return self.exception or "no reason given"


class MappingCheck(ApiModel):
    """One entry of ``validationResponse``: the result for the mapping at the same index."""

    status: str = ""
    errors: list[TransformError] = Field(default_factory=list)

    @field_validator("errors", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def ok(self) -> bool:
        return self.status.upper() == "SUCCESS" and not self.errors


class MappingValidation(ApiModel):
    """``POST /mappingSets/validate``: one :class:`MappingCheck` per mapping, in order."""

    validation_response: list[MappingCheck] = Field(default_factory=list)


class PreviewRow(ApiModel):
    """One row of ``POST /mappingSets/preview``: the mapped XDM ``data`` and the row's ``errors``."""

    data: Any = None
    errors: list[TransformError] = Field(default_factory=list)

    @field_validator("errors", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value
