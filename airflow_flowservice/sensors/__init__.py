"""Flow Service sensors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["FlowServiceRunSensor"]

if TYPE_CHECKING:
    from airflow_flowservice.sensors.run import FlowServiceRunSensor


def __getattr__(name: str) -> Any:
    if name == "FlowServiceRunSensor":
        from airflow_flowservice.sensors.run import FlowServiceRunSensor

        return FlowServiceRunSensor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
