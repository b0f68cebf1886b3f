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
from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator, push_ref

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.dataflows.ensure import EnsuredEntity
    from airflow_flowservice.validation import IfExists


class _CreateEntityOperator(FlowServiceBaseOperator):
    """Shared by the create operators: ``draft``, ``if_exists``, the input model and the XCom pushes."""

    kind: ClassVar[EntityKind]
    #: The pydantic model (in ``airflow_flowservice.inputs``) the validated arguments are checked with.
    input_model: ClassVar[str]

    draft: bool = argument(
        "create with ``mode=draft`` (publish it later); the spec must support drafts (checked first).",
        False,
        templated=False,
        validated=False,
    )
    if_exists: IfExists = argument(
        '``"reuse"`` (default) reuses an entity of the same name when what it was created from matches (spec, '
        'connections), and fails naming the existing id when it does not; ``"fail"`` fails on any.',
        "reuse",
        templated=False,
        validated=False,
    )

    def execute(self, context: Context) -> str:
        from airflow_flowservice.validation import check_if_exists

        if_exists = check_if_exists(self.if_exists)
        result = self.ensure(if_exists)
        push_ref(context, result.id, result.etag, created=result.created)
        return result.id

    @abstractmethod
    def ensure(self, if_exists: IfExists) -> EnsuredEntity:
        """Validate the input, then create or reuse the entity."""

    def validated(self, **options: Any) -> Any:
        """The validated arguments as an instance of :attr:`input_model` (a config error names the bad one)."""
        from airflow_flowservice import inputs
        from airflow_flowservice.validation import validate_input

        return validate_input(getattr(inputs, self.input_model), self.model_input(), **options)


class _CreateConnectionBase(_CreateEntityOperator):
    """The arguments every connection (base, source or target) has."""

    name: str = argument("name, unique in the sandbox.")
    connection_spec_id: str = argument(
        'connection spec id (UUID), e.g. ``"be5ec48c-5b78-49d5-b8fa-7c89ec4569b8"`` (Azure File Storage).'
    )
    description: str | None = argument("description. Default none.", None)
    connection_spec_version: str = argument("connection spec version.", "1.0")
    extra_body: dict[str, Any] | None = argument(
        'more top-level body fields, e.g. ``{"labels": [...]}``. Default none.', None
    )


class FlowServiceCreateBaseConnectionOperator(_CreateConnectionBase):
    """
    Create a base connection (an account: ``auth`` for one connection spec), or reuse one of the same name.

    Before creating, reads the connection spec and checks that ``auth_spec_name`` is one of its
    ``authSpec`` entries and that every param it requires is given, and, with ``draft=True``, that
    the spec supports drafts. Returns the id; pushes XCom ``id``, ``etag`` and ``created``.
    """

    kind = EntityKind.BASE_CONNECTION
    input_model = "BaseConnectionInput"

    auth_spec_name: str | None = argument(
        'the auth method, an ``authSpec[].name`` of the spec, e.g. ``"Basic Authentication"``. Omit for '
        "specs without credentials.",
        None,
    )
    auth_params: dict[str, Any] | None = argument(
        'auth params, e.g. ``{"host": "...", "userid": "..."}``. Prefer ``auth_params_from_conn_id`` for '
        "secrets; these win over the connection's values. Default none.",
        None,
    )
    auth_params_from_conn_id: str | None = argument(
        "an Airflow connection whose fields supply auth params, so DAG files hold no secrets. Default mapping: "
        "login -> ``username``, password -> ``password``, host -> ``host``, every extra key -> a param of that "
        "name. Default none.",
        None,
        validated=False,
    )
    auth_conn_fields: Mapping[str, str] | None = argument(
        "auth param -> connection field (``login``, ``password``, ``host``, ``schema``, ``port``, "
        '``extra.<key>``), replacing the default mapping, e.g. ``{"userid": "login", "password": '
        '"password", "host": "extra.endpoint"}``. Default none.',
        None,
        templated=False,
        validated=False,
    )

    def ensure(self, if_exists: IfExists) -> EnsuredEntity:
        from airflow_flowservice.dataflows.credentials import auth_params_from_connection
        from airflow_flowservice.dataflows.ensure import create_base_connection

        inp = self.validated()
        from_conn = (
            auth_params_from_connection(self.hook, self.auth_params_from_conn_id, self.auth_conn_fields)
            if self.auth_params_from_conn_id
            else None
        )
        return create_base_connection(self.hook, inp, draft=self.draft, if_exists=if_exists, auth_params=from_conn)


