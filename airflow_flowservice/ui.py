"""Pages of the Adobe Experience Platform UI that tasks link to (light: imported when DAG files are parsed).

Where the addresses come from (``docs/lineage.md``, "The run link"):

- a **source** dataflow's run: ``.../platform/source/dataflows/{flow}/activity/{run}``, verbatim in the
  ``url`` of Adobe's standard alert payloads ("Sources Flow Run Delay", ``help/observability/alerts``);
- a **destination** (dataset export) dataflow: ``.../platform/destination/browse/{flow}``, the dataflow's
  page in the Destinations workspace's *Browse* tab, whose *Dataflow runs* tab lists its runs (Adobe's
  "Monitor dataflows for destinations in the UI"; the flow id in the address is the "destination instance
  id" Adobe's Destination SDK testing guide reads from it). Adobe documents no address of one run of a
  destination dataflow, so the link opens the dataflow's runs, and the task log names the run id.

``@{tenant}``: Adobe's alert payloads put the IMS org id there (the default); the UI's own address bar
shows the org's tenant name (``@acme``), which the connection's extra ``ui_tenant`` sets.
"""

from __future__ import annotations

RUN_URL_XCOM_KEY = "flowservice_run_url"
"""XCom key of the run's URL in the Experience Platform UI (read by the extra link)."""

RUN_URL_ATTR = "_flowservice_run_url"
"""Attribute of a run-producing task holding its try's run URL (``None`` until the run is known).

Airflow 3 asks for a task's extra links once, at the end of each try, in the task's own process:
the link reads this attribute instead of an XCom that a try which failed early never pushed.
"""

AEP_UI = "https://experience.adobe.com/#/@{org}/sname:{sandbox}/platform"
SOURCE_DATAFLOW = AEP_UI + "/source/dataflows/{flow_id}"
DESTINATION_DATAFLOW = AEP_UI + "/destination/browse/{flow_id}"


def run_url(
    org_id: str,
    sandbox: str,
    flow_id: str,
    run_id: str | None = None,
    *,
    tenant: str | None = None,
    destination: bool = False,
) -> str:
    """The Experience Platform UI page of a dataflow's runs, or of one of its runs.

    :param org_id: the IMS org id, in the address unless ``tenant`` is given.
    :param sandbox: the sandbox name.
    :param flow_id: the dataflow.
    :param run_id: the run (a source dataflow's run page; ignored for a destination dataflow, whose runs
        are listed on its page).
    :param tenant: the org's tenant name in UI addresses (connection extra ``ui_tenant``); default the org id.
    :param destination: a destination (dataset export) dataflow: its page in the Destinations workspace.
    """
    org = tenant or org_id
    if destination:
        return DESTINATION_DATAFLOW.format(org=org, sandbox=sandbox, flow_id=flow_id)
    url = SOURCE_DATAFLOW.format(org=org, sandbox=sandbox, flow_id=flow_id) + "/activity"
    return f"{url}/{run_id}" if run_id else url
