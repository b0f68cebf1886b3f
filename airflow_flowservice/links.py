"""Operator extra links into the Adobe Experience Platform UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_flowservice._compat import BaseOperatorLink, XCom
from airflow_flowservice.ui import RUN_URL_ATTR, RUN_URL_XCOM_KEY, run_url

__all__ = ["RUN_URL_ATTR", "RUN_URL_XCOM_KEY", "FlowServiceRunLink", "run_url"]

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator


_NOT_SET = object()


class FlowServiceRunLink(BaseOperatorLink):
    """Link "AEP dataflow run": the run's page in the AEP UI, pushed to XCom by the task.

    Airflow 3 evaluates the link once, when a try ends, in the task's own process, and the UI shows
    what it stored. That process's operator knows whether its try reached a run: a try that failed
    before the run existed gets no link, without an XCom read that would log ``XCom not found``.
    Called with any other operator object, the link is read from XCom ``flowservice_run_url``.
    """

    name = "AEP dataflow run"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:  # type: ignore[override]
        known = getattr(operator, RUN_URL_ATTR, _NOT_SET)
        if known is not _NOT_SET:
            return str(known) if known else ""
        value: Any = XCom.get_value(ti_key=ti_key, key=RUN_URL_XCOM_KEY)
        return str(value) if value else ""
