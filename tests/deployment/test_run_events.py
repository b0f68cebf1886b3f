"""Event-driven scheduling in a real deployment: a DAG scheduled on an asset watched by FlowServiceRunEventTrigger.

An hourly flow on the emulator gets a run at each hour of the emulator's clock; each scenario moves
that clock one hour at a time (the run appears ``inProgress``), then past the run's end (it turns
``success``), so the test decides when each run finishes. The consumer DAG
(``event_dags/deploy_on_run_finished.py``, deployed once the flow exists) returns the run ids and
metrics of the asset events that triggered it; the scenarios read them back through the REST API.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import airflow
import pytest
from packaging.version import Version

from tests.deployment.conftest import RUN_SECONDS, Deployment

pytestmark = pytest.mark.deployment

HOUR = 3600
DAG_FILE = Path(__file__).resolve().parent / "event_dags" / "deploy_on_run_finished.py"
DAG_ID = "deploy_on_run_finished"
ASSET = "deploy_flow_runs_finished"
POLL_INTERVAL = 2  # the watcher's, in the DAG file
#: Emulator seconds past the hour where a new hour's run is read (in progress); each step then leaves the
#: clock RUN_SECONDS + 1 later, the run finished, with most of the hour left for the wall clock.
PHASE = 30
CURSOR_KEY = "flowservice_run_cursor"


@dataclass
class Watch:
    """The watched flow, its asset, and the runs the scenarios finished, in order."""

    flow_id: str
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


def dag_runs(dep: Deployment) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = dep.get(f"/dags/{DAG_ID}/dagRuns", limit=100, order_by="id")["dag_runs"]
    return runs


def consumed(dep: Deployment, dag_run_id: str) -> list[dict[str, Any]]:
    """What the consumer task returned: the run id and metrics of each triggering event."""
    entry = dep.get(f"/dags/{DAG_ID}/dagRuns/{dag_run_id}/taskInstances/consume/xcomEntries/return_value")
    value = entry["value"]
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


def stored_cursor(dep: Deployment, watch: Watch) -> dict[str, Any]:
    """The watch's cursor in the asset state store."""
    stored = dep.get(f"/assets/{watch.asset_id}/state-store/{CURSOR_KEY}")
    value = stored["value"]
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


def wait_cursor_past(dep: Deployment, watch: Watch, run_id: str) -> dict[str, Any]:
    """The stored cursor, once ``run_id`` is behind it (it is saved a round after the run's event left)."""

    def probe() -> dict[str, Any] | None:
        cursor = stored_cursor(dep, watch)
        return cursor if run_id in cursor["handled"] else None

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


def wait_dag_runs(dep: Deployment, count: int, success: bool = False, **kw: Any) -> list[dict[str, Any]]:
    """Wait until the consumer has ``count`` DAG runs (all successful, with ``success``)."""

    def probe() -> list[dict[str, Any]] | None:
        runs = dag_runs(dep)
        done = len(runs) >= count and (not success or all(r["state"] == "success" for r in runs))
        return runs if done else None

    what = f"{count} {'successful ' if success else ''}DAG run(s) of {DAG_ID}"
    runs: list[dict[str, Any]] = dep.wait_for(what, probe, **kw)
    return runs


