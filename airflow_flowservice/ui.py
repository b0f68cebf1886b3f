"""Pages of the Adobe Experience Platform UI that tasks link to (light: imported when DAG files are parsed)."""

from __future__ import annotations

RUN_URL_XCOM_KEY = "flowservice_run_url"
"""XCom key of the run's URL in the Experience Platform UI (read by the extra link)."""

RUN_URL_ATTR = "_flowservice_run_url"
"""Attribute of a run-producing task holding its try's run URL (``None`` until the run is known).

Airflow 3 asks for a task's extra links once, at the end of each try, in the task's own process:
the link reads this attribute instead of an XCom that a try which failed early never pushed.
"""


AEP_UI = "https://experience.adobe.com/#/@{org}/sname:{sandbox}/platform/source/dataflows/{flow_id}"


def run_url(org_id: str, sandbox: str, flow_id: str, run_id: str | None = None) -> str:
    """The Experience Platform UI page of a dataflow's activity, or of one of its runs."""
    url = AEP_UI.format(org=org_id, sandbox=sandbox, flow_id=flow_id) + "/activity"
    return f"{url}/{run_id}" if run_id else url
