"""Flow Service sensors. Imported lazily (``airflow_flowservice.registry``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_flowservice.registry import SENSORS, lazy_getattr

__all__ = sorted(SENSORS)
__getattr__ = lazy_getattr(__name__, SENSORS)

if TYPE_CHECKING:  # for type checkers and IDEs; tests/unit/test_registry.py keeps it equal to the registry
    from airflow_flowservice.sensors.run import FlowServiceRunSensor