@pytest.fixture(scope="module")
def watch(deployment: Deployment, measured: list[str]) -> Watch:
    """An hourly flow whose past runs have all finished, and the consumer DAG watching it (polling)."""
    dep = deployment
    with dep.hook_env() as hook:
        from airflow_flowservice.testing.flows import create_table_flow

        flow_id = create_table_flow(hook, name="flow_events", frequency="hour")
    # PHASE s past an hour: the rest of the hour leaves room for the wall clock (the emulator's runs on it).
    dep.emulator("POST", "/clock", json={"advance": (PHASE - emulator_now(dep)) % HOUR})
    dep.runs(flow_id)  # the flow's catch-up run for the current hour is created on read ...
    dep.finish_runs()  # ... and finishes before the watch starts: it must never be reported
    assert all(run.status == "success" for run in dep.runs(flow_id))
    polls = len(dep.run_lists(flow_id))
    started = time.monotonic()
    dep.deploy_dag(DAG_FILE, deploy_on_run_finished={"flow_id": flow_id})
    dep.wait_for(
        f"{DAG_ID} to be parsed", lambda: DAG_ID in {d["dag_id"] for d in dep.get("/dags")["dags"]}, timeout=120
    )
    parsed = time.monotonic() - started
    (asset,) = dep.wait_for(
        "the watched asset", lambda: [a for a in dep.get("/assets", name_pattern=ASSET)["assets"] if a["name"] == ASSET]
    )
    dep.wait_for("the watcher's first poll", lambda: len(dep.run_lists(flow_id)) > polls, logs=("triggerer",))
    measured.append(
        f"event watch: DAG file deployed -> parsed {parsed:.1f}s -> watcher polling {time.monotonic() - started:.1f}s"
    )
    return Watch(flow_id, int(asset["id"]), time.monotonic())


def check_one_dag_run_per_finished_run(dep: Deployment, watch: Watch) -> list[dict[str, Any]]:
    """Every finished run: exactly one asset event, consumed by exactly one successful DAG run, with its metrics."""
    from airflow_flowservice.runs.judge import run_metrics

    runs = {run.id: run for run in dep.runs(watch.flow_id)}
    finished_dag_runs = wait_dag_runs(dep, len(watch.finished), success=True)
    events = asset_events(dep, watch)
    reported = [e["extra"]["payload"]["run_id"] for e in events]
    assert sorted(reported) == sorted(watch.finished), (reported, watch.finished)  # none twice, none missed
    assert len(finished_dag_runs) == len(watch.finished)
    consumed_ids = []
    for dag_run in finished_dag_runs:
        (item,) = consumed(dep, dag_run["dag_run_id"])  # one finished run per DAG run
        run = runs[item["run_id"]]
        assert item["metrics"] == json.loads(json.dumps(run_metrics(run))), (item, run)
        assert item["metrics"]["records_read"] > 0
        consumed_ids.append(item["run_id"])
    assert consumed_ids == watch.finished  # in the order the runs finished
    return finished_dag_runs


def test_each_finished_run_schedules_one_dag_run(deployment: Deployment, watch: Watch, measured: list[str]) -> None:
    dep = deployment
    started = time.monotonic()
    latencies = []
    for n in range(1, 4):
        finished = time.monotonic()
        finish_next_run(dep, watch)
        wait_dag_runs(dep, n)  # one at a time: events that arrive together are consumed by one DAG run
        latencies.append(time.monotonic() - finished)
    check_one_dag_run_per_finished_run(dep, watch)
    measured.append(
        f"events: 3 runs finished -> 3 asset events, 3 DAG runs (1 per run, right run id and metrics); "
        f"run finished -> DAG run created {', '.join(f'{s:.1f}s' for s in latencies)}; "
        f"scenario {time.monotonic() - started:.1f}s"
    )


@pytest.mark.skipif(
    Version(airflow.__version__).release < (3, 3),
    reason="before Airflow 3.3 there is no asset state store: a restarted watch starts from now (docs/events.md)",
)
def test_triggerer_restart_neither_repeats_nor_misses_a_run(
    deployment: Deployment, watch: Watch, measured: list[str]
) -> None:
    dep = deployment
    started = time.monotonic()
    before = len(watch.finished)
    cursor = wait_cursor_past(dep, watch, watch.finished[-1])  # saved a round after the event was handed over
    assert cursor["flow_id"] == watch.flow_id
    stopping = time.monotonic()
    code = dep.stop("triggerer", signal.SIGTERM)
    stopped = time.monotonic() - stopping
    down = finish_next_run(dep, watch)  # finishes while no triggerer runs
    restarting = time.monotonic()
    dep.start("triggerer")
    wait_dag_runs(dep, before + 1, logs=("triggerer",))
    recovered = time.monotonic() - restarting
    after = finish_next_run(dep, watch)  # the restarted watch goes on
    wait_dag_runs(dep, before + 2)
    check_one_dag_run_per_finished_run(dep, watch)
    assert down in watch.finished and after in watch.finished
    wait_cursor_past(dep, watch, after)
    log = (dep.logs / "triggerer.log").read_text(errors="replace")  # both triggerers' output
    assert f"Flow {watch.flow_id}: resuming after runs updated at " in log  # the restarted watch read the store
    measured.append(
        f"event watch across a triggerer restart: SIGTERM -> exit {stopped:.1f}s (code {code}); 1 run finished while "
        f"down -> 1 DAG run {recovered:.1f}s after the restart, 0 repeated; 1 more run after it -> 1 DAG run; "
        f"cursor in the asset state store; scenario {time.monotonic() - started:.1f}s"
    )


