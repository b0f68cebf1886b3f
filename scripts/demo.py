"""The demo: dataflows as code (plan, apply, plan again), then every example DAG run through Airflow
against the bundled emulator, then a report.

Run it with ``python3 dev.py demo`` (which creates the environment and a temporary AIRFLOW_HOME).
Nothing here calls an Adobe host: the connection points at the emulator on 127.0.0.1.

The terminal gets one line per step and the report; Airflow's own output (the metadata DB set-up,
every task's log) goes to a log file, named at the end (``--log-file PATH``, default
``<temp dir>/flowservice-demo-airflow.log``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_dags"

# Credentials the example DAGs read from Airflow connections (the emulator accepts any value).
DEMO_CONNECTIONS = {
    "AIRFLOW_CONN_AEP_EXPORT_S3": json.dumps({"conn_type": "aws", "login": "AKIADEMO", "password": "demo-s3-secret"}),
    "AIRFLOW_CONN_ACME_S3": json.dumps({"conn_type": "aws", "login": "AKIADEMOACME", "password": "demo-acme-secret"}),
    "AIRFLOW_CONN_AEP_BIGQUERY": json.dumps(
        {
            "conn_type": "generic",
            "login": "demo-client",
            "password": "demo-client-secret",
            "extra": {"project": "acme", "refresh_token": "demo-refresh-token"},
        }
    ),
    "AIRFLOW_CONN_MAILCHIMP": json.dumps(
        {"conn_type": "http", "host": "https://us6.api.mailchimp.com/3.0/", "login": "acme", "password": "demo-mc-key"}
    ),
}


def _ms(value: int | None) -> str:
    if not value:
        return "-"
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _s(value: Any) -> str:
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return "-"


def _logical_dates(dag: Any) -> Iterable[datetime]:
    """One logical date per DAG, three consecutive days for catch-up DAGs (they ingest per window)."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if getattr(dag, "catchup", False):
        return [today - timedelta(days=n) for n in (3, 2, 1)]
    return [today]


def dataflows_as_code(say: Any) -> bool:
    """``flowservice plan``, ``apply``, ``plan`` on example_dags/dataflows.yaml: changes, applied, then none."""
    from airflow_flowservice.cli import main as flowservice

    spec = str(EXAMPLES / "dataflows.yaml")
    started = time.monotonic()
    print("== flowservice plan example_dags/dataflows.yaml --detailed-exitcode ==", flush=True)
    first = flowservice(["plan", spec, "--detailed-exitcode"])
    print(f"(exit {first})\n== flowservice apply --auto-approve ==", flush=True)
    applied = flowservice(["apply", spec, "--auto-approve"])
    print("== flowservice plan again ==", flush=True)
    second = flowservice(["plan", spec, "--detailed-exitcode"])
    print(f"(exit {second})\n", flush=True)
    ok = (first, applied, second) == (2, 0, 0)
    say(
        f"Dataflows as code: plan exit {first} (changes), apply exit {applied}, plan again exit {second} "
        f"(no change): {'as expected' if ok else 'UNEXPECTED'} in {time.monotonic() - started:.1f}s"
    )
    return ok


