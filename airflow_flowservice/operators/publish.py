"""Publish drafts in dependency order: base connection -> source and target connections -> flow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.kinds import EntityKind
from airflow_flowservice.operators.arguments import argument
from airflow_flowservice.operators.base import FlowServiceBaseOperator, push_ref

if TYPE_CHECKING:
    from airflow.sdk import Context


class FlowServicePublishOperator(FlowServiceBaseOperator):
    """
    Publish a draft flow (or connection) and the drafts it depends on, in dependency order.

    Reads the entity; for a flow, its source and target connections, and the base connections of
    the ones still in draft; then publishes what is still a draft: base connections, then source
    and target connections, then the flow (``POST /{kind}/{id}/action?op=publish``). What is
    already published is skipped, so a re-run after a partial failure finishes the job; a published
    flow costs one read (its dependencies must be published already).

    Given ``dataflow_ids`` (the output of
    :class:`~airflow_flowservice.operators.FlowServiceCreateDataflowOperator`), the order is known
    and nothing is read: each part is published with one call (4 for a dataflow). A part the service
    refuses to publish is read back and skipped if it is already published; otherwise the task fails
    naming the parts published before it.

    Returns ``{"id", "etag", "published": [ids in order], "already_published": [ids]}`` and pushes
    XCom ``id`` and ``etag`` of the entity itself.

    """

    flow_id: str | None = argument("the flow to publish, e.g. ``create_flow.output``. Default none.", None)
    entity_id: str | None = argument("instead of ``flow_id``: any entity id, with ``kind``. Default none.", None)
    kind: str = argument(
        "the kind of ``entity_id``: ``flows``, ``connections`` (base), ``sourceConnections`` or ``targetConnections``.",
        "flows",
    )
    dataflow_ids: Mapping[str, str | None] | None = argument(
        'instead of ``flow_id``: ``{"base_connection_id", "source_connection_id", "target_connection_id", '
        '"flow_id"}`` (``None`` values skipped), e.g. ``create_dataflow.output``. Default none.',
        None,
    )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_flowservice.dataflows.publish import publish_dataflow, publish_in_order
        from airflow_flowservice.validation import check_dataflow_ids, check_entity_id, parse_kind

        given = [name for name in ("flow_id", "entity_id", "dataflow_ids") if getattr(self, name) is not None]
        if len(given) != 1:
            raise FlowServiceConfigError(
                "flow_id: give exactly one of flow_id, entity_id (with kind) or dataflow_ids"
                + (f" (got {' and '.join(given)})" if given else "")
            )
        if self.dataflow_ids is not None:
            ids = check_dataflow_ids(self.dataflow_ids)
            if not ids:
                raise FlowServiceConfigError("dataflow_ids: holds no id; pass create_dataflow.output")
            steps = publish_dataflow(self.hook, ids)
        elif self.flow_id is not None:
            steps = publish_in_order(self.hook, EntityKind.FLOW, check_entity_id(self.flow_id, "flow_id"))
        else:
            kind, entity_id = parse_kind(self.kind), check_entity_id(self.entity_id, "entity_id")
            steps = publish_in_order(self.hook, kind, entity_id)
        root = steps[-1]
        push_ref(context, root.id, root.etag)
        return {
            "id": root.id,
            "etag": root.etag,
            "published": [s.id for s in steps if s.action == "published"],
            "already_published": [s.id for s in steps if s.action == "already published"],
        }