def test_one_list_call_per_poll_interval(deployment: Deployment, watch: Watch, measured: list[str]) -> None:
    dep = deployment
    quiet = 20.0
    before = len(dep.run_lists(watch.flow_id))
    time.sleep(quiet)
    calls = len(dep.run_lists(watch.flow_id)) - before
    # Each pause is poll_interval to 1.1 x poll_interval, plus the call itself.
    assert quiet / (POLL_INTERVAL * 1.1) - 2 <= calls <= quiet / POLL_INTERVAL + 1, calls
    assert len(asset_events(dep, watch)) == len(watch.finished)  # no event without a finished run
    measured.append(
        f"event watch: {calls} GET /runs for the flow in {quiet:.0f}s with poll_interval={POLL_INTERVAL}s "
        f"({calls * POLL_INTERVAL / quiet:.2f} calls per interval)"
    )


@pytest.mark.skipif(
    Version(airflow.__version__).release < (3, 3),
    reason="before Airflow 3.3 there is no asset state store: a restarted watch starts from now (docs/events.md)",
)
def test_a_triggerer_killed_between_an_event_and_its_cursor_hands_the_event_over_again(
    deployment: Deployment, watch: Watch, measured: list[str]
) -> None:
    """At least once, across a crash: the triggerer is SIGKILLed after the event reached Airflow (its DAG run
    exists) and before the round that saves the cursor past it; the restarted watch hands it over again.

    The emulator delays every ``GET /runs`` so that the round after the event takes long enough to kill
    the triggerer in it. Runs last in the module: it leaves the asset with one event repeated.
    """
    dep = deployment
    started = time.monotonic()
    before = len(dag_runs(dep))
    wait_cursor_past(dep, watch, watch.finished[-1])
    slow = dep.emulator("POST", "/faults", json={"method": "GET", "path": "/runs", "kind": "latency", "delay": 15})
    finished = finish_next_run(dep, watch)
    wait_dag_runs(dep, before + 1, logs=("triggerer",))  # the event reached Airflow ...
    killing = time.monotonic()
    dep.stop("triggerer", signal.SIGKILL)  # ... and the round that would save the cursor past it is still out
    assert finished not in stored_cursor(dep, watch)["handled"]
    dep.emulator("DELETE", f"/faults/{slow['id']}")
    dep.start("triggerer")
    runs = wait_dag_runs(dep, before + 2, success=True, logs=("triggerer",))
    again = time.monotonic() - killing
    reported = [item["run_id"] for run in runs[before:] for item in consumed(dep, run["dag_run_id"])]
    assert reported == [finished, finished]  # handed over twice, never lost
    first_seen: dict[str, str] = {}
    for run in runs:  # what docs/events.md shows a consumer doing: act once per run id
        for item in consumed(dep, run["dag_run_id"]):
            first_seen.setdefault(item["run_id"], run["dag_run_id"])
    assert list(first_seen) == watch.finished
    wait_cursor_past(dep, watch, finished)
    measured.append(
        f"event watch, triggerer SIGKILLed between an event and its cursor: the event handed over again "
        f"{again:.1f}s after the kill (2 DAG runs for run {finished[:8]}, 1 after de-duplication by run_id); "
        f"scenario {time.monotonic() - started:.1f}s"
    )
