"""The first hour of a new user, in a real browser against the deployment tier's Airflow (issue 28).

Headless Chromium from Debian's packages (``chromium``, ``chromium-driver``), driven by selenium with
Debian's chromedriver, on the session's deployment (``tests/deployment/conftest.py``: no second Airflow):

- the Add Connection form of our connection type: labels, hidden fields, the defaults offered as
  suggestions and not saved; the form saves a connection with ``ui_tenant``;
- what the row's *Test Connection* button does in Airflow 3.3.2 (recorded, not asserted: it is Airflow's
  bug, docs/upstream/airflow-test-connection-port-0.md), and the README's REST call that works;
- a DAG run triggered with ``logical_date: null`` (the REST API's default): a task templating the data
  interval fails at once with the run operator's message; finished tasks' Details tab links to the
  run's page, with the tenant: a source dataflow's run page, an export dataflow's page in Destinations.

Screenshots go to ``$FLOWSERVICE_BROWSER_ARTIFACTS`` (default ``.test-artifacts/browser`` in the repository),
named in the session's summary. Without Chromium or its driver the tests fail, saying what to install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.conftest import Deployment

pytestmark = pytest.mark.deployment

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = Path(__file__).resolve().parent / "first_hour_dags" / "first_hour.py"
DAG_ID = "first_hour"
CONN_ID = "flowservice_first_hour"
TENANT = "acme"
POOL = "flowservice_first_hour"
ARTIFACTS = Path(os.environ.get("FLOWSERVICE_BROWSER_ARTIFACTS", ROOT / ".test-artifacts" / "browser"))
#: Chromium's flags on this kind of machine (no screen, a closed network, root): .library/env/machines/python.md.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1100",
)
#: The labels of our extra fields, as provider info declares them (required ones marked by the form).
EXTRA_LABELS = {
    "org_id": "IMS organization id",
    "sandbox": "Sandbox name",
    "scopes": "OAuth scopes",
    "ims_url": "IMS token URL",
    "api_url": "Flow Service base URL",
    "ui_tenant": "Experience Platform UI tenant",
}


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium for the module, its screenshots in :data:`ARTIFACTS`."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium = _find("chromium", "chromium-browser", "google-chrome")
        driver = _find("chromedriver", os.path.join(os.environ.get("CHROMEWEBDRIVER", "/nonexistent"), "chromedriver"))
        if not chromium or not driver:
            pytest.fail(
                f"the browser check needs Chromium and its driver (found browser={chromium}, driver={driver}): "
                "apt-get install -y chromium chromium-driver (.ci/run does)"
            )
        self.profile = tempfile.mkdtemp(prefix="flowservice-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # to read the requests pages send
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots: list[Path] = []
        self.network: dict[str, dict[str, Any]] = {}

    def wait(self, what: str, condition: Any, timeout: float = 30) -> Any:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout).until(condition)
        except TimeoutException:
            self.shot(f"timeout-{what.replace(' ', '-')[:40]}")
            raise AssertionError(f"the page never showed {what} (screenshot in {ARTIFACTS})") from None

    def element(self, by: str, value: str, timeout: float = 30) -> Any:
        from selenium.webdriver.support import expected_conditions as ec

        return self.wait(f"{by} {value}", ec.visibility_of_element_located((by, value)), timeout)

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.shots.append(path)
        return path

    def sent_to(self, url_part: str) -> list[dict[str, Any]]:
        """The requests the page sent to URLs containing ``url_part`` since :meth:`forget`: body, status, answer."""
        for entry in self.driver.get_log("performance"):  # each entry is read once: keep what it said
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.network[params["requestId"]] = {
                    "url": params["request"]["url"],
                    "body": params["request"].get("postData"),
                    "status": None,
                }
            elif message["method"] == "Network.responseReceived" and params["requestId"] in self.network:
                self.network[params["requestId"]]["status"] = params["response"]["status"]
            elif message["method"] == "Network.loadingFinished" and params["requestId"] in self.network:
                try:
                    body = self.driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": params["requestId"]})
                    self.network[params["requestId"]]["answer"] = body.get("body")
                except Exception:  # an answer the browser no longer holds: its status is enough
                    pass
        return [r for r in self.network.values() if url_part in r["url"]]

    def forget(self) -> None:
        self.sent_to("")
        self.network.clear()

    def quit(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(measured: list[str]) -> Iterator[Browser]:
    started = time.monotonic()
    b = Browser()
    try:
        yield b
    finally:
        b.quit()
        measured.append(
            f"browser check: {time.monotonic() - started:.1f}s of headless Chromium, {len(b.shots)} screenshots "
            f"in {ARTIFACTS}"
        )


def _conn_parts(dep: Deployment) -> dict[str, Any]:
    """Login, secret and extras of the deployment's emulator connection."""
    with dep.hook_env() as hook:
        conn = hook.get_connection("flowservice_default")
        return {"login": conn.login, "password": conn.password, "extra": json.loads(conn.extra)}


