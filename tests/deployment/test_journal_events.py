"""Event-driven scheduling fed by the emulator's I/O Events journal, in a real deployment, through a triggerer restart.

The consumer DAG (``event_dags/deploy_on_run_finished_journal.py``) watches an hourly flow with
``source="journal"`` on the connection ``flowservice_journal`` (the default connection plus the emulator's
journal URL). Each finished run must give one asset event and one DAG run, none repeated and none lost,
also when a run finishes while the triggerer is down; the watch makes no ``GET /runs`` of the flow: the
runs' ends come from the journal.
"""

from __future__ import annotations

import signal
import time
from urllib.parse import unquote_plus

import airflow
import pytest
from packaging.version import Version

from tests.deployment.conftest import Deployment
from tests.deployment.event_watches import (
    EVENT_DAGS,
    Watch,
    check_one_dag_run_per_finished_run,
    deploy_consumer,
    finish_next_run,
    hourly_flow_behind_the_clock,
    wait_cursor_past,
    wait_dag_runs,
)

pytestmark = [
    pytest.mark.deployment,
    pytest.mark.skipif(
        Version(airflow.__version__).release < (3, 3),
        reason="before Airflow 3.3 there is no asset state store: a restarted watch starts from now (docs/events.md)",
    ),
]

DAG_FILE = EVENT_DAGS / "deploy_on_run_finished_journal.py"
DAG_ID = "deploy_on_run_finished_journal"
ASSET = "deploy_flow_runs_finished_journal"


def watch_polls(dep: Deployment, flow_id: str) -> int:
    """The ``GET /runs`` a poll watch of the flow makes (``updatedAt>=`` a cursor); the test's own reads have none."""
    return sum("updatedAt>=" in unquote_plus(r["query"]) for r in dep.run_lists(flow_id))


def journal_reads(dep: Deployment) -> int:
    records = dep.emulator("GET", "/requests", params={"method": "GET", "path_prefix": "/events/"})["requests"]
    return len(records)


@pytest.fixture(scope="module")
def journal_watch(deployment: Deployment, measured: list[str]) -> Watch:
    """An hourly flow whose past runs have all finished, and the consumer DAG watching it through the journal."""
    dep = deployment
    flow_id = hourly_flow_behind_the_clock(dep, "flow_journal_events")
    reads = journal_reads(dep)
    started = time.monotonic()
    asset_id, parsed = deploy_consumer(dep, DAG_FILE, DAG_ID, ASSET, flow_id)
    dep.wait_for("the watcher's first journal read", lambda: journal_reads(dep) > reads, logs=("triggerer",))
    measured.append(
        f"journal watch: DAG file deployed -> parsed {parsed:.1f}s -> reading the journal "
        f"{time.monotonic() - started:.1f}s"
    )
    return Watch(flow_id, DAG_ID, asset_id, time.monotonic())


def test_journal_fed_watch_through_a_triggerer_restart(
    deployment: Deployment, journal_watch: Watch, measured: list[str]
) -> None:
    dep, watch = deployment, journal_watch
    started = time.monotonic()
    latencies = []
    for n in range(1, 3):
        finishing = time.monotonic()
        finish_next_run(dep, watch)
        wait_dag_runs(dep, watch, n, logs=("triggerer",))
        latencies.append(time.monotonic() - finishing)
    wait_cursor_past(dep, watch, watch.finished[-1])  # saved a round after the event left
    code = dep.stop("triggerer", signal.SIGTERM)
    down = finish_next_run(dep, watch)  # finishes while no triggerer runs: its notification waits in the journal
    restarting = time.monotonic()
    dep.start("triggerer")
    wait_dag_runs(dep, watch, 3, logs=("triggerer",))
    recovered = time.monotonic() - restarting
    after = finish_next_run(dep, watch)
    wait_dag_runs(dep, watch, 4, logs=("triggerer",))
    check_one_dag_run_per_finished_run(dep, watch)  # none repeated, none lost, in order, with their metrics
    assert down in watch.finished and after in watch.finished
    assert watch_polls(dep, watch.flow_id) == 0  # the watch read the journal, never polled the flow's runs
    log = (dep.logs / "triggerer.log").read_text(errors="replace")
    assert f"Flow {watch.flow_id}: watching the events journal" in log
    assert "resuming at" in log  # the restarted watch resumed the journal from the asset state store
    measured.append(
        f"journal watch: 2 runs finished -> 2 DAG runs ({', '.join(f'{s:.1f}s' for s in latencies)} after each "
        f"run's end); triggerer SIGTERM (exit {code}), 1 run finished while down -> 1 DAG run {recovered:.1f}s "
        f"after the restart; 1 more -> 1 DAG run; 0 repeated, 0 GET /runs of the flow; scenario "
        f"{time.monotonic() - started:.1f}s"
    )
