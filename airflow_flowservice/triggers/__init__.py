"""Flow Service triggers: deferrable waits, and an event trigger for asset watchers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["FlowServiceRunEventTrigger", "FlowServiceRunTrigger"]

if TYPE_CHECKING:
    from airflow_flowservice.triggers.run import FlowServiceRunTrigger
    from airflow_flowservice.triggers.run_event import FlowServiceRunEventTrigger


def __getattr__(name: str) -> Any:
    if name == "FlowServiceRunTrigger":
        from airflow_flowservice.triggers.run import FlowServiceRunTrigger

        return FlowServiceRunTrigger
    if name == "FlowServiceRunEventTrigger":
        from airflow_flowservice.triggers.run_event import FlowServiceRunEventTrigger

        return FlowServiceRunEventTrigger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