def test_add_connection_form_shows_our_fields_and_saves_no_default(
    deployment: Deployment, browser: Browser, measured: list[str]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from airflow_flowservice import auth
    from airflow_flowservice.hooks.flowservice import credentials_from_connection

    defaults = {"scopes": auth.DEFAULT_SCOPES, "ims_url": auth.DEFAULT_IMS_URL, "api_url": auth.DEFAULT_API_URL}
    dep, d = deployment, browser.driver
    started = time.monotonic()
    d.get(f"{dep.api_url}/connections")
    browser.element(By.XPATH, "//button[contains(., 'Add Connection')]").click()
    kind = browser.element(By.CSS_SELECTOR, "[role=dialog] input[role=combobox]")
    kind.send_keys("Adobe Experience Platform Flow Service")
    browser.element(By.XPATH, "//*[@role='option' and contains(., 'Adobe Experience Platform Flow Service')]")
    kind.send_keys(Keys.ENTER)
    dialog = browser.element(By.CSS_SELECTOR, "[role=dialog]")
    login = browser.element(By.NAME, "login")
    # Standard fields: relabelled, with placeholders; host, port and schema hidden.
    labels = [label.text.strip() for label in dialog.find_elements(By.TAG_NAME, "label") if label.text.strip()]
    assert "Client ID (API key)" in labels and "Client secret" in labels, labels
    assert login.get_attribute("placeholder") == "Developer Console OAuth Server-to-Server client id"
    assert dialog.find_elements(By.CSS_SELECTOR, "input[name=host], input[name=port], input[name=schema]") == []
    browser.shot("1-add-connection-standard-fields")
    parts = _conn_parts(dep)
    d.find_element(By.NAME, "connection_id").send_keys(CONN_ID)
    login.send_keys(parts["login"])
    d.find_element(By.NAME, "password").send_keys(parts["password"])

    # Extra fields: labels, required ones marked, defaults offered as suggestions and left empty.
    dialog.find_element(By.XPATH, ".//button[contains(., 'Extra Fields') and not(contains(., 'JSON'))]").click()
    browser.element(By.ID, "element_org_id")
    labels = [label.text for label in dialog.find_elements(By.TAG_NAME, "label") if label.text.strip()]
    shown = {name: next((t for t in labels if t.startswith(text)), None) for name, text in EXTRA_LABELS.items()}
    assert all(shown.values()), (shown, labels)
    assert "*" in shown["org_id"] and "*" in shown["sandbox"]  # type: ignore[operator]
    for name in ("scopes", "ims_url", "api_url"):
        field = d.find_element(By.ID, f"element_{name}")
        assert field.get_attribute("value") == "", name
        assert field.get_attribute("placeholder") == "Start typing to see options", name
        suggestions = d.find_elements(By.CSS_SELECTOR, f"datalist#list_{name} option")
        assert [o.get_attribute("value") for o in suggestions] == [defaults[name]], name
    browser.shot("2-add-connection-extra-fields")
    extra = parts["extra"]
    d.find_element(By.ID, "element_org_id").send_keys(extra["org_id"])
    d.find_element(By.ID, "element_sandbox").send_keys(extra["sandbox"])
    d.find_element(By.ID, "element_ims_url").send_keys(extra["ims_url"])  # the emulator's, not the default
    d.find_element(By.ID, "element_api_url").send_keys(extra["api_url"])
    d.find_element(By.ID, "element_ui_tenant").send_keys(TENANT)
    dialog.find_element(By.XPATH, ".//button[contains(., 'Save')]").click()
    row = browser.element(By.XPATH, f"//tbody/tr[contains(., '{CONN_ID}')]")
    browser.shot("3-connection-saved")

    saved = dep.get(f"/connections/{CONN_ID}")
    stored = json.loads(saved["extra"])
    assert stored.get("scopes") is None  # a field left empty saves no default (null: the hook's default)
    assert (stored["ui_tenant"], stored["sandbox"], saved["conn_type"]) == (TENANT, "dev", "adobe_flowservice")
    with dep.hook_env() as hook:
        conn = hook.get_connection("flowservice_default")
        conn.extra = saved["extra"]
        assert credentials_from_connection(conn).scopes == auth.DEFAULT_SCOPES  # what null means

    # The row's Test Connection button (Airflow 3.3.2 sends port 0 and is refused): recorded, not asserted.
    browser.forget()
    row.find_element(By.CSS_SELECTOR, "button[aria-label='Test Connection']").click()
    answered = browser.wait(
        "the test's answer",
        lambda _: [r for r in browser.sent_to("/connections/test") if "answer" in r or (r["status"] or 0) >= 400],
    )
    time.sleep(0.5)  # the toast
    browser.shot("4-row-test-connection")
    sent = answered[0]
    body = json.loads(sent["body"] or "{}")
    measured.append(
        f"form: saved through the browser in {time.monotonic() - started:.1f}s; the row's Test Connection sends "
        f"port={body.get('port')!r}, password={body.get('password')!r} -> HTTP {sent['status']} {sent.get('answer')}"
    )


def _readme_rest_block() -> str:
    from tests.docs.blocks import all_blocks

    (found,) = [b for b in all_blocks() if b.no_run_reason and "test_first_hour.py" in b.no_run_reason]
    assert "/api/v2/connections/test" in found.text
    return found.text


def test_the_readmes_rest_call_tests_a_stored_connection(deployment: Deployment, measured: list[str]) -> None:
    import httpx

    dep = deployment
    token = httpx.get(f"{dep.api_url}/auth/token", timeout=30).json()["access_token"]  # all-admins deployment
    env = {**os.environ, "AIRFLOW_URL": dep.api_url, "AIRFLOW_TOKEN": token}
    done = subprocess.run(["bash", "-e", "-c", _readme_rest_block()], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["status"] is True, answer
    assert answer["message"] == "Connected to Flow Service as org EMULATOR0000000000000000@AdobeOrg, sandbox 'dev'."
    measured.append(f"README's REST test call: {answer}")


def _setup_first_hour_dag(dep: Deployment, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The flows, connections and pool the DAG uses, then the DAG file itself; returns its ids."""
    from airflow_flowservice.operators import FlowServiceDatasetExportOperator
    from airflow_flowservice.testing.flows import create_table_flow

    s3 = {"conn_type": "aws", "login": "AKIAFIRSTHOUR", "password": "first-hour-s3-secret"}
    monkeypatch.setenv("AIRFLOW_CONN_FIRST_HOUR_S3", json.dumps(s3))
    for path, body in (
        ("/pools", {"name": POOL, "slots": 1, "include_deferred": False}),
        ("/connections", {"connection_id": "first_hour_s3", **s3}),
    ):
        response = dep.call("POST", path, json=body)
        assert response.status_code in (200, 201, 409), response.text
    if dep.call("GET", f"/connections/{CONN_ID}").status_code == 404:  # the form test did not save it
        parts = _conn_parts(dep)
        extra = json.dumps({**parts["extra"], "ui_tenant": TENANT})
        body = {"connection_id": CONN_ID, "conn_type": "adobe_flowservice", **parts, "extra": extra}
        assert dep.call("POST", "/connections", json=body).status_code in (200, 201), "connection"

    class TI:
        def xcom_push(self, key: str, value: Any) -> None:
            pass

    with dep.hook_env() as hook:
        now = int(dep.emulator("GET", "/clock")["now"])
        export = FlowServiceDatasetExportOperator(
            task_id="export",
            destination="amazon_s3",
            dataset_ids=["5ef3e3259ad2a1191ab7dd7d"],
            target={"bucket_name": "acme-exports", "path": "aep"},
            schedule={"time_unit": "hour", "interval": 3, "start_time": now - 7200},
            destination_conn_id="first_hour_s3",
            name="First hour export",
        )
        export_flow = export.execute({"ti": TI()})["flow_id"]  # type: ignore[arg-type]
        (export_run,) = hook.list_runs(export_flow)  # its catch-up run, finished on the emulator's clock
        ids = {"flow_id": create_table_flow(hook, name="flow_first_hour"), "export_run_id": export_run.id}
    ids["export_flow_id"] = export_flow
    dep.deploy_dag(DAG_FILE, first_hour=ids)
    dep.wait_for(
        "the first_hour DAG to be parsed",
        lambda: dep.call("GET", f"/dags/{DAG_ID}").status_code == 200,
        timeout=120,
        logs=("dag-processor",),
    )
    return ids


def test_a_run_without_logical_date_fails_clearly_and_links_open_the_right_pages(
    deployment: Deployment, browser: Browser, measured: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.by import By

    dep = deployment
    ids = _setup_first_hour_dag(dep, monkeypatch)
    run_id = dep.trigger(DAG_ID, "first_hour_no_logical_date", None)  # what the REST API sends by default
    dag_run = dep.wait_dag_run(DAG_ID, run_id, timeout=240)
    assert dag_run["logical_date"] is None

    # The task templating the data interval: failed at once, one try of three, with the run operator's message.
    ti = dep.task_instance(DAG_ID, run_id, "export_no_interval")
    assert (ti["state"], ti["try_number"]) == ("failed", 1), ti
    log = dep.task_log(DAG_ID, run_id, "export_no_interval", 1)
    assert "schedule: this DAG run has no data interval, and schedule templates it" in log, log[-3000:]
    assert "is undefined" not in log
    assert "Exception rendering Jinja template" not in log

    expected = {
        "ingest": "https://experience.adobe.com/#/@{t}/sname:dev/platform/source/dataflows/{flow}/activity/{run}",
        "export_run": "https://experience.adobe.com/#/@{t}/sname:dev/platform/destination/browse/{flow}",
    }
    started = time.monotonic()
    for number, task_id in enumerate(("ingest", "export_run"), start=5):
        ti = dep.task_instance(DAG_ID, run_id, task_id)
        assert ti["state"] == "success", ti
        entry = dep.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/run_id")
        run = str(entry["value"]).strip('"')
        flow = ids["flow_id"] if task_id == "ingest" else ids["export_flow_id"]
        url = expected[task_id].format(t=TENANT, flow=flow, run=run)
        browser.driver.get(f"{dep.api_url}/dags/{DAG_ID}/runs/{run_id}/tasks/{task_id}/details")
        link = browser.element(By.XPATH, "//a[contains(., 'AEP dataflow run')]", timeout=60)
        browser.shot(f"{number}-details-{task_id}")
        assert link.get_attribute("href") == url, (task_id, link.get_attribute("href"))
    measured.append(
        f"first hour DAG (logical_date null): export_no_interval failed with 1 of 3 tries and the no-data-interval "
        f"message; Details tab links checked in {time.monotonic() - started:.1f}s (source run page, destination "
        f"dataflow page, tenant {TENANT!r})"
    )
