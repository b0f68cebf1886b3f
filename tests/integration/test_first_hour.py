"""The first hour of a user (issue 28), against the emulator: example DAGs that fail loudly and log through
``logging``, the dates in operator logs, the run link of an export flow, and what the examples return."""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from tests.example_connections import CREDENTIALS, set_credentials

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
COMPONENTS = ("dag-processor", "worker", "triggerer")


def _docstring(example: str) -> str:
    return ast.get_docstring(ast.parse((EXAMPLES / example).read_text())) or ""


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_credentials(monkeypatch)


@pytest.fixture
def dags_folder() -> Iterator[Path]:
    """The session's DAGs folder; the example files a test copies there are removed after it (every later
    ``dag.test()`` parses the whole folder, and would log this one's import error)."""
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    before = set(folder.iterdir())
    yield folder
    for path in set(folder.iterdir()) - before:
        if path.is_file():
            path.unlink()


# -- the example DAGs: every setting named with the components that need it; loud when one is missing --------


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_each_example_names_what_each_component_needs_and_the_unpause(example: str) -> None:
    doc = _docstring(example)
    assert "What each component needs" in doc, example
    assert re.search(r"\*\*workers?\*\*", doc), example  # every example runs tasks
    assert "unpause" in doc.lower(), example
    if "deferrable=True" in (EXAMPLES / example).read_text() or "AssetWatcher" in (EXAMPLES / example).read_text():
        assert "**triggerer**" in doc, example


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_examples_log_through_logging_and_return_what_they_found(example: str) -> None:
    """No ``print()`` (it lands in the collapsed "Post Execute" group); every ``@task`` returns something."""
    tree = ast.parse((EXAMPLES / example).read_text())
    prints = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print"]
    assert prints == [], example
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        decorators = [ast.unparse(d) for d in func.decorator_list]
        if any(d.startswith("task") and "short_circuit" not in d for d in decorators):
            returns = ast.unparse(func.returns) if func.returns else "None"
            assert returns != "None", f"{example}: {func.name} returns nothing"


def test_on_export_finished_without_its_flow_id_is_an_import_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, airflow_db: None, dags_folder: Path
) -> None:
    from tests.compat import DagBag

    monkeypatch.delenv("FLOWSERVICE_EXPORT_FLOW_ID", raising=False)
    target = dags_folder / "on_export_finished.py"
    shutil.copy(EXAMPLES / "on_export_finished.py", target)
    bag = DagBag(str(target))
    assert "on_export_finished" not in bag.dags  # no placeholder flow is watched
    (error,) = bag.import_errors.values()
    assert "FLOWSERVICE_EXPORT_FLOW_ID is not set" in error
    assert "dag-processor" in error and "every worker" in error and "triggerer" in error


def test_on_export_finished_report_fails_without_an_export_event(
    monkeypatch: pytest.MonkeyPatch, load_dag: Any, dags_folder: Path
) -> None:
    monkeypatch.setenv("FLOWSERVICE_EXPORT_FLOW_ID", "c9cef9cb-c934-4467-8ef9-cbc934546741")
    dag = load_dag("on_export_finished", example="on_export_finished.py")
    report = dag.get_task("report_export")
    with pytest.raises(RuntimeError, match=r"No finished run of export flow c9cef9cb-.* triggered this DAG run"):
        report.python_callable(triggering_asset_events={})


def test_incremental_ingest_follows_the_pool_advice(load_dag: Any, credentials: None) -> None:
    dag = load_dag("incremental_ingest", example="incremental_ingest.py")
    assert dag.get_task("ingest_window").pool == "flowservice_orders"
    assert 'airflow pools set flowservice_orders 1 "one start at a time' in _docstring("incremental_ingest.py")


