"""Every code block of README.md and docs/*.md runs as written, against the emulator.

Each test below runs the blocks it names (``@runs("id", ...)``) exactly as they appear in the doc:
Python DAG blocks are written to a DAG file and run with :func:`run_dag_file` (which fails on a
task that did not succeed), Python scripts run with ``python``, shell blocks run with ``bash`` in a
temporary ``AIRFLOW_HOME`` with this venv on ``PATH``. What a test adds around a block is the
context the doc states in prose (a flow in the emulator, the connections a DAG's docstring names),
and checks of what the block was meant to do (a run for the window, a published flow...).
``test_every_block_is_run_or_marked`` fails on a block that is neither run here nor marked
``<!-- docs-test: no-run: <reason> -->``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_flowservice.testing.dags import run_dag_file
from tests.compat import AssetEvents
from tests.conditions import until
from tests.docs.blocks import ROOT, Block, all_blocks, block
from tests.docs.conftest import BIN, TIMEOUT, Shell, run_script, user_env

pytestmark = pytest.mark.docs

RUN_BY: dict[str, str] = {}  # block id -> the test that runs it
JAN_4, JAN_5 = 1767484800, 1767571200  # 2026-01-04 and 2026-01-05 00:00 UTC: the window of logical date 2026-01-05


def runs(*block_ids: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record which blocks a test runs (test_every_block_is_run_or_marked reads it)."""

    def mark(test: Callable[..., Any]) -> Callable[..., Any]:
        for block_id in block_ids:
            assert block_id not in RUN_BY, f"{block_id} is run by {RUN_BY[block_id]} already"
            RUN_BY[block_id] = test.__name__
        return test

    return mark


def windows(emu: Any) -> list[tuple[int, int]]:
    """(windowStartTime, windowEndTime) of every run started by a POST /runs the emulator answered."""
    return sorted(
        (int(r.body["params"]["windowStartTime"]), int(r.body["params"]["windowEndTime"]))
        for r in emu.calls(method="POST", path_prefix="/runs")
        if r.status == 201 and r.path == "/runs"
    )


def hook() -> Any:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

    return FlowServiceHook()


def once_flow() -> str:
    from airflow_flowservice.testing.flows import create_table_flow

    return create_table_flow(hook())


