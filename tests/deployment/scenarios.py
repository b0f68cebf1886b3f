"""What the deployment scenarios of both tiers share (``test_deployment.py`` and ``celery/``): windows and run counts.

Every DAG of these tiers has hourly data intervals in 2024-01-01 (see ``dags/deployment_dags.py``);
a scenario names a window by its hour.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.deployment.conftest import Deployment

HOUR = 3600
JAN1_2024 = 1704067200


def window(hour: int) -> tuple[int, int]:
    """The window 2024-01-01T{hour}:00Z + 1 hour, in epoch seconds."""
    return JAN1_2024 + hour * HOUR, JAN1_2024 + (hour + 1) * HOUR


def manual_window(hour: int) -> tuple[int, int]:
    """The window of a manual run with logical date 2024-01-01T{hour}:00Z: the hour that ends then.

    (A backfill's runs start their data interval at the logical date instead.)
    """
    return window(hour - 1)


def logical_date(hour: int) -> str:
    return f"2024-01-01T{hour:02d}:00:00+00:00"


def one_run_per_window(dep: Deployment, flow_id: str, expected: set[tuple[int, int]]) -> None:
    per_window = dep.runs_per_window(flow_id)
    assert set(per_window) == expected, per_window
    assert set(per_window.values()) == {1}, per_window


def instant(value: Any) -> float:
    """An instant of the REST API (``2024-01-01T00:00:00.123Z``) in epoch seconds."""
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
