"""Operator extra links into the Adobe Experience Platform UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_flowservice._compat import BaseOperatorLink, XCom
from airflow_flowservice.ui import RUN_URL_XCOM_KEY, run_url

__all__ = ["RUN_URL_XCOM_KEY", "FlowServiceRunLink", "run_url"]

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator


class FlowServiceRunLink(BaseOperatorLink):
    """Link "AEP dataflow run": the run's page in the AEP UI, pushed to XCom by the task."""

    name = "AEP dataflow run"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:  # type: ignore[override]
        value: Any = XCom.get_value(ti_key=ti_key, key=RUN_URL_XCOM_KEY)
        return str(value) if value else ""
