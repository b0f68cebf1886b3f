"""Delete a flow (optionally with its connections, in a safe order) and enable or disable a flow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceNotFoundError
from airflow_flowservice.kinds import EntityKind
from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator, push_ref

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_flowservice.dataflows.delete import DeletePlan

_STATES = {"enable": "enable", "enabled": "enable", "disable": "disable", "disabled": "disable"}


class FlowServiceDeleteOperator(FlowServiceBaseOperator):
    """
    Delete a flow, and with ``cascade=True`` its source/target connections and their base connections.

    The order is always safe: the flow first, then its source and target connections, then the base
    connections (the service refuses to delete a connection a flow still uses). With ``cascade``,
    the flow is read first to find its connections; a base connection still used by a connection
    outside this dataflow is kept (the log says by which). ``dataflow_ids`` deletes exactly the ids
    returned by :class:`~airflow_flowservice.operators.FlowServiceCreateDataflowOperator`, with no
    reads, which also finishes a delete interrupted part-way.

    Returns ``[{"kind", "id", "action": "deleted"|"already deleted"|"kept", "reason"}, ...]``.

    """

    entity_id: str | None = argument("the entity to delete, a flow unless ``kind`` says otherwise. Default none.", None)
    kind: str = argument(
        "``flows`` (default), ``sourceConnections``, ``targetConnections`` or ``connections`` (base).", "flows"
    )
    cascade: bool = argument(
        "also delete what the entity depends on (connections, base connections).", False, templated=False
    )
    dataflow_ids: Mapping[str, str | None] | None = argument(
        'instead of ``entity_id``: ``{"flow_id", "source_connection_id", "target_connection_id", '
        '"base_connection_id"}`` (``None`` values skipped), e.g. ``create_dataflow.output``. Default none.',
        None,
    )
    missing_ok: bool = argument(
        'an entity that is already gone (404) is logged as "already deleted" instead of failing the task.',
        False,
        templated=False,
    )

    def execute(self, context: Context) -> list[dict[str, str]]:
        from airflow_flowservice.dataflows.delete import delete_entities

        plan = self._plan()
        if plan is None:
            return [{"kind": self.kind, "id": str(self.entity_id), "action": "already deleted", "reason": ""}]
        steps = delete_entities(self.hook, plan, missing_ok=self.missing_ok)
        return [{"kind": s.kind.value, "id": s.id, "action": s.action, "reason": s.reason} for s in steps]

    def _plan(self) -> DeletePlan | None:
        from airflow_flowservice.dataflows.delete import DeletePlan, plan_cascade
        from airflow_flowservice.validation import check_entity_id, parse_kind

        if (self.entity_id is None) == (self.dataflow_ids is None):
            raise FlowServiceConfigError("entity_id: give exactly one of entity_id or dataflow_ids")
        if self.dataflow_ids is not None:
            return self._plan_from_ids(self.dataflow_ids)
        kind = parse_kind(self.kind)
        entity_id = check_entity_id(self.entity_id, "entity_id")
        if not self.cascade:
            plan = DeletePlan()
            {
                EntityKind.FLOW: plan.flows,
                EntityKind.SOURCE_CONNECTION: plan.sources,
                EntityKind.TARGET_CONNECTION: plan.targets,
                EntityKind.BASE_CONNECTION: plan.bases,
            }[kind].append(entity_id)
            return plan
        try:
            return plan_cascade(self.hook, kind, entity_id)
        except FlowServiceNotFoundError:
            if not self.missing_ok:
                raise
            self.log.info(
                "%s %s: already deleted; what it used is unknown now (pass dataflow_ids to delete those)",
                kind.label.capitalize(),
                entity_id,
            )
            return None

    @staticmethod
    def _plan_from_ids(ids: Mapping[str, str | None]) -> DeletePlan:
        from airflow_flowservice.dataflows.delete import DeletePlan
        from airflow_flowservice.validation import check_dataflow_ids

        checked = check_dataflow_ids(ids)
        return DeletePlan(
            flows=[checked["flow_id"]] if "flow_id" in checked else [],
            sources=[checked["source_connection_id"]] if "source_connection_id" in checked else [],
            targets=[checked["target_connection_id"]] if "target_connection_id" in checked else [],
            bases=[checked["base_connection_id"]] if "base_connection_id" in checked else [],
        )


class FlowServiceSetFlowStateOperator(FlowServiceBaseOperator):
    """
    Enable or disable a published flow (``POST /flows/{id}/action?op=enable|disable``).

    A disabled flow runs no scheduled or on-demand runs. Setting the state it already has changes
    nothing. Returns the flow id; pushes XCom ``id`` and ``etag``.

    """

    flow_id: str = argument("the flow.")
    state: str = argument('``"enabled"`` or ``"disabled"`` (``"enable"``/``"disable"`` accepted).')

    def execute(self, context: Context) -> str:
        op = _STATES.get(str(self.state).strip().lower())
        if op is None:
            raise FlowServiceConfigError(f"state: must be 'enabled' or 'disabled' (got {self.state!r})")
        from airflow_flowservice.validation import check_entity_id

        flow_id = check_entity_id(self.flow_id, "flow_id")
        ref = self.hook.entity_action(EntityKind.FLOW, flow_id, op)
        self.log.info("Flow %s: %sd", flow_id, op)
        push_ref(context, ref.id, ref.etag)
        return ref.id
