"""The demo: dataflows as code (plan, apply, plan again), then every example DAG run through Airflow
against the bundled emulator, then a report.

Run it with ``python3 dev.py demo`` (which creates the environment and a temporary AIRFLOW_HOME).
Nothing here calls an Adobe host: the connection points at the emulator on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_dags"

# Credentials the example DAGs read from Airflow connections (the emulator accepts any value).
DEMO_CONNECTIONS = {
    "AIRFLOW_CONN_AEP_EXPORT_S3": json.dumps({"conn_type": "aws", "login": "AKIADEMO", "password": "demo-s3-secret"}),
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


def dataflows_as_code() -> bool:
    """``flowservice plan``, ``apply``, ``plan`` on example_dags/dataflows.yaml: changes, applied, then none."""
    from airflow_flowservice.cli import main as flowservice

    spec = str(EXAMPLES / "dataflows.yaml")
    print("== flowservice plan example_dags/dataflows.yaml --detailed-exitcode ==", flush=True)
    first = flowservice(["plan", spec, "--detailed-exitcode"])
    print(f"(exit {first})\n== flowservice apply --auto-approve ==", flush=True)
    applied = flowservice(["apply", spec, "--auto-approve"])
    print("== flowservice plan again ==", flush=True)
    second = flowservice(["plan", spec, "--detailed-exitcode"])
    print(f"(exit {second})\n", flush=True)
    return (first, applied, second) == (2, 0, 0)


def main() -> int:
    if not os.environ.get("AIRFLOW_HOME"):
        print("AIRFLOW_HOME is not set: run the demo with `python3 dev.py demo` (it uses a temporary one).")
        return 2
    from airflow.dag_processing.dagbag import DagBag

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import EntityKind
    from airflow_flowservice.testing import FlowServiceEmulator

    failures: list[str] = []
    with FlowServiceEmulator(run_timeline=(0.5, 1.5)) as emu:
        os.environ.update(emu.connection_env())
        os.environ.update(DEMO_CONNECTIONS)
        print(f"Flow Service emulator on {emu.base_url} (no Adobe account involved)\n", flush=True)
        if not dataflows_as_code():
            failures.append("dataflows as code (plan, apply, plan)")
        bag = DagBag(str(EXAMPLES))
        if bag.import_errors:
            for path, error in bag.import_errors.items():
                print(f"IMPORT ERROR {path}: {error}")
            return 1
        for dag_id in sorted(bag.dags):
            dag = bag.dags[dag_id]
            for logical_date in _logical_dates(dag):
                started = time.monotonic()
                run = dag.test(logical_date=logical_date)
                state = str(getattr(run, "state", "unknown"))
                print(
                    f"DAG {dag_id} @ {logical_date:%Y-%m-%d}: {state} in {time.monotonic() - started:.1f}s", flush=True
                )
                if "success" not in state:
                    failures.append(f"{dag_id}@{logical_date:%Y-%m-%d}")

        hook = FlowServiceHook()
        print("\n== Entities created in the emulator ==")
        for kind in EntityKind:
            for entity in hook.iter_entities(kind):
                print(f"  {kind.label:<18} {entity.id}  {entity.state or '-':<9} {entity.name}")
        print("\n== Runs ==")
        print(f"  {'run id':<36}  {'window start':<16}  {'window end':<16}  {'status':<10} read/written/failed")
        for flow in hook.iter_entities(EntityKind.FLOW):
            for run in hook.list_runs(flow.id):
                window = run.window() or (None, None)
                rec = run.metrics.record_summary
                print(
                    f"  {run.id:<36}  {_s(window[0]):<16}  {_s(window[1]):<16}  {run.status:<10} "
                    f"{rec.input_record_count}/{rec.output_record_count}/{rec.failed_record_count}"
                    f"  ({flow.name}, started {_ms(run.metrics.duration_summary.started_at_utc)})"
                )
        calls = [r for r in emu.requests if r.path != "/ims/token/v3"]
        tokens = [r for r in emu.requests if r.path == "/ims/token/v3"]
        print(f"\n{len(calls)} Flow Service calls and {len(tokens)} token calls in all.")
    if failures:
        print(f"\nFAILED: {', '.join(failures)}")
        return 1
    print("\nDemo finished: every example DAG succeeded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