class _CreateConnectionOperator(_CreateConnectionBase):
    """A source or target connection: the base connection it goes through, its ``data`` and ``params``."""

    base_connection_id: str | None = argument(
        "the base connection (account) it goes through, e.g. ``create_base.output``. Default none (the data "
        "lake needs none).",
        None,
    )
    data: dict[str, Any] | None = argument(
        'the ``data`` block, e.g. ``{"format": "delimited"}`` for a source or ``{"schema": {"id": '
        '"...", "version": "..."}}`` for a target. Default none.',
        None,
    )
    connection_params: dict[str, Any] | None = argument(
        'the ``params`` block, e.g. ``{"path": "/acme/account.csv", "type": "file"}`` for a source or '
        '``{"dataSetId": "..."}`` for a target (named so as not to clash with Airflow\'s ``params``). '
        "Default none.",
        None,
        model_field="params",
    )

    def ensure(self, if_exists: IfExists) -> EnsuredEntity:
        from airflow_flowservice.dataflows.ensure import create_connection

        inp = self.validated(rename={"params": "connection_params"})
        return create_connection(self.hook, self.kind, inp, draft=self.draft, if_exists=if_exists)


class FlowServiceCreateSourceConnectionOperator(_CreateConnectionOperator):
    """
    Create a source connection (what to read), or reuse one of the same name.

    With ``draft=True`` the connection spec must support drafts (checked first). ``if_exists="reuse"``
    reuses a source connection of the same name when its connection spec and base connection match.
    Returns the id; pushes XCom ``id``, ``etag`` and ``created``.
    """

    kind = EntityKind.SOURCE_CONNECTION
    input_model = "SourceConnectionInput"


class FlowServiceCreateTargetConnectionOperator(_CreateConnectionOperator):
    """
    Create a target connection (where to write), or reuse one of the same name.

    With ``draft=True`` the connection spec must support drafts (checked first); the data lake target
    (``"c604ff05-7f1a-43c0-8e18-33bf874cb11c"``) needs no base connection. Returns the id; pushes XCom
    ``id``, ``etag`` and ``created``.
    """

    kind = EntityKind.TARGET_CONNECTION
    input_model = "TargetConnectionInput"


class FlowServiceCreateFlowOperator(_CreateEntityOperator):
    """
    Create a dataflow joining source and target connections, or reuse one of the same name.

    ``schedule_params`` are checked like the flow spec's schedule before any call. With
    ``draft=True`` the flow spec must support drafts (checked first) and connections and schedule
    may be left out. ``if_exists="reuse"`` reuses a flow of the same name when its flow spec (and the
    given connections) match. Returns the flow id; pushes XCom ``id``, ``etag`` and ``created``.
    """

    kind = EntityKind.FLOW
    input_model = "FlowInput"

    name: str = argument("name, unique in the sandbox.")
    flow_spec_id: str | None = argument("flow spec id (UUID). Give this or ``flow_spec_name``.", None)
    flow_spec_name: str | None = argument(
        'flow spec name, e.g. ``"CloudStorageToAEP"``, looked up once. Give this or ``flow_spec_id``.', None
    )
    source_connection_ids: Sequence[str] | str | None = argument(
        "source connection id(s), e.g. ``[create_source.output]``. Required unless ``draft``.", None
    )
    target_connection_ids: Sequence[str] | str | None = argument(
        "target connection id(s). Required unless ``draft``.", None
    )
    schedule_params: Mapping[str, Any] | None = argument(
        '``{"start_time": <epoch seconds>, "frequency": "once|minute|hour|day|week", "interval": <n>, '
        '"backfill": <bool>}`` (``startTime`` spelling accepted). ``start_time`` takes epoch seconds, a digit '
        'string, an aware datetime or an ISO 8601 string with offset (``"{{ data_interval_start }}"``); '
        "``interval`` >= 15 for ``minute``, none with ``once``. Required unless ``draft``.",
        None,
    )
    transformations: list[dict[str, Any]] | None = argument(
        'e.g. ``[{"name": "Mapping", "params": {"mappingId": "...", "mappingVersion": "0"}}]``. Default none.',
        None,
    )
    description: str | None = argument("description. Default none.", None)
    flow_spec_version: str = argument("flow spec version.", "1.0")
    extra_body: dict[str, Any] | None = argument(
        'more top-level body fields, e.g. ``{"options": {"partialIngestionPercent": 5}}``. Default none.', None
    )

    def ensure(self, if_exists: IfExists) -> EnsuredEntity:
        from airflow_flowservice.dataflows.ensure import create_flow

        inp = self.validated(context={"draft": self.draft})
        return create_flow(self.hook, inp, draft=self.draft, if_exists=if_exists)
