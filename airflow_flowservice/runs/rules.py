"""The rules Flow Service applies to an on-demand run, explained when it refuses one.

Adobe's "Create a flow run for on-demand ingestion" guide: the flow must be published and scheduled
``once`` (error 1386), a table-based source's first run needs a ``deltaColumn`` (1383), a file-based
one takes none, and the ``deltaColumn`` cannot change after the first run (1382). The run operator
does not read the flow before ``POST /runs`` (a new window costs 3 calls); when the service refuses
the run, :func:`explain_refusal` reads the flow once and raises the rule it breaks, naming the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.kinds import EntityKind

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Flow


def explain_refusal(hook: FlowServiceHook, flow_id: str, delta: dict[str, str] | None) -> Flow:
    """After the service refused ``POST /runs``: read the flow and raise the rule of :func:`check_flow` it breaks.

    Returns the flow when no rule explains the refusal (the caller re-raises the service's error).
    """
    flow = hook.get_flow(flow_id)
    check_flow(hook, flow, delta)
    return flow


def check_flow(hook: FlowServiceHook, flow: Flow, delta: dict[str, str] | None) -> None:
    """Raise :class:`FlowServiceConfigError` naming the rule of on-demand runs ``flow`` breaks with ``delta``."""
    if flow.is_draft:
        raise FlowServiceConfigError(
            f"flow_id: flow {flow.id} is a draft; publish it first (FlowServicePublishOperator)"
        )
    frequency = (flow.schedule_params.frequency if flow.schedule_params else None) or "none"
    if frequency.lower() != "once":
        raise FlowServiceConfigError(
            f"flow_id: flow {flow.id} is scheduled with frequency {frequency!r}; on-demand runs need a flow "
            "scheduled 'once' (Flow Service error 1386-400). Create the flow with "
            "schedule_params={'frequency': 'once', ...}"
        )
    current = flow.delta_column
    if current is not None:
        if delta is not None and delta.get("name") != current.get("name"):
            raise FlowServiceConfigError(
                f"delta_column: {delta['name']!r} differs from the flow's deltaColumn {current.get('name')!r}, "
                "set by its first run; it cannot change (Flow Service error 1382-400). Pass "
                f"delta_column={current.get('name')!r} or leave it out"
            )
        return  # already on the flow: the service takes it from the Copy transformation
    tabular = any(is_tabular_source(hook, source_id) for source_id in flow.source_connection_ids)
    if tabular and delta is None:
        raise FlowServiceConfigError(
            f"delta_column: flow {flow.id} reads a table and has no deltaColumn yet; its first run needs one "
            "(Flow Service error 1383-400), e.g. delta_column='updated_at'"
        )
    if not tabular and delta is not None:
        raise FlowServiceConfigError(
            f"delta_column: flow {flow.id} reads files, which take no deltaColumn; remove delta_column"
        )


def is_tabular_source(hook: FlowServiceHook, source_id: str) -> bool:
    """Whether a source connection reads a table (``data.format == "tabular"``), not files."""
    from airflow_flowservice.models import SourceConnection

    source = hook.get_entity(EntityKind.SOURCE_CONNECTION, source_id)
    assert isinstance(source, SourceConnection)
    return str((source.data or {}).get("format", "")).lower() == "tabular"
