"""What the event-driven deployment scenarios share: a watched flow, its consumer DAG, and reading them back.

An hourly flow on the emulator gets a run at each hour of the emulator's clock; a scenario moves that
clock one hour at a time (the run appears ``inProgress``), then past the run's end (it turns
``success``), so the test decides when each run finishes. A consumer DAG (``event_dags/``) returns the
run ids and metrics of the asset events that triggered it; the scenarios read them back through the
REST API.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.deployment.conftest import RUN_SECONDS, Deployment

HOUR = 3600
EVENT_DAGS = Path(__file__).resolve().parent / "event_dags"
#: Emulator seconds past the hour where a new hour's run is read (in progress); each step then leaves the
#: clock RUN_SECONDS + 1 later, the run finished, with most of the hour left for the wall clock.
PHASE = 30
CURSOR_KEY = "flowservice_run_cursor"


@dataclass
class Watch:
    """The watched flow, the consumer DAG and its asset, and the runs the scenarios finished, in order."""

    flow_id: str
    dag_id: str
    asset_id: int
    started: float
    finished: list[str] = field(default_factory=list)


def emulator_now(dep: Deployment) -> float:
    return float(dep.emulator("GET", "/clock")["now"])


def asset_events(dep: Deployment, watch: Watch) -> list[dict[str, Any]]:
    """The asset's events. Read them once every DAG run they created has started: Airflow 3.3.2 answers 500
    while one has not (``created_dagruns[].start_date`` is null, which its response model does not allow)."""
    events: list[dict[str, Any]] = dep.get("/assets/events", asset_id=watch.asset_id, limit=100)["asset_events"]
    return events


def dag_runs(dep: Deployment, watch: Watch) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = dep.get(f"/dags/{watch.dag_id}/dagRuns", limit=100, order_by="id")["dag_runs"]
    return runs


def consumed(dep: Deployment, watch: Watch, dag_run_id: str) -> list[dict[str, Any]]:
    """What the consumer task returned: the run id and metrics of each triggering event."""
    entry = dep.get(f"/dags/{watch.dag_id}/dagRuns/{dag_run_id}/taskInstances/consume/xcomEntries/return_value")
    value = entry["value"]
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


def stored_cursor(dep: Deployment, watch: Watch) -> dict[str, Any]:
    """The watch's cursor (poll) or journal position (journal) in the asset state store."""
    stored = dep.get(f"/assets/{watch.asset_id}/state-store/{CURSOR_KEY}")
    value = stored["value"]
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


def handled(cursor: dict[str, Any]) -> list[str]:
    """The run ids a stored cursor (``handled``) or journal state (``run_ids``) has behind it."""
    return list(cursor.get("handled") or cursor.get("run_ids") or [])


def wait_cursor_past(dep: Deployment, watch: Watch, run_id: str) -> dict[str, Any]:
    """The stored cursor, once ``run_id`` is behind it (it is saved a round after the run's event left)."""

    def probe() -> dict[str, Any] | None:
        cursor = stored_cursor(dep, watch)
        return cursor if run_id in handled(cursor) else None

    found: dict[str, Any] = dep.wait_for(f"the stored cursor past run {run_id}", probe)
    return found


def finish_next_run(dep: Deployment, watch: Watch) -> str:
    """Move the clock to the next hour (its run starts), then past that run's end; return the run's id."""
    before = {run.id for run in dep.runs(watch.flow_id)}
    dep.emulator("POST", "/clock", json={"advance": HOUR - (RUN_SECONDS + 1)})
    (new,) = (run for run in dep.runs(watch.flow_id) if run.id not in before)
    assert new.status == "inProgress", new
    dep.finish_runs()  # + RUN_SECONDS + 1: a full hour in all
    watch.finished.append(new.id)
    return str(new.id)


def wait_dag_runs(dep: Deployment, watch: Watch, count: int, success: bool = False, **kw: Any) -> list[dict[str, Any]]:
    """Wait until the consumer has ``count`` DAG runs (all successful, with ``success``)."""

    def probe() -> list[dict[str, Any]] | None:
        runs = dag_runs(dep, watch)
        done = len(runs) >= count and (not success or all(r["state"] == "success" for r in runs))
        return runs if done else None

    what = f"{count} {'successful ' if success else ''}DAG run(s) of {watch.dag_id}"
    runs: list[dict[str, Any]] = dep.wait_for(what, probe, **kw)
    return runs


def hourly_flow_behind_the_clock(dep: Deployment, name: str) -> str:
    """An hourly flow whose past runs have all finished, the clock PHASE s past an hour."""
    with dep.hook_env() as hook:
        from airflow_flowservice.testing.flows import create_table_flow

        flow_id = create_table_flow(hook, name=name, frequency="hour")
    # PHASE s past an hour: the rest of the hour leaves room for the wall clock (the emulator's runs on it).
    dep.emulator("POST", "/clock", json={"advance": (PHASE - emulator_now(dep)) % HOUR})
    dep.runs(flow_id)  # the flow's catch-up run for the current hour is created on read ...
    dep.finish_runs()  # ... and finishes before the watch starts: it must never be reported
    assert all(run.status == "success" for run in dep.runs(flow_id))
    return flow_id


def deploy_consumer(dep: Deployment, dag_file: Path, dag_id: str, asset: str, flow_id: str) -> tuple[int, float]:
    """Deploy a consumer DAG on ``flow_id`` (its JSON file next to it); ``(asset id, seconds until parsed)``."""
    started = time.monotonic()
    dep.deploy_dag(dag_file, **{dag_file.stem: {"flow_id": flow_id}})
    dep.wait_for(
        f"{dag_id} to be parsed", lambda: dag_id in {d["dag_id"] for d in dep.get("/dags")["dags"]}, timeout=120
    )
    parsed = time.monotonic() - started
    (found,) = dep.wait_for(
        "the watched asset", lambda: [a for a in dep.get("/assets", name_pattern=asset)["assets"] if a["name"] == asset]
    )
    return int(found["id"]), parsed


def check_one_dag_run_per_finished_run(dep: Deployment, watch: Watch) -> list[dict[str, Any]]:
    """Every finished run: exactly one asset event, consumed by exactly one successful DAG run, with its metrics."""
    from airflow_flowservice.runs.judge import run_metrics

    runs = {run.id: run for run in dep.runs(watch.flow_id)}
    finished_dag_runs = wait_dag_runs(dep, watch, len(watch.finished), success=True)
    events = asset_events(dep, watch)
    reported = [e["extra"]["payload"]["run_id"] for e in events]
    assert sorted(reported) == sorted(watch.finished), (reported, watch.finished)  # none twice, none missed
    assert len(finished_dag_runs) == len(watch.finished)
    consumed_ids = []
    for dag_run in finished_dag_runs:
        (item,) = consumed(dep, watch, dag_run["dag_run_id"])  # one finished run per DAG run
        run = runs[item["run_id"]]
        assert item["metrics"] == json.loads(json.dumps(run_metrics(run))), (item, run)
        assert item["metrics"]["records_read"] > 0
        consumed_ids.append(item["run_id"])
    assert consumed_ids == watch.finished  # in the order the runs finished
    return finished_dag_runs
