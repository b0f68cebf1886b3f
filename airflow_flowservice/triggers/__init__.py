"""Flow Service triggers: deferrable waits, and an event trigger for asset watchers (lazy imports)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_flowservice.registry import TRIGGERS, lazy_getattr

__all__ = sorted(TRIGGERS)
__getattr__ = lazy_getattr(__name__, TRIGGERS)

if TYPE_CHECKING:  # for type checkers and IDEs; tests/unit/test_registry.py keeps it equal to the registry
    from airflow_flowservice.triggers.run import FlowServiceRunTrigger
    from airflow_flowservice.triggers.run_event import FlowServiceRunEventTrigger
