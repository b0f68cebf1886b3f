"""Operator extra links into the Adobe Experience Platform UI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator

RUN_URL_XCOM_KEY = "flowservice_run_url"
AEP_UI = "https://experience.adobe.com/#/@{org}/sname:{sandbox}/platform/source/dataflows/{flow_id}"


def run_url(org_id: str, sandbox: str, flow_id: str, run_id: str | None = None) -> str:
    """The AEP UI page of a dataflow's activity, or of one of its runs (notes §7)."""
    url = AEP_UI.format(org=org_id, sandbox=sandbox, flow_id=flow_id) + "/activity"
    return f"{url}/{run_id}" if run_id else url


#: Attribute the run-producing operators and the sensor set to this try's run page (``None`` until
#: the run is known). The task runner asks for the link at the end of each try, in the task's process.
RUN_URL_ATTR = "_flowservice_run_url"
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