def dag_runs(home: Path, dag_id: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [BIN / "airflow", "dags", "list-runs", dag_id, "-o", "json"],
        env=user_env(home),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    return list(json_output(result.stdout))


def json_output(stdout: str) -> Any:
    """The JSON an ``airflow ... -o json`` command printed (on its own line, after any log line)."""
    (line,) = [line for line in stdout.splitlines() if line.startswith(("[{", "[]", "{"))]
    return json.loads(line)


def no_provider_traceback(output: str) -> None:
    """Airflow's default load_examples=True must not log our provider's module as missing (README)."""
    assert "Could not load provider module" not in output, output[-3000:]


# -- README ----------------------------------------------------------------------------------------


@runs("readme-demo")
def test_readme_demo(shell: Shell, airflow_home: Path) -> None:
    out = shell.run(block("readme-demo").text, env=user_env(airflow_home), cwd=ROOT).stdout
    assert "Demo finished: every example DAG succeeded." in out
    assert "DAG incremental_ingest @" in out and "FAILED" not in out


@runs("readme-conn-env")
def test_readme_connection_as_environment_variable(shell: Shell, airflow_home: Path) -> None:
    check = (
        "python -c 'from airflow_flowservice.hooks.flowservice import FlowServiceHook; "
        "c = FlowServiceHook().credentials; print(c.client_id, c.org_id, c.sandbox, c.api_url)'"
    )
    out = shell.run(block("readme-conn-env").text + check, env=user_env(airflow_home), cwd=airflow_home).stdout
    assert out.splitlines()[-1] == (
        "<CLIENT_ID> <ORG_ID>@AdobeOrg dev https://platform.adobe.io/data/foundation/flowservice"
    )


@runs("readme-conn-cli")
def test_readme_connection_with_the_cli(shell: Shell, migrated_home: Path) -> None:
    env = user_env(migrated_home, CLIENT_ID="my-client-id", CLIENT_SECRET="my-client-secret")
    shell.run(block("readme-conn-cli").text, env=env, cwd=migrated_home)
    shown = shell.run("airflow connections get flowservice_default -o json", env=env, cwd=migrated_home).stdout
    (conn,) = json_output(shown)
    assert (conn["conn_type"], conn["login"], conn["password"]) == (
        "adobe_flowservice",
        "my-client-id",
        "my-client-secret",
    )
    assert conn["extra_dejson"] == {"org_id": "ORG@AdobeOrg", "sandbox": "dev"}


@runs("readme-conn-test-cli")
def test_readme_connection_test_with_the_cli(flowservice_emulator: Any, shell: Shell, airflow_home: Path) -> None:
    env = user_env(airflow_home, **flowservice_emulator.connection_env())
    out = shell.run(block("readme-conn-test-cli").text, env=env, cwd=airflow_home).stdout
    assert "Connection success!" in out, out[-3000:]
    failing = shell.run(
        block("readme-conn-test-cli").text,
        env={
            **env,
            "AIRFLOW_CONN_FLOWSERVICE_DEFAULT": env["AIRFLOW_CONN_FLOWSERVICE_DEFAULT"].replace(
                ":emulator-secret@", ":wrong-secret@"
            ),
        },
        cwd=airflow_home,
        check=False,
    )
    assert failing.returncode != 0 and "Connection failed!" in failing.stdout, failing.stdout[-3000:]


@runs("lineage-ui-tenant")
def test_lineage_ui_tenant_extra() -> None:
    from airflow_flowservice._compat import Connection
    from airflow_flowservice.hooks.flowservice import credentials_from_connection
    from airflow_flowservice.ui import run_url

    conn = Connection(
        conn_id="x", conn_type="adobe_flowservice", login="c", password="s", extra=block("lineage-ui-tenant").text
    )
    creds = credentials_from_connection(conn)
    assert run_url(creds.org_id, creds.sandbox, "f", "r", tenant=creds.ui_tenant).startswith(
        "https://experience.adobe.com/#/@acme/sname:prod/platform/source/dataflows/f/activity/r"
    )


@runs("readme-hook")
def test_readme_hook(flowservice_emulator: Any, credentials: dict[str, str], tmp_path: Path, write_block: Any) -> None:
    # The flow the block looks up is the one example_dags/incremental_ingest.py creates.
    run_dag_file(ROOT / "example_dags" / "incremental_ingest.py", logical_date="2026-01-05")
    script = write_block("readme-hook", "hook_example.py")
    env = user_env(tmp_path, **flowservice_emulator.connection_env())
    out = run_script(script, env=env, cwd=tmp_path)
    assert out.splitlines()[-1] == "once success ['4fce964d-3f37-408f-9778-e597338a21ee']"


@runs("readme-orders-dag")
def test_readme_orders_dag(flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch, write_block: Any) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_ORDERS_FLOW_ID", once_flow())
    run_dag_file(write_block("readme-orders-dag", "dags/orders_ingest.py"), logical_date="2026-01-05")
    assert windows(flowservice_emulator) == [(JAN_4, JAN_5)]


@runs("readme-orders-cli")
def test_readme_orders_dags_test_and_backfill(
    flowservice_emulator: Any, shell: Shell, migrated_home: Path, write_block: Any
) -> None:
    dags = migrated_home / "dags"
    write_block("readme-orders-dag", dags / "orders_ingest.py")
    env = user_env(migrated_home, AIRFLOW_VAR_ORDERS_FLOW_ID=once_flow(), **flowservice_emulator.connection_env())
    out = shell.run(block("readme-orders-cli").text, env=env, cwd=migrated_home).stdout
    no_provider_traceback(out)
    # dags test ran the task for its window; backfill create queued the other six days (5 January exists).
    assert windows(flowservice_emulator) == [(JAN_4, JAN_5)]
    by_date = {r["logical_date"][:10]: r for r in dag_runs(migrated_home, "orders_ingest")}
    assert sorted(by_date) == [f"2026-01-0{day}" for day in range(1, 8)]
    assert by_date["2026-01-05"]["state"] == "success"
    assert {d: r["state"] for d, r in by_date.items() if d != "2026-01-05"} == {
        f"2026-01-0{day}": "queued" for day in (1, 2, 3, 4, 6, 7)
    }


def _mailchimp_base_connection() -> str:
    from airflow_flowservice.kinds import EntityKind

    body = {
        "name": "Mailchimp account",
        "auth": {"specName": "oAuth2RefreshCode", "params": {"accessToken": "token"}},
        "connectionSpec": {"id": "c8ce8c8c-37fb-4162-9fbf-c2f181e04a7a", "version": "1.0"},
    }
    return str(hook().create_entity(EntityKind.BASE_CONNECTION, body).id)


@runs("readme-tour")
def test_readme_one_example_per_operator(
    flowservice_emulator: Any, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch, write_block: Any
) -> None:
    from airflow_flowservice.kinds import EntityKind

    monkeypatch.setenv("AIRFLOW_VAR_MAILCHIMP_BASE", _mailchimp_base_connection())
    run = run_dag_file(write_block("readme-tour", "dags/flowservice_tour.py"), logical_date="2026-01-05")
    order = [ti.task_id for ti in sorted(run.get_task_instances(), key=lambda ti: ti.end_date)]
    chained = ["dataflow", "publish", "daily", "pause", "teardown"]
    assert [t for t in order if t in chained] == chained
    # the tour's dataflow was made daily, paused and deleted; the export flow is left, with its first run
    patches = [r.body for r in flowservice_emulator.calls(method="PATCH", path_prefix="/flows/")]
    assert patches == [
        [
            {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
            {"op": "add", "path": "/scheduleParams/interval", "value": 1},
        ]
    ]
    (export,) = hook().iter_entities(EntityKind.FLOW)
    assert export.name == "AAM devices to S3"
    assert [r.status for r in hook().list_runs(export.id)] == ["success"]


@runs("readme-run-example")
def test_readme_run_an_example_dag_yourself(shell: Shell, airflow_home: Path, port_8081: int) -> None:
    out = shell.run(block("readme-run-example").text, env=user_env(airflow_home), cwd=ROOT).stdout
    no_provider_traceback(out)
    logged = httpx.get(f"http://127.0.0.1:{port_8081}/_emulator/requests", params={"method": "POST"}).json()
    posts = [(r["path"], r["query"], r["status"]) for r in logged["requests"] if r["path"] != "/ims/token/v3"]
    assert [p for p, _, _ in posts][:4] == ["/connections", "/sourceConnections", "/targetConnections", "/flows"]
    assert [q for p, q, _ in posts if p.endswith("/action")] == ["op=publish"] * 4
    assert all(status in (200, 201) for _, _, status in posts)


@runs("readme-pytest-test", "readme-pytest-cmd")
def test_readme_pytest_example(shell: Shell, airflow_home: Path, tmp_path: Path, write_block: Any) -> None:
    project = tmp_path / "project"
    write_block("readme-orders-dag", project / "dags" / "orders_ingest.py")
    write_block("readme-pytest-test", project / "tests" / "test_orders_ingest.py")
    out = shell.run(block("readme-pytest-cmd").text, env=user_env(airflow_home), cwd=project).stdout
    assert "1 passed" in out


def _serve_until_sigint(command: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """Start a foreground server command, read up to its AIRFLOW_CONN line, stop it with SIGINT (Ctrl-C)."""
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("AIRFLOW_CONN_FLOWSERVICE_DEFAULT="):
                break
        assert lines and lines[-1].startswith("AIRFLOW_CONN_"), proc.stderr.read() if proc.stderr else lines
        base_url = lines[0].rsplit(" ", 1)[-1]
        assert httpx.get(f"{base_url}/_emulator/state").status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return lines


@runs("readme-emulator-cli")
def test_readme_emulator_command_line(airflow_home: Path, port_8081: int) -> None:
    lines = _serve_until_sigint(block("readme-emulator-cli").text, ROOT, user_env(airflow_home))
    assert lines[0] == "Flow Service emulator listening on http://127.0.0.1:8081"


# -- docs/emulator.md ------------------------------------------------------------------------------


def console(block_id: str) -> tuple[str, list[str]]:
    """A ``console`` block: the command after ``$ `` and the output lines the doc shows."""
    first, *output = block(block_id).text.splitlines()
    assert first.startswith("$ "), f"{block_id}: a console block starts with '$ <command>'"
    return first.removeprefix("$ "), output


@runs("emulator-pytest-test", "emulator-pytest-cmd")
def test_emulator_pytest_example(shell: Shell, airflow_home: Path, tmp_path: Path, write_block: Any) -> None:
    project = tmp_path / "project"
    write_block("readme-orders-dag", project / "dags" / "orders_ingest.py")  # the DAG file the page refers to
    write_block("emulator-pytest-test", project / "tests" / "test_orders_ingest.py")
    out = shell.run(block("emulator-pytest-cmd").text, env=user_env(airflow_home), cwd=project).stdout
    assert "2 passed" in out


@runs("emulator-python")
def test_emulator_from_python(tmp_path: Path, write_block: Any) -> None:
    out = run_script(write_block("emulator-python", "emulator_example.py"), env=user_env(tmp_path), cwd=tmp_path)
    base_url, uri = out.splitlines()
    assert base_url.startswith("http://127.0.0.1:")
    assert uri.startswith("adobe-flowservice://emulator-client:emulator-secret@/?org_id=")


@runs("emulator-cli")
def test_emulator_command_line_prints_what_the_doc_shows(airflow_home: Path, port_8081: int) -> None:
    command, shown = console("emulator-cli")
    assert _serve_until_sigint(command, ROOT, user_env(airflow_home)) == shown


@runs("emulator-flows")
def test_emulator_ready_made_flows(flowservice_emulator: Any, tmp_path: Path, write_block: Any) -> None:
    from airflow_flowservice.kinds import EntityKind

    env = user_env(tmp_path, **flowservice_emulator.connection_env())
    run_script(write_block("emulator-flows", "flows_example.py"), env=env, cwd=tmp_path)
    flows = {f.schedule_params.frequency: f for f in hook().iter_entities(EntityKind.FLOW)}
    assert sorted(flows) == ["hour", "once"]


@runs("emulator-faults")
def test_emulator_fault_rules(tmp_path: Path, write_block: Any) -> None:
    run_script(write_block("emulator-faults", "faults_example.py"), env=user_env(tmp_path), cwd=tmp_path)


@runs("emulator-journal")
def test_emulator_journal_example(tmp_path: Path, write_block: Any) -> None:
    out = run_script(write_block("emulator-journal", "journal_example.py"), env=user_env(tmp_path), cwd=tmp_path)
    printed = [line for line in out.splitlines() if "[warning" not in line]  # Airflow's log lines aside
    assert printed == ["204 1", "200 True", "sources_flow_run_success"]


@runs("emulator-own-tests")
def test_emulator_own_tests(shell: Shell, airflow_home: Path) -> None:
    command, _ = console("emulator-own-tests")
    out = shell.run(command, env=user_env(airflow_home), cwd=ROOT).stdout
    assert " passed" in out.splitlines()[-1] and "failed" not in out.splitlines()[-1]


# -- docs/export-and-mailchimp.md, lineage.md, operators-entities.md, runs.md ---------------------


@runs("export-dag")
def test_export_dag(flowservice_emulator: Any, credentials: dict[str, str], write_block: Any) -> None:
    from airflow_flowservice.kinds import EntityKind

    run_dag_file(write_block("export-dag", "dags/aam_export.py"), logical_date="2026-01-05")
    (flow,) = hook().iter_entities(EntityKind.FLOW)
    assert flow.schedule_params.model_dump(by_alias=True, exclude_none=True) == {
        "startTime": JAN_5,
        "timeUnit": "hour",
        "interval": 3,
    }
    (source,) = hook().iter_entities(EntityKind.SOURCE_CONNECTION)
    assert sorted(d["name"] for d in source.params["datasets"]) == [
        "AAM Authenticated Profiles Meta Data",
        "AAM Devices Data",
        "AAM Devices Profile Meta Data",
        "AAM Realtime",
        "AAM Realtime Profile Updates",
    ]


@runs("lineage-assets")
def test_lineage_asset_alias(monkeypatch: pytest.MonkeyPatch, write_block: Any) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from airflow_flowservice.testing import FlowServiceEmulator

    uri = "aep://ACME123@AdobeOrg/prod/6155e3a9bd13651949515f14"  # the org and sandbox the page's Asset names
    with FlowServiceEmulator(org_id="ACME123@AdobeOrg", run_timeline=(0.2, 0.5)) as emu:
        for key, value in emu.connection_env(sandbox="prod").items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AIRFLOW_VAR_ORDERS_FLOW_ID", once_flow())  # its target dataset: 6155e3a9bd13651949515f14
        dag_file = write_block("lineage-assets", "dags/orders_assets.py")
        run_dag_file(dag_file, dag_id="orders_ingest", logical_date="2026-01-05")
    with create_session() as session:
        asset = session.query(AssetModel).filter(AssetModel.uri == uri).one()
        events = session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id).all()
        assert [(e.extra or {}).get("window_start") for e in events] == [JAN_4]
        assert [ref.dag_id for ref in asset.scheduled_dags] == ["orders_downstream"]


@runs("entities-create")
def test_entities_create_live_or_draft(
    flowservice_emulator: Any, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch, write_block: Any
) -> None:
    from airflow_flowservice.kinds import EntityKind

    monkeypatch.setenv("AIRFLOW_VAR_ACCOUNTS_DATASET", "6155e3a9bd13651949515f14")
    run_dag_file(write_block("entities-create", "dags/acme_accounts_dataflow.py"), logical_date="2026-01-05")
    states = {kind: [e.state for e in hook().iter_entities(kind)] for kind in EntityKind}
    assert states == {kind: ["enabled"] for kind in EntityKind}
    creates = [r.query for r in flowservice_emulator.calls(method="POST") if r.status == 201]
    assert creates == ["mode=draft"] * 4


@runs("entities-update")
def test_entities_update_to_daily(flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch, write_block: Any) -> None:
    from airflow_flowservice.testing.flows import create_table_flow

    flow_id = create_table_flow(hook(), frequency="hour")
    monkeypatch.setenv("AIRFLOW_VAR_ACCOUNTS_FLOW_ID", flow_id)
    run_dag_file(write_block("entities-update", "dags/accounts_daily.py"))
    schedule = hook().get_flow(flow_id).schedule_params
    assert (schedule.frequency, str(schedule.interval)) == ("day", "1")


@runs("runs-dag")
def test_runs_trigger_run_operator(
    flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch, write_block: Any
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_ORDERS_FLOW_ID", once_flow())
    run_dag_file(write_block("runs-dag", "dags/ingest.py"), logical_date="2026-01-05")
    assert windows(flowservice_emulator) == [(JAN_4, JAN_5)]


@runs("runs-cli")
def test_runs_dags_test_and_backfill_of_the_example(
    flowservice_emulator: Any, credentials: dict[str, str], shell: Shell, migrated_home: Path
) -> None:
    env = user_env(
        migrated_home,
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        **flowservice_emulator.connection_env(),
        **credentials,
    )
    out = shell.run(block("runs-cli").text, env=env, cwd=migrated_home).stdout
    no_provider_traceback(out)
    # The DAG's start date is in the past: dags test ran the ingest task for the 2026-01-04 window.
    assert windows(flowservice_emulator) == [(JAN_4, JAN_5)]
    by_date = {r["logical_date"][:10]: r["state"] for r in dag_runs(migrated_home, "incremental_ingest")}
    assert by_date == {f"2026-01-0{day}": "success" if day == 5 else "queued" for day in range(1, 8)}


@runs("runs-pool-cli", "runs-pool-dag")
def test_runs_one_slot_pool_per_flow(
    flowservice_emulator: Any, shell: Shell, monkeypatch: pytest.MonkeyPatch, write_block: Any
) -> None:
    from airflow.utils.db import initdb

    initdb()  # this session's metadata DB, which the shell block below writes the pool to
    home = Path(os.environ["AIRFLOW_HOME"])  # the session's: its DB is $AIRFLOW_HOME/airflow.db, as a user's
    shell.run(block("runs-pool-cli").text, env=user_env(home), cwd=home)
    shown = shell.run("airflow pools get flowservice_orders -o json", env=user_env(home), cwd=home).stdout
    (pool,) = json_output(shown)
    assert (str(pool["slots"]), str(pool["include_deferred"])) == ("1", "False")
    monkeypatch.setenv("AIRFLOW_VAR_ORDERS_FLOW_ID", once_flow())
    run = run_dag_file(write_block("runs-pool-dag", "dags/orders_ingest.py"), logical_date="2026-01-05")
    assert [(ti.task_id, ti.pool) for ti in run.get_task_instances()] == [("ingest_window", "flowservice_orders")]
    assert windows(flowservice_emulator) == [(JAN_4, JAN_5)]


# -- docs/events.md --------------------------------------------------------------------------------


class _FastAsyncio:
    """``asyncio`` as the event watches' modules see it, with their poll pauses 10,000 times shorter."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / 10_000)


def _fast_watches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every module of an event watch that pauses (start jitter, poll rounds, journal reads) pauses 10,000x less."""
    from airflow_flowservice.runs import journal, poll_watch, poller

    for module in (journal, poll_watch, poller):
        monkeypatch.setattr(module, "asyncio", _FastAsyncio())


@runs("events-dag")
def test_events_dag_runs_once_per_finished_run(
    monkeypatch: pytest.MonkeyPatch, write_block: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's DAG file, parsed as Airflow parses it; its watcher's trigger run against a manual clock.

    A triggerer and a scheduler would turn the trigger's event into an asset event and a DAG run
    (the deployment tier runs them); here the trigger's event is handed to the task as they would.
    """
    from types import SimpleNamespace

    from airflow_flowservice._compat import dag_bag_of_file
    from airflow_flowservice.testing import FlowServiceEmulator
    from airflow_flowservice.testing.flows import create_table_flow

    _fast_watches(monkeypatch)
    with FlowServiceEmulator(clock="manual", run_timeline=(1.0, 2.0)) as emu:
        for key, value in emu.connection_env().items():
            monkeypatch.setenv(key, value)
        emu.clock.advance((30 - emu.clock.now()) % 3600)  # 30 s past an hour: 10 s later is the same hour
        flow_id = create_table_flow(hook(), frequency="hour")
        emu.clock.advance(10)  # its catch-up run finishes before the watch starts: not reported
        hook().list_runs(flow_id)
        monkeypatch.setenv("FLOWSERVICE_EXPORT_FLOW_ID", flow_id)
        bag = dag_bag_of_file(str(write_block("events-dag", "dags/on_export_finished.py")))
        assert not bag.import_errors, bag.import_errors
        report = bag.dags["on_export_finished"].task_dict["report"]
        (exports,) = report.inlets
        (watcher,) = exports.watchers
        trigger = watcher.trigger

        async def first_event() -> dict[str, Any]:
            emu.requests.clear()
            events = trigger.run()
            first = asyncio.ensure_future(events.__anext__())
            # the watch places its cursor, then an hour passes: one run finishes
            await until(
                lambda: any(r.path == "/runs" and r.status == 200 for r in emu.calls(method="GET")), "the cursor"
            )
            emu.clock.advance(3600 + 10)
            event = await asyncio.wait_for(first, timeout=60)
            await events.aclose()
            return dict(event.payload)

        payload = asyncio.run(first_event())
    assert (payload["flow_id"], payload["status"], payload["metrics"]["records_read"]) == (flow_id, "success", 60)
    capsys.readouterr()
    report.python_callable(triggering_asset_events=AssetEvents(exports, [SimpleNamespace(extra={"payload": payload})]))
    assert capsys.readouterr().out.splitlines() == [str(payload["metrics"])]


_DEDUPE_DAG = """

import pendulum
from types import SimpleNamespace
from airflow.sdk import DAG, task

with DAG("dedupe_check", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):

    @task
    def check():
        def event(run_id):
            return SimpleNamespace(extra={"payload": {"run_id": run_id}})

        first = [p["run_id"] for p in new_runs([event("r1")])]
        again = [p["run_id"] for p in new_runs([event("r1"), event("r2"), event("r2")])]  # r1 repeated
        assert (first, again) == (["r1"], ["r2"]), (first, again)

    check()
"""


@runs("events-dedupe")
def test_events_dedupe_recipe_acts_once_per_run_id(write_block: Any) -> None:
    """The page's de-duplication function, called in a task as a consumer would: a repeated run id is dropped."""
    path = write_block("events-dedupe", "dags/dedupe_check.py")
    path.write_text(path.read_text() + _DEDUPE_DAG)
    run_dag_file(path, dag_id="dedupe_check")


# -- docs/deploying.md ----------------------------------------------------------------------------


@runs("deploying-pools")
def test_deploying_pools_for_every_dataflow(shell: Shell, migrated_home: Path) -> None:
    import yaml

    shutil.copyfile(ROOT / "example_dags" / "dataflows.yaml", migrated_home / "dataflows.yaml")
    env = user_env(migrated_home)
    for _ in range(2):  # a second run (a dataflow added) updates the pools
        shell.run(block("deploying-pools").text, env=env, cwd=migrated_home)
    shown = shell.run("airflow pools list -o json", env=env, cwd=migrated_home).stdout
    pools = {pool["pool"]: pool for pool in json_output(shown)}
    dataflows = yaml.safe_load((migrated_home / "dataflows.yaml").read_text())["dataflows"]
    assert len(dataflows) == 2
    for dataflow in dataflows:
        pool = pools[f"flowservice_{dataflow['name']}"]
        assert (str(pool["slots"]), str(pool["include_deferred"])) == ("1", "False"), pool
        assert pool["description"] == f"one run start at a time: {dataflow['flow']['name']}"


@runs("deploying-failure-watch")
def test_deploying_failure_watch_alerts_on_failed_runs_only(
    monkeypatch: pytest.MonkeyPatch, write_block: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's DAG parsed as Airflow parses it; its two watchers' triggers run against a manual clock.

    Of two hourly flows, the second's next run fails: only its watcher has an event, and the DAG's task
    prints the alert for it (a triggerer and a scheduler would turn the event into a DAG run).
    """
    from types import SimpleNamespace

    from airflow_flowservice._compat import dag_bag_of_file
    from airflow_flowservice.testing import FlowServiceEmulator
    from airflow_flowservice.testing.flows import create_table_flow

    _fast_watches(monkeypatch)
    with FlowServiceEmulator(clock="manual", run_timeline=(1.0, 2.0)) as emu:
        for key, value in emu.connection_env().items():
            monkeypatch.setenv(key, value)
        emu.clock.advance((30 - emu.clock.now()) % 3600)  # 30 s past an hour: 10 s later is the same hour
        ok, failing = (create_table_flow(hook(), name=name, frequency="hour") for name in ("ok", "failing"))
        emu.clock.advance(10)  # their catch-up runs finish before the watches start: not reported
        for flow_id in (ok, failing):
            hook().list_runs(flow_id)
        emu.run_outcome(flow_id=failing, kind="failed")
        monkeypatch.setenv("FLOWSERVICE_WATCHED_FLOW_IDS", f"{ok},{failing}")
        bag = dag_bag_of_file(str(write_block("deploying-failure-watch", "dags/aep_failed_runs_alert.py")))
        assert not bag.import_errors, bag.import_errors
        alert = bag.dags["aep_failed_runs_alert"].task_dict["alert"]
        assets = {asset.name: asset for asset in alert.inlets}
        triggers = {flow_id: assets[f"aep_failed_runs_{flow_id}"].watchers[0].trigger for flow_id in (ok, failing)}
        assert {tuple(t.statuses) for t in triggers.values()} == {("failed",)}

        async def next_events() -> dict[str, Any]:
            emu.requests.clear()
            watches = {flow_id: trigger.run() for flow_id, trigger in triggers.items()}
            pending = {flow_id: asyncio.ensure_future(w.__anext__()) for flow_id, w in watches.items()}
            # both watches place their cursors, then an hour passes: one run each
            await until(
                lambda: len([r for r in emu.calls(method="GET") if r.path == "/runs" and r.status == 200]) >= 2,
                "both cursors",
            )
            emu.clock.advance(3600 + 10)
            events = {failing: (await asyncio.wait_for(pending[failing], timeout=60)).payload}
            await asyncio.sleep(1)  # the other watch has polled its (successful) run by now, many times
            assert not pending[ok].done(), pending[ok]
            pending[ok].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending[ok]
            for watch in watches.values():
                await watch.aclose()
            return events

        events = asyncio.run(next_events())
    payload = dict(events[failing])
    assert (payload["flow_id"], payload["status"]) == (failing, "failed")
    capsys.readouterr()
    asset = assets[f"aep_failed_runs_{failing}"]
    alert.python_callable(triggering_asset_events=AssetEvents(asset, [SimpleNamespace(extra={"payload": payload})]))
    errors = payload["metrics"]["errors"]
    assert capsys.readouterr().out.splitlines() == [f"AEP run {payload['run_id']} of flow {failing} failed: {errors}"]
    assert errors, payload


# -- docs/dataflows-as-code.md --------------------------------------------------------------------

WRITES = ("POST", "PATCH", "PUT", "DELETE")


def writes(emu: Any) -> list[str]:
    return [f"{r.method} {r.path}" for r in emu.requests if r.method in WRITES and r.path != "/ims/token/v3"]


@runs("dac-cli")
def test_dataflows_as_code_export_plan_apply(flowservice_emulator: Any, shell: Shell, tmp_path: Path) -> None:
    import yaml

    from airflow_flowservice.testing.flows import create_table_flow

    flow_id = create_table_flow(hook(), name="Orders")
    before = writes(flowservice_emulator)
    env = user_env(tmp_path / "home", FLOW_ID=flow_id, **flowservice_emulator.connection_env())
    shell.run(block("dac-cli").text, env=env, cwd=tmp_path)
    (dataflow,) = yaml.safe_load((tmp_path / "dataflows.yaml").read_text())["dataflows"]
    assert [
        dataflow[part]["name"] for part in ("base_connection", "source_connection", "target_connection", "flow")
    ] == [
        "Orders account",
        "Orders source",
        "Orders target",
        "Orders flow",
    ]
    assert writes(flowservice_emulator) == before  # the exported file is what the sandbox holds: nothing to apply


@runs("dac-file")
def test_dataflows_as_code_file(
    flowservice_emulator: Any, credentials: dict[str, str], shell: Shell, tmp_path: Path, write_block: Any
) -> None:
    from airflow_flowservice.kinds import EntityKind

    write_block("dac-file", "dataflows.yaml")
    env = user_env(tmp_path / "home", **flowservice_emulator.connection_env(), **credentials)
    shell.run("flowservice apply dataflows.yaml --auto-approve", env=env, cwd=tmp_path)
    (flow,) = hook().iter_entities(EntityKind.FLOW)
    assert (flow.name, flow.state, flow.schedule_params.frequency) == (
        "Mailchimp campaign dataflow",
        "enabled",
        "minute",
    )
    again = shell.run("flowservice plan dataflows.yaml --detailed-exitcode", env=env, cwd=tmp_path, check=False)
    assert again.returncode == 0, again.stdout  # applied: no change left


@runs("dac-dag")
def test_dataflows_as_code_in_a_dag(flowservice_emulator: Any, credentials: dict[str, str], write_block: Any) -> None:
    from airflow.configuration import conf

    from airflow_flowservice.kinds import EntityKind

    dags = Path(conf.get("core", "dags_folder"))
    write_block("dac-file", dags / "dataflows.yaml")  # the DAG reads the file beside it
    run_dag_file(write_block("dac-dag", dags / "dataflows_apply.py"))
    names = sorted(e.name for kind in EntityKind for e in hook().iter_entities(kind))
    assert names == [
        "Mailchimp account",
        "Mailchimp campaign c66a200cda",
        "Mailchimp campaign dataflow",
        "Mailchimp campaign dataset",
    ]


# -- docs/mapping.md --------------------------------------------------------------------------------

CUSTOMER_SCHEMA = "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d"


def _flow_mapping(name: str) -> tuple[Any, Any]:
    """The flow named ``name`` and the mapping set version its Mapping transformation names."""
    from airflow_flowservice.kinds import EntityKind

    (found,) = hook().find_entities_by_name(EntityKind.FLOW, name)
    flow = hook().get_flow(found.id)
    _, mapping_id, version = flow.mapping
    return flow, hook().get_mapping_set(mapping_id, version)


@runs("mapping-dag", "mapping-move-dag")
def test_mapping_with_operators(
    flowservice_emulator: Any, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch, write_block: Any
) -> None:
    run_dag_file(write_block("mapping-dag", "dags/customers_csv.py"), logical_date="2026-01-05")
    flow, mapping_set = _flow_mapping("Customers from S3")
    assert (mapping_set.version, mapping_set.output_schema_id, len(mapping_set.mappings)) == (0, CUSTOMER_SCHEMA, 5)
    assert windows(flowservice_emulator) == [(JAN_4, JAN_5)]
    monkeypatch.setenv("AIRFLOW_VAR_CUSTOMERS_FLOW", flow.id)
    run_dag_file(write_block("mapping-move-dag", "dags/customers_move.py"))
    moved, mapping_set = _flow_mapping("Customers from S3")
    assert moved.mapping[1:] == (flow.mapping[1], 1)
    assert [m.source for m in mapping_set.mappings] == ["first_name", "last_name", "silver"]


@runs("mapping-file", "mapping-cli")
def test_mapping_as_code(
    flowservice_emulator: Any, credentials: dict[str, str], shell: Shell, tmp_path: Path, write_block: Any
) -> None:
    write_block("mapping-file", "customers.yaml")
    env = user_env(tmp_path / "home", **flowservice_emulator.connection_env(), **credentials)
    out = shell.run(block("mapping-cli").text, env=env, cwd=tmp_path).stdout
    assert "+ create    customers-csv.mapping" in out and "~ update    customers-csv.mapping" in out
    _, mapping_set = _flow_mapping("Customers from S3")
    assert mapping_set.version == 1 and mapping_set.mappings[2].source == "lower(email)"


@runs("mapping-hook")
def test_mapping_hook(flowservice_emulator: Any, tmp_path: Path, write_block: Any) -> None:
    env = user_env(tmp_path, **flowservice_emulator.connection_env())
    printed = run_script(write_block("mapping-hook", "mapping_hook.py"), env=env, cwd=tmp_path)
    out = [line for line in printed.splitlines() if "[warning" not in line]  # Airflow's log lines aside
    assert out[0] == flowservice_emulator.base_url + "/data/foundation/conversion"
    assert (
        out[-1]
        == "['SUCCESS'] 1 1 {'person': {'name': {'firstName': 'Ada'}}, '_acme': {'loyalty': {'tier': 'gold'}}} 1"
    )


# -- docs/bad-input.md: the rows checked when the DAG is parsed ----------------------------------


def test_bad_input_parse_time_messages_are_the_raised_ones() -> None:
    from airflow.sdk import DAG

    from airflow_flowservice.operators import FlowServiceTriggerRunOperator
    from airflow_flowservice.triggers import FlowServiceRunTrigger

    flow = "2edc08ac-4df5-4fe6-936f-81a19ce92f5c"
    raised: list[str] = []
    with pytest.raises(ValueError, match="needs run_id") as value_error:
        FlowServiceRunTrigger(end_time=0.0, flow_id=flow)
    raised.append(f"ValueError: {value_error.value}")
    with DAG("parse_time"), pytest.raises(TypeError) as type_error:
        FlowServiceTriggerRunOperator(task_id="t", flow_id=flow, max_failed_percent=1)
    raised.append(f"TypeError: {type_error.value}")
    page = (ROOT / "docs" / "bad-input.md").read_text().split("## Checked when the DAG is parsed", 1)[1]
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    # A message cell is code spans joined by <br> where the message has a line break.
    cells = [row.split(" | ")[-1].rstrip(" |") for row in rows]
    shown = ["\n".join(part.strip().strip("`") for part in cell.split("<br>")) for cell in cells]
    assert shown == raised


# -- the marking ---------------------------------------------------------------------------------


def test_every_block_is_run_or_marked() -> None:
    problems: list[str] = []
    seen: dict[str, Block] = {}
    for b in all_blocks():
        if b.marker is None:
            problems.append(f"{b.where}: no '<!-- docs-test: <id> -->' or '<!-- docs-test: no-run: <reason> -->'")
        elif b.block_id is None:
            if not b.no_run_reason:
                problems.append(f"{b.where}: no-run without a reason")
        elif b.block_id in seen:
            problems.append(f"{b.where}: id {b.block_id} is also used at {seen[b.block_id].where}")
        elif b.block_id not in RUN_BY:
            problems.append(f"{b.where}: no test runs {b.block_id}")
        else:
            seen[b.block_id] = b
    problems += [f"{test} runs {bid}, which no block is marked with" for bid, test in RUN_BY.items() if bid not in seen]
    assert problems == []
