"""Every example DAG runs green through Airflow against the emulator (what the demo shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
import pytest

from tests.compat import AssetEvents
from tests.conditions import until
from tests.example_connections import set_credentials

pytestmark = pytest.mark.integration


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_credentials(monkeypatch)


@pytest.mark.parametrize(
    ("example", "dag_id"),
    [
        ("draft_and_publish.py", "draft_and_publish"),
        ("export_datasets.py", "export_datasets"),
        ("mailchimp_campaigns.py", "mailchimp_campaigns"),
        ("csv_from_s3.py", "csv_from_s3"),  # its dataflows-as-code twin: tests/integration/test_mapping.py
    ],
)
def test_example_dag_runs_green(
    example: str, dag_id: str, flowservice_emulator: Any, load_dag: Any, credentials: None
) -> None:
    dag = load_dag(dag_id, example=example)
    assert dag.test(logical_date=pendulum.now("UTC").start_of("day")).state == "success"


def test_incremental_ingest_catch_up(flowservice_emulator: Any, load_dag: Any, credentials: None) -> None:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import EntityKind

    dag = load_dag("incremental_ingest", example="incremental_ingest.py")
    today = pendulum.now("UTC").start_of("day")
    for days_ago in (2, 1, 0):
        assert dag.test(logical_date=today.subtract(days=days_ago)).state == "success"
    hook = FlowServiceHook()
    (flow,) = hook.iter_entities(EntityKind.FLOW)
    windows = sorted(run.window() for run in hook.list_runs(flow.id))  # type: ignore[type-var]
    day = 86400
    end = int(today.timestamp())
    assert windows == [(end - 3 * day, end - 2 * day), (end - 2 * day, end - day), (end - day, end)]


def test_dataflows_as_code_plans_then_applies_its_file(
    flowservice_emulator: Any, load_dag: Any, credentials: None
) -> None:
    import os
    import shutil
    from pathlib import Path

    from airflow_flowservice.as_code.plan import make_plan
    from airflow_flowservice.as_code.spec_file import load_spec
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

    examples = Path(__file__).resolve().parents[2] / "example_dags"
    shutil.copy(examples / "dataflows.yaml", Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "dataflows.yaml")
    dag = load_dag("dataflows_as_code", example="dataflows_as_code.py")
    assert dag.test(logical_date=pendulum.now("UTC").start_of("day")).state == "success"
    # the plan task changed nothing; the apply task created the 8 entities; the sandbox now matches the file
    assert len([c for c in flowservice_emulator.calls(method="POST") if c.path != "/ims/token/v3"]) == 8
    assert not make_plan(FlowServiceHook(), load_spec(examples / "dataflows.yaml")).has_changes


def test_demo_event_trigger_reports_each_finished_run_once(flowservice_emulator: Any) -> None:
    """The demo's event step: three emulator hours of an hourly flow, three events, no fourth."""
    import sys

    scripts = str(Path(__file__).resolve().parents[2] / "scripts")
    sys.path.insert(0, scripts)
    try:
        from demo import event_trigger
    finally:
        sys.path.remove(scripts)
    lines: list[str] = []
    assert event_trigger(lines.append, flowservice_emulator)
    assert [line.startswith("  event: run ") for line in lines] == [True, True, True, False]
    assert "3 runs finished -> 3 events (3 distinct), 0 more" in lines[-1]


def test_failed_runs_alert_reports_each_failed_run_of_any_flow_once(
    load_dag: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The sandbox-wide failure watch of ``failed_runs_alert.py``: its own watcher's trigger (polling the whole
    sandbox, the connection has no journal) against a manual clock; each event fed to its task, as the
    scheduler would (the deployment tier runs a real triggerer and scheduler)."""
    import asyncio
    import logging
    from types import SimpleNamespace

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.testing import FlowServiceEmulator
    from airflow_flowservice.testing.flows import create_table_flow

    with FlowServiceEmulator(clock="manual", run_timeline=(1.0, 2.0)) as emu:
        for key, value in emu.connection_env().items():
            monkeypatch.setenv(key, value)
        emu.clock.advance((30 - emu.clock.now()) % 3600)  # 30 s past an hour: the next 10 s stay in it
        ok, failing = (create_table_flow(FlowServiceHook(), name=n, frequency="hour") for n in ("ok", "bad"))
        emu.clock.advance(10)  # their catch-up runs finish before the watch starts: not reported
        for flow_id in (ok, failing):
            FlowServiceHook().list_runs(flow_id)
        emu.run_outcome(flow_id=failing, kind="failed")
        dag = load_dag("aep_failed_runs_alert", example="failed_runs_alert.py")
        alert = dag.task_dict["alert"]
        (asset,) = alert.inlets
        trigger = asset.watchers[0].trigger
        assert (trigger.flow_id, trigger.statuses) == (None, ("failed",))
        trigger.poll_interval = 0.2  # the example polls every minute

        async def events_of_one_hour() -> list[dict[str, Any]]:
            payloads: list[dict[str, Any]] = []
            emu.requests.clear()
            watch = trigger.run()

            async def consume() -> None:
                async for event in watch:
                    payloads.append(event.payload)

            task = asyncio.ensure_future(consume())
            await until(  # the watch places its cursor (one call for the whole sandbox) ...
                lambda: any(r.path == "/runs" and r.status == 200 for r in emu.calls(method="GET")), "the cursor"
            )
            emu.clock.advance(3600)  # ... then an hour passes: each flow's run finishes, one of them failed
            await until(lambda: bool(payloads), "the failed run's event")
            await asyncio.sleep(1.0)  # ten more rounds: no second event
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return payloads

        payloads = asyncio.run(events_of_one_hour())
    assert [(p["flow_id"], p["status"], p["source"]) for p in payloads] == [(failing, "failed", "poll")]
    with caplog.at_level(logging.ERROR):
        alerts = alert.python_callable(
            triggering_asset_events=AssetEvents(asset, [SimpleNamespace(extra={"payload": payloads[0]})])
        )
    errors = payloads[0]["metrics"]["errors"]
    assert errors and alerts == [
        {"run_id": payloads[0]["run_id"], "flow_id": failing, "window": payloads[0]["window"], "errors": errors}
    ]
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    window = payloads[0]["window"]
    assert line.startswith(f"AEP run {payloads[0]['run_id']} of flow {failing} failed for the window ")
    assert f"{window['start_iso']}..{window['end_iso']}: {errors[0]['code']}: " in line
