"""Flow Service triggers (deferrable waits)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["FlowServiceRunTrigger"]

if TYPE_CHECKING:
    from airflow_flowservice.triggers.run import FlowServiceRunTrigger


def __getattr__(name: str) -> Any:
    if name == "FlowServiceRunTrigger":
        from airflow_flowservice.triggers.run import FlowServiceRunTrigger

        return FlowServiceRunTrigger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
