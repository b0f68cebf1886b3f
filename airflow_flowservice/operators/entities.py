"""Create a base connection, a source connection, a target connection or a flow (live or as a draft).

Each operator validates its (rendered) arguments before any call, finds an entity of the same name
first (``if_exists``), returns the entity id (the task's XCom ``return_value``) and pushes XCom
``id`` and ``etag``, so later tasks chain with ``create.output`` (the id) or ``create.output["etag"]``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_flowservice.kinds import EntityKind
from airflow_flowservice.operators.base import FlowServiceBaseOperator, push_ref

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.dataflows.ensure import EnsuredEntity
    from airflow_flowservice.validation import IfExists

_CONN_TEMPLATE_FIELDS = ("name", "description", "connection_spec_id", "connection_spec_version", "extra_body")


class _CreateEntityOperator(FlowServiceBaseOperator):
    """Shared by the create operators: ``draft``, ``if_exists``, and the XCom pushes."""

    kind: ClassVar[EntityKind]

    def __init__(self, *, draft: bool = False, if_exists: IfExists = "reuse", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.draft = draft
        self.if_exists = if_exists

    def execute(self, context: Context) -> str:
        from airflow_flowservice.validation import check_if_exists

        if_exists = check_if_exists(self.if_exists)
        result = self.ensure(if_exists)
        push_ref(context, result.id, result.etag, created=result.created)
        return result.id

    @abstractmethod
    def ensure(self, if_exists: IfExists) -> EnsuredEntity:
        """Validate the input, then create or reuse the entity."""


class FlowServiceCreateBaseConnectionOperator(_CreateEntityOperator):
    """
    Create a base connection (an account: ``auth`` for one connection spec), or reuse one of the same name.

    Before creating, reads the connection spec and checks that ``auth_spec_name`` is one of its
    ``authSpec`` entries and that every param it requires is given, and, with ``draft=True``, that
    the spec supports drafts. Returns the id; pushes XCom ``id``, ``etag`` and ``created``.

    :param name: name of the base connection, unique in the sandbox (templated).
    :param connection_spec_id: connection spec id (UUID), e.g. ``"be5ec48c-5b78-49d5-b8fa-7c89ec4569b8"``
        for Azure File Storage (templated).
    :param auth_spec_name: the auth method, an ``authSpec[].name`` of the spec, e.g.
        ``"Basic Authentication"`` (templated). Omit for specs without credentials.
    :param auth_params: auth params, e.g. ``{"host": "...", "userid": "..."}`` (templated). Prefer
        ``auth_params_from_conn_id`` for secrets. They win over the connection's values.
    :param auth_params_from_conn_id: an Airflow connection whose fields supply auth params, so DAG
        files hold no secrets (templated). Default mapping: login -> ``username``, password ->
        ``password``, host -> ``host``, every extra key -> a param of that name. Default ``None``.
    :param auth_conn_fields: auth param -> connection field (``login``, ``password``, ``host``,
        ``schema``, ``port``, ``extra.<key>``), replacing the default mapping, e.g.
        ``{"userid": "login", "password": "password", "host": "extra.endpoint"}``.
    :param description: description (templated). Default none.
    :param connection_spec_version: connection spec version (templated). Default ``"1.0"``.
    :param extra_body: more top-level body fields, e.g. ``{"labels": [...]}`` (templated).
    :param draft: create with ``mode=draft`` (publish later). Default ``False``.
    :param if_exists: ``"reuse"`` (default) reuses a base connection of the same name and connection
        spec, and fails naming the existing id when the spec differs; ``"fail"`` fails on any.
    """

    kind = EntityKind.BASE_CONNECTION
    template_fields: Sequence[str] = (
        *_CONN_TEMPLATE_FIELDS,
        "auth_spec_name",
        "auth_params",
        "auth_params_from_conn_id",
    )

    def __init__(
        self,
        *,
        name: str,
        connection_spec_id: str,
        auth_spec_name: str | None = None,
        auth_params: dict[str, Any] | None = None,
        auth_params_from_conn_id: str | None = None,
        auth_conn_fields: Mapping[str, str] | None = None,
        description: str | None = None,
        connection_spec_version: str = "1.0",
        extra_body: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.connection_spec_id = connection_spec_id
        self.auth_spec_name = auth_spec_name
        self.auth_params = auth_params
        self.auth_params_from_conn_id = auth_params_from_conn_id
        self.auth_conn_fields = auth_conn_fields
        self.description = description
        self.connection_spec_version = connection_spec_version
        self.extra_body = extra_body

    def ensure(self, if_exists: IfExists) -> EnsuredEntity:
        from airflow_flowservice.dataflows.credentials import auth_params_from_connection
        from airflow_flowservice.dataflows.ensure import create_base_connection
        from airflow_flowservice.inputs import BaseConnectionInput
        from airflow_flowservice.validation import validate_input

        inp = validate_input(
            BaseConnectionInput,
            {
                "name": self.name,
                "description": self.description,
                "connection_spec_id": self.connection_spec_id,
                "connection_spec_version": self.connection_spec_version,
                "auth_spec_name": self.auth_spec_name,
                "auth_params": self.auth_params,
                "extra_body": self.extra_body,
            },
        )
        from_conn = (
            auth_params_from_connection(self.hook, self.auth_params_from_conn_id, self.auth_conn_fields)
            if self.auth_params_from_conn_id
            else None
        )
        return create_base_connection(self.hook, inp, draft=self.draft, if_exists=if_exists, auth_params=from_conn)


class _CreateConnectionOperator(_CreateEntityOperator):
    template_fields: Sequence[str] = (*_CONN_TEMPLATE_FIELDS, "base_connection_id", "data", "connection_params")

    def __init__(
        self,
        *,
        name: str,
        connection_spec_id: str,
        base_connection_id: str | None = None,
        data: dict[str, Any] | None = None,
        connection_params: dict[str, Any] | None = None,
        description: str | None = None,
        connection_spec_version: str = "1.0",
        extra_body: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.connection_spec_id = connection_spec_id
        self.base_connection_id = base_connection_id
        self.data = data
        self.connection_params = connection_params
        self.description = description
        self.connection_spec_version = connection_spec_version
        self.extra_body = extra_body

    def ensure(self, if_exists: IfExists) -> EnsuredEntity:
        from airflow_flowservice.dataflows.ensure import create_connection
        from airflow_flowservice.inputs import SourceConnectionInput, TargetConnectionInput
        from airflow_flowservice.validation import validate_input

        model = SourceConnectionInput if self.kind == EntityKind.SOURCE_CONNECTION else TargetConnectionInput
        inp = validate_input(
            model,
            {
                "name": self.name,
                "description": self.description,
                "connection_spec_id": self.connection_spec_id,
                "connection_spec_version": self.connection_spec_version,
                "base_connection_id": self.base_connection_id,
                "data": self.data,
                "params": self.connection_params,
                "extra_body": self.extra_body,
            },
            rename={"params": "connection_params"},
        )
        return create_connection(self.hook, self.kind, inp, draft=self.draft, if_exists=if_exists)


class FlowServiceCreateSourceConnectionOperator(_CreateConnectionOperator):
    """
    Create a source connection (what to read), or reuse one of the same name.

    With ``draft=True`` the connection spec must support drafts (checked first). Returns the id;
    pushes XCom ``id``, ``etag`` and ``created``.

    :param name: name, unique in the sandbox (templated).
    :param connection_spec_id: connection spec id (UUID) of the source (templated).
    :param base_connection_id: the base connection (account) it reads through (templated), e.g.
        ``create_base.output``. Default none (sources without an account, e.g. the data lake).
    :param data: the ``data`` block, e.g. ``{"format": "delimited"}`` (templated).
    :param connection_params: the ``params`` block, e.g. ``{"path": "/acme/account.csv", "type": "file"}``
        (templated; named so as not to clash with Airflow's ``params``).
    :param description: description (templated). Default none.
    :param connection_spec_version: connection spec version (templated). Default ``"1.0"``.
    :param extra_body: more top-level body fields (templated).
    :param draft: create with ``mode=draft``. Default ``False``.
    :param if_exists: ``"reuse"`` (default): reuse a source connection of the same name when its
        connection spec and base connection match, else fail naming the existing id; ``"fail"``.
    """

    kind = EntityKind.SOURCE_CONNECTION


class FlowServiceCreateTargetConnectionOperator(_CreateConnectionOperator):
    """
    Create a target connection (where to write), or reuse one of the same name.

    With ``draft=True`` the connection spec must support drafts (checked first). Returns the id;
    pushes XCom ``id``, ``etag`` and ``created``.

    :param name: name, unique in the sandbox (templated).
    :param connection_spec_id: connection spec id (UUID), e.g. the data lake
        ``"c604ff05-7f1a-43c0-8e18-33bf874cb11c"`` (templated).
    :param base_connection_id: the base connection it writes through (templated). Default none
        (the data lake target needs none).
    :param data: the ``data`` block, e.g. ``{"schema": {"id": "...", "version": "..."}}`` (templated).
    :param connection_params: the ``params`` block, e.g. ``{"dataSetId": "..."}`` (templated).
    :param description: description (templated). Default none.
    :param connection_spec_version: connection spec version (templated). Default ``"1.0"``.
    :param extra_body: more top-level body fields (templated).
    :param draft: create with ``mode=draft``. Default ``False``.
    :param if_exists: ``"reuse"`` (default) or ``"fail"``, as for source connections.
    """

    kind = EntityKind.TARGET_CONNECTION


class FlowServiceCreateFlowOperator(_CreateEntityOperator):
    """
    Create a dataflow joining source and target connections, or reuse one of the same name.

    ``schedule_params`` are checked like the flow spec's schedule before any call. With
    ``draft=True`` the flow spec must support drafts (checked first) and connections and schedule
    may be left out. Returns the flow id; pushes XCom ``id``, ``etag`` and ``created``.

    :param name: name, unique in the sandbox (templated).
    :param flow_spec_id: flow spec id (UUID) (templated). Give this or ``flow_spec_name``.
    :param flow_spec_name: flow spec name, e.g. ``"CloudStorageToAEP"``, looked up once (templated).
    :param source_connection_ids: source connection id(s) (templated), e.g. ``[create_source.output]``.
    :param target_connection_ids: target connection id(s) (templated).
    :param schedule_params: ``{"start_time": <epoch seconds>, "frequency": "once|minute|hour|day|week",
        "interval": <n>, "backfill": <bool>}`` (templated; ``startTime`` spelling accepted). ``start_time``
        takes epoch seconds, a digit string, an aware datetime or an ISO 8601 string with offset
        (``"{{ data_interval_start }}"``); ``interval`` >= 15 for ``minute``, none with ``once``.
        Required unless ``draft``.
    :param transformations: e.g. ``[{"name": "Mapping", "params": {"mappingId": "...", "mappingVersion": "0"}}]``
        (templated). Default none.
    :param description: description (templated). Default none.
    :param flow_spec_version: flow spec version (templated). Default ``"1.0"``.
    :param extra_body: more top-level body fields, e.g. ``{"options": {"partialIngestionPercent": 5}}``
        (templated).
    :param draft: create with ``mode=draft``. Default ``False``.
    :param if_exists: ``"reuse"`` (default): reuse a flow of the same name when its flow spec (and the
        given connections) match, else fail naming the existing id; ``"fail"``.
    """

    kind = EntityKind.FLOW
    template_fields: Sequence[str] = (
        "name",
        "description",
        "flow_spec_id",
        "flow_spec_name",
        "flow_spec_version",
        "source_connection_ids",
        "target_connection_ids",
        "transformations",
        "schedule_params",
        "extra_body",
    )

    def __init__(
        self,
        *,
        name: str,
        flow_spec_id: str | None = None,
        flow_spec_name: str | None = None,
        source_connection_ids: Sequence[str] | str | None = None,
        target_connection_ids: Sequence[str] | str | None = None,
        schedule_params: Mapping[str, Any] | None = None,
        transformations: list[dict[str, Any]] | None = None,
        description: str | None = None,
        flow_spec_version: str = "1.0",
        extra_body: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.flow_spec_id = flow_spec_id
        self.flow_spec_name = flow_spec_name
        self.source_connection_ids = source_connection_ids
        self.target_connection_ids = target_connection_ids
        self.schedule_params = schedule_params
        self.transformations = transformations
        self.description = description
        self.flow_spec_version = flow_spec_version
        self.extra_body = extra_body

    def ensure(self, if_exists: IfExists) -> EnsuredEntity:
        from airflow_flowservice.dataflows.ensure import create_flow
        from airflow_flowservice.inputs import FlowInput
        from airflow_flowservice.validation import validate_input

        inp = validate_input(
            FlowInput,
            {
                "name": self.name,
                "description": self.description,
                "flow_spec_id": self.flow_spec_id,
                "flow_spec_name": self.flow_spec_name,
                "flow_spec_version": self.flow_spec_version,
                "source_connection_ids": self.source_connection_ids,
                "target_connection_ids": self.target_connection_ids,
                "transformations": self.transformations,
                "schedule_params": self.schedule_params,
                "extra_body": self.extra_body,
            },
            context={"draft": self.draft},
        )
        return create_flow(self.hook, inp, draft=self.draft, if_exists=if_exists)