@contextmanager
def output_to(log_file: Path) -> Iterator[TextIO]:
    """Send this process's stdout and stderr (Airflow's logs included) to ``log_file``; yield the terminal.

    File descriptors 1 and 2 are redirected, so whatever writes to them (structlog, warnings,
    subprocesses) ends up in the file; the yielded stream writes to the original stdout.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        terminal.close()


def report(say: Any, hook: Any, emu: Any) -> None:
    from airflow_flowservice.models import EntityKind

    say("\n== Entities created in the emulator ==")
    for kind in EntityKind:
        for entity in hook.iter_entities(kind):
            say(f"  {kind.label:<18} {entity.id}  {entity.state or '-':<9} {entity.name}")
    say("\n== Runs ==")
    say(f"  {'run id':<36}  {'window start':<16}  {'window end':<16}  {'status':<10} read/written/failed")
    for flow in hook.iter_entities(EntityKind.FLOW):
        for run in hook.list_runs(flow.id):
            window = run.window() or (None, None)
            rec = run.metrics.record_summary
            say(
                f"  {run.id:<36}  {_s(window[0]):<16}  {_s(window[1]):<16}  {run.status:<10} "
                f"{rec.input_record_count}/{rec.output_record_count}/{rec.failed_record_count}"
                f"  ({flow.name}, started {_ms(run.metrics.duration_summary.started_at_utc)})"
            )
    calls = [r for r in emu.requests if r.path != "/ims/token/v3"]
    tokens = [r for r in emu.requests if r.path == "/ims/token/v3"]
    say(f"\n{len(calls)} Flow Service calls and {len(tokens)} token calls in all.")


def _export_flow_id(hook: Any) -> str:
    """The id of a dataset-export flow of the sandbox (dataflows.yaml holds one)."""
    from airflow_flowservice.models import EntityKind
    from airflow_flowservice.specs import is_destination_flow

    return next(flow.id for flow in hook.iter_entities(EntityKind.FLOW) if is_destination_flow(flow))


def event_trigger(say: Any, emu: Any, hours: int = 3) -> bool:
    """The triggerer's part of ``on_export_finished.py``, in this process: one event per finished run.

    ``FlowServiceRunEventTrigger`` watches a new hourly flow while the emulator's clock moves ``hours``
    hours (one run finishes per hour). Scheduling the DAG on those events needs a scheduler and a
    triggerer (the deployment tier, tests/deployment/test_run_events.py, runs that).
    """
    import asyncio
    from urllib.parse import unquote_plus

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.testing.flows import create_table_flow
    from airflow_flowservice.triggers import FlowServiceRunEventTrigger

    flow_id = create_table_flow(FlowServiceHook(), name="demo hourly", frequency="hour")
    FlowServiceHook().list_runs(flow_id)  # the flow's first run, created on read ...
    emu.clock.advance(2)  # ... finished before the watch starts (runs take 1.5 s here): never reported

    def lists() -> int:
        return sum(r.method == "GET" and r.path == "/runs" and flow_id in unquote_plus(r.query) for r in emu.requests)

    async def watch() -> tuple[list[dict[str, Any]], int, int]:
        trigger = FlowServiceRunEventTrigger(flow_id=flow_id, poll_interval=0.2)
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def consume() -> None:
            async for event in trigger.run():
                await events.put(event.payload)

        task = asyncio.create_task(consume())
        try:
            before = lists()
            while lists() == before:  # noqa: ASYNC110 - waits for the watch's first list call, seen only in the emulator's log
                await asyncio.sleep(0.05)
            got = []
            for _ in range(hours):
                emu.clock.advance(3600)  # the next hour's run is created, and finishes
                got.append(await asyncio.wait_for(events.get(), 10))
            polls = lists()
            await asyncio.sleep(1)  # a second without a finished run: no event
            return got, events.qsize(), lists() - polls
        finally:
            task.cancel()

    got, extra, polls = asyncio.run(watch())
    for payload in got:
        metrics = payload["metrics"]
        say(
            f"  event: run {payload['run_id']} {payload['status']}, window {_s(payload['window']['start'])} - "
            f"{_s(payload['window']['end'])}, {metrics['records_read']} records read"
        )
    ids = {p["run_id"] for p in got}
    ok = len(ids) == hours and extra == 0
    say(
        f"Event trigger: {hours} runs finished -> {len(got)} events ({len(ids)} distinct), {extra} more; "
        f"{polls} polls in 1 s at poll_interval=0.2 s" + ("" if ok else "  <- FAILED")
    )
    return ok


def run_demo(say: Any) -> list[str]:
    """Every example DAG against the emulator, one line per step; returns the DAG runs that failed."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.db import initdb

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.testing import FlowServiceEmulator

    started = time.monotonic()
    initdb()
    say(f"Airflow metadata DB ready ({time.monotonic() - started:.0f}s)")
    failures: list[str] = []
    with FlowServiceEmulator(run_timeline=(0.5, 1.5)) as emu:
        os.environ.update(emu.connection_env())
        os.environ.update(DEMO_CONNECTIONS)
        say(f"Flow Service emulator on {emu.base_url} (no Adobe account involved)")
        if not dataflows_as_code(say):
            failures.append("dataflows as code (plan, apply, plan)")
        # on_export_finished.py watches the export flow named by this variable (an import error without it):
        # the S3 export flow dataflows.yaml just created.
        os.environ.setdefault("FLOWSERVICE_EXPORT_FLOW_ID", _export_flow_id(FlowServiceHook()))
        bag = DagBag(str(EXAMPLES))
        if bag.import_errors:
            for path, error in bag.import_errors.items():
                say(f"IMPORT ERROR {path}: {error}")
            return ["import errors"]
        # A DAG scheduled on asset events runs when a triggerer reports one: the event step below shows that part.
        by_events = {
            dag_id for dag_id, dag in bag.dags.items() if type(dag.timetable).__name__ == "AssetTriggeredTimetable"
        }
        for dag_id in sorted(by_events):
            say(f"DAG {dag_id}: scheduled by asset events (its watcher: the event step below)")
        runnable = sorted(set(bag.dags) - by_events)
        steps = [(dag_id, d) for dag_id in runnable for d in _logical_dates(bag.dags[dag_id])]
        for number, (dag_id, logical_date) in enumerate(steps, start=1):
            started = time.monotonic()
            run = bag.dags[dag_id].test(logical_date=logical_date)
            state = str(getattr(run, "state", "unknown"))
            took = time.monotonic() - started
            say(f"[{number}/{len(steps)}] DAG {dag_id} @ {logical_date:%Y-%m-%d}: {state} in {took:.1f}s")
            if "success" not in state:
                failures.append(f"{dag_id}@{logical_date:%Y-%m-%d}")
        if not event_trigger(say, emu):
            failures.append("event trigger (one event per finished run)")
        report(say, FlowServiceHook(), emu)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    default_log = Path(tempfile.gettempdir()) / "flowservice-demo-airflow.log"
    parser.add_argument("--log-file", type=Path, default=default_log, help=f"Airflow's output (default {default_log})")
    args = parser.parse_args(argv)
    if not os.environ.get("AIRFLOW_HOME"):
        print("AIRFLOW_HOME is not set: run the demo with `python3 dev.py demo` (it uses a temporary one).")
        return 2
    print(f"Running every example DAG against the bundled emulator (Airflow's logs: {args.log_file}) ...", flush=True)
    with output_to(args.log_file) as terminal:

        def say(line: str) -> None:
            terminal.write(line + "\n")

        try:
            failures = run_demo(say)
        except BaseException as exc:
            say(f"The demo stopped: {type(exc).__name__}: {exc}")
            raise
    lines = sum(1 for _ in args.log_file.open(errors="replace"))
    print(f"\nAirflow's logs ({lines} lines): {args.log_file}")
    if failures:
        print(f"FAILED: {', '.join(failures)}")
        return 1
    print("Demo finished: every example DAG succeeded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
