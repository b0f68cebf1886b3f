"""Event-driven scheduling in a real deployment: a DAG scheduled on an asset watched by FlowServiceRunEventTrigger.

An hourly flow on the emulator gets a run at each hour of the emulator's clock; each scenario moves
that clock one hour at a time (the run appears ``inProgress``), then past the run's end (it turns
``success``), so the test decides when each run finishes. The consumer DAG
(``event_dags/deploy_on_run_finished.py``, deployed once the flow exists) returns the run ids and
metrics of the asset events that triggered it; the scenarios read them back through the REST API.
"""

from __future__ import annotations

import signal
import time

import airflow
import pytest
from packaging.version import Version

from tests.deployment.conftest import Deployment
from tests.deployment.event_watches import (
    EVENT_DAGS,
    Watch,
    asset_events,
    check_one_dag_run_per_finished_run,
    consumed,
    dag_runs,
    deploy_consumer,
    finish_next_run,
    handled,
    hourly_flow_behind_the_clock,
    stored_cursor,
    wait_cursor_past,
    wait_dag_runs,
)

pytestmark = pytest.mark.deployment

DAG_FILE = EVENT_DAGS / "deploy_on_run_finished.py"
DAG_ID = "deploy_on_run_finished"
ASSET = "deploy_flow_runs_finished"
POLL_INTERVAL = 2  # the watcher's, in the DAG file


@pytest.fixture(scope="module")
def watch(deployment: Deployment, measured: list[str]) -> Watch:
    """An hourly flow whose past runs have all finished, and the consumer DAG watching it (polling)."""
    dep = deployment
    flow_id = hourly_flow_behind_the_clock(dep, "flow_events")
    polls = len(dep.run_lists(flow_id))
    started = time.monotonic()
    asset_id, parsed = deploy_consumer(dep, DAG_FILE, DAG_ID, ASSET, flow_id)
    dep.wait_for("the watcher's first poll", lambda: len(dep.run_lists(flow_id)) > polls, logs=("triggerer",))
    measured.append(
        f"event watch: DAG file deployed -> parsed {parsed:.1f}s -> watcher polling {time.monotonic() - started:.1f}s"
    )
    return Watch(flow_id, DAG_ID, asset_id, time.monotonic())


def test_each_finished_run_schedules_one_dag_run(deployment: Deployment, watch: Watch, measured: list[str]) -> None:
    dep = deployment
    started = time.monotonic()
    latencies = []
    for n in range(1, 4):
        finished = time.monotonic()
        finish_next_run(dep, watch)
        wait_dag_runs(dep, watch, n)  # one at a time: events that arrive together are consumed by one DAG run
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
    wait_dag_runs(dep, watch, before + 1, logs=("triggerer",))
    recovered = time.monotonic() - restarting
    after = finish_next_run(dep, watch)  # the restarted watch goes on
    wait_dag_runs(dep, watch, before + 2)
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
    before = len(dag_runs(dep, watch))
    wait_cursor_past(dep, watch, watch.finished[-1])
    slow = dep.emulator("POST", "/faults", json={"method": "GET", "path": "/runs", "kind": "latency", "delay": 15})
    finished = finish_next_run(dep, watch)
    wait_dag_runs(dep, watch, before + 1, logs=("triggerer",))  # the event reached Airflow ...
    killing = time.monotonic()
    dep.stop("triggerer", signal.SIGKILL)  # ... and the round that would save the cursor past it is still out
    assert finished not in handled(stored_cursor(dep, watch))
    dep.emulator("DELETE", f"/faults/{slow['id']}")
    dep.start("triggerer")
    runs = wait_dag_runs(dep, watch, before + 2, success=True, logs=("triggerer",))
    again = time.monotonic() - killing
    reported = [item["run_id"] for run in runs[before:] for item in consumed(dep, watch, run["dag_run_id"])]
    assert reported == [finished, finished]  # handed over twice, never lost
    first_seen: dict[str, str] = {}
    for run in runs:  # what docs/events.md shows a consumer doing: act once per run id
        for item in consumed(dep, watch, run["dag_run_id"]):
            first_seen.setdefault(item["run_id"], run["dag_run_id"])
    assert list(first_seen) == watch.finished
    wait_cursor_past(dep, watch, finished)
    measured.append(
        f"event watch, triggerer SIGKILLed between an event and its cursor: the event handed over again "
        f"{again:.1f}s after the kill (2 DAG runs for run {finished[:8]}, 1 after de-duplication by run_id); "
        f"scenario {time.monotonic() - started:.1f}s"
    )
