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
    attributes: dict[str, Any] = Field(default_factory=dict)

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