def test_incremental_ingest_logs_no_pool_advice_and_reports_its_window(
    flowservice_emulator: Any,
    load_dag: Any,
    credentials: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    dag = load_dag("incremental_ingest", example="incremental_ingest.py")
    with caplog.at_level(logging.INFO):
        run = dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC"))
    assert run.state == "success"
    logged = caplog.text + "".join(capfd.readouterr())
    assert "Started run " in logged  # the operator's lines are there ...
    assert "Not in a pool of its own" not in logged  # ... but not the pool advice
    assert "Window 2026-01-04T00:00:00Z..2026-01-05T00:00:00Z (1767484800..1767571200): run " in caplog.text
    assert _return_value(run, "report")["status"] == "success"


def test_export_example_returns_the_flow_and_its_run(
    flowservice_emulator: Any,
    load_dag: Any,
    credentials: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    dag = load_dag("export_datasets", example="export_datasets.py")
    logical = pendulum.now("UTC").start_of("day")
    with caplog.at_level(logging.INFO):
        run = dag.test(logical_date=logical)
    assert run.state == "success"
    logged = caplog.text + "".join(capfd.readouterr())  # operators log through structlog, @task code through logging
    returned = _return_value(run, "report")
    assert set(returned) == {"flow_id", "run_id", "status"} and returned["status"] == "success"
    # The schedule's start in the export task's log: a date a person reads, the epoch value alongside.
    end = logical.int_timestamp
    when = pendulum.from_timestamp(end).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"to Amazon S3, every 3 hour(s) from {when} ({end})" in logged
    assert "Export run " in caplog.text  # the report task's line, through logging (not print)


def _return_value(dag_run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key="return_value", map_index=-1)
            .one()
        )
        return XComModel.deserialize_value(row)


# -- the run link of an export flow ---------------------------------------------------------------------


def test_a_sensor_on_an_export_flow_links_to_the_destinations_page_with_the_tenant(
    flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.operators import FlowServiceDatasetExportOperator
    from airflow_flowservice.sensors import FlowServiceRunSensor
    from airflow_flowservice.testing.flows import create_table_flow

    monkeypatch.setenv("AIRFLOW_CONN_FLOWSERVICE_DEFAULT", flowservice_emulator.connection_uri() + "&ui_tenant=acme")
    monkeypatch.setenv("AIRFLOW_CONN_S3", json.dumps(CREDENTIALS["AIRFLOW_CONN_AEP_EXPORT_S3"]))

    class TI:
        def xcom_push(self, key: str, value: Any) -> None:
            pass

    export = FlowServiceDatasetExportOperator(
        task_id="export",
        destination="amazon_s3",
        dataset_ids=["5ef3e3259ad2a1191ab7dd7d"],
        target={"bucket_name": "acme-exports", "path": "aep"},
        schedule={"time_unit": "hour", "interval": 3, "start_time": 1767225600},
        destination_conn_id="s3",
        name="Export to S3",
    )
    export_flow = export.execute({"ti": TI()})["flow_id"]  # type: ignore[arg-type]
    source_flow = create_table_flow(FlowServiceHook())
    sensor = FlowServiceRunSensor(task_id="wait", flow_id=export_flow, created_after=1767225600)
    org, sandbox = flowservice_emulator.org_id, flowservice_emulator.sandbox
    assert sensor.remember_run_url(export_flow, "r1") == (
        f"https://experience.adobe.com/#/@acme/sname:{sandbox}/platform/destination/browse/{export_flow}"
    )
    assert sensor.remember_run_url(source_flow, "r2") == (
        f"https://experience.adobe.com/#/@acme/sname:{sandbox}/platform/source/dataflows/{source_flow}/activity/r2"
    )
    reads = [c for c in flowservice_emulator.calls(method="GET") if c.path.startswith("/flows/")]
    sensor.remember_run_url(export_flow, "r3")
    assert [c for c in flowservice_emulator.calls(method="GET") if c.path.startswith("/flows/")] == reads  # once
    assert org not in sensor.remember_run_url(export_flow, "r3")
