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


class FlowServiceRunLink(BaseOperatorLink):
    """Link "AEP dataflow run": the run's page in the AEP UI, pushed to XCom by the task."""

    name = "AEP dataflow run"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:  # type: ignore[override]
        value: Any = XCom.get_value(ti_key=ti_key, key=RUN_URL_XCOM_KEY)
        return str(value) if value else ""
