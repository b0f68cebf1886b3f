"""Exactly-once run creation under injected faults: dropped answers, 5xx and 429 on the calls it makes.

The property: however the calls that start a window's run fail, once every window's task
has succeeded (Airflow retrying a failed try) the service holds exactly one run per window: no
duplicate (two runs of a flow with the same window) and no missing window.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pendulum
import pytest

from airflow_flowservice.exceptions import FlowServiceError
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator
from airflow_flowservice.testing.emulator.faults import FaultRule
from airflow_flowservice.testing.flows import create_table_flow
from tests.faults.conftest import Sleeps

pytestmark = pytest.mark.faults

HOUR = 3600
DAY = 86400
JAN1 = 1767225600  # 2026-01-01T00:00:00Z
MAX_TRIES = 5  # what ``retries=4`` gives a task in Airflow


class _TI:
    """The part of a task instance the operator uses (its try number, XCom pushes)."""

    def __init__(self, try_number: int) -> None:
        self.try_number = try_number
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@dataclass
class Tally:
    """What the simulated Airflow retries saw."""

    attempts: int = 0
    failed_tries: Counter[str] = field(default_factory=Counter)  # exception class -> failed tries
    tries_per_window: Counter[int] = field(default_factory=Counter)  # tries needed -> windows


def add_creation_faults(emu: Any, *, drop: float, server_error: float, rate_limit: float, seed: int) -> list[FaultRule]:
    """Seeded faults on every call run creation makes: ``POST /runs`` and the ``GET /runs`` listing.

    Rules are checked in order and the first that fires wins, so the later rules get conditional
    probabilities: of all ``POST /runs``, ``drop`` are dropped after being applied, ``server_error``
    answered 503 and ``rate_limit`` answered 429 (in expectation).
    """
    post_5xx = server_error / (1 - drop)
    post_429 = rate_limit / (1 - drop - server_error)
    get_429 = rate_limit / (1 - server_error)
    return [
        emu.faults.add("POST", "/runs", "drop_after_apply", times=None, probability=drop, seed=seed),
        emu.faults.add("POST", "/runs", "status", status=503, times=None, probability=post_5xx, seed=seed + 1),
        emu.faults.add("POST", "/runs", "rate_limit", retry_after="3", times=None, probability=post_429, seed=seed + 2),
        emu.faults.add("GET", "/runs", "status", status=502, times=None, probability=server_error, seed=seed + 3),
        emu.faults.add("GET", "/runs", "rate_limit", retry_after="2", times=None, probability=get_429, seed=seed + 4),
    ]


def trigger_window(flow_id: str, start: int, end: int, tally: Tally) -> str:
    """One window's task as Airflow runs it: a fresh operator per try, retried while a try raises."""
    for attempt in range(1, MAX_TRIES + 1):
        tally.attempts += 1
        op = FlowServiceTriggerRunOperator(
            task_id="ingest", flow_id=flow_id, delta_column="updated_at", wait_for_completion=False
        )
        context = {"data_interval_start": start, "data_interval_end": end, "ti": _TI(attempt)}
        try:
            run_id: str = op.execute(context)  # type: ignore[arg-type]
        except FlowServiceError as exc:
            tally.failed_tries[type(exc).__name__] += 1
            if attempt == MAX_TRIES:
                raise
            continue
        tally.tries_per_window[attempt] += 1
        return run_id
    raise AssertionError("unreachable")


def runs_by_window(hook: FlowServiceHook, flow_ids: list[str]) -> Counter[tuple[str, tuple[int, int] | None]]:
    """(flow, window) -> how many runs the service holds for it."""
    return Counter((flow_id, run.window()) for flow_id in flow_ids for run in hook.list_runs(flow_id))


FLOWS = 10
WINDOWS_PER_FLOW = 100  # past one page of the run listing (50): adoption must look beyond page 1


def test_1000_windows_exactly_once_under_faults(flowservice_emulator: Any, sleeps: Sleeps) -> None:
    emu = flowservice_emulator
    hook = FlowServiceHook()
    flow_ids = [create_table_flow(hook) for _ in range(FLOWS)]
    # hourly windows, every flow's task for an hour before the next hour (what a catch-up schedules)
    windows = [
        (flow_id, (JAN1 + k * HOUR, JAN1 + (k + 1) * HOUR)) for k in range(WINDOWS_PER_FLOW) for flow_id in flow_ids
    ]
    assert len(windows) == 1000
    rules = add_creation_faults(emu, drop=0.10, server_error=0.05, rate_limit=0.05, seed=8)
    tally = Tally()

    began = time.perf_counter()
    returned = {(flow_id, window): trigger_window(flow_id, *window, tally) for flow_id, window in windows}
    wall = time.perf_counter() - began

    emu.faults.clear()
    found = runs_by_window(hook, flow_ids)
    duplicates = {key: n for key, n in found.items() if n > 1}
    missing = [key for key in windows if key not in found]
    assert sum(found.values()) == 1000
    assert duplicates == {}
    assert missing == []
    assert set(found) == set(windows)
    # each task returned the run that exists for its window
    assert returned == {(f, run.window()): run.id for f in flow_ids for run in hook.list_runs(f)}
    # every applied POST (answered or dropped) is one of those runs: nothing was created twice
    posts = [r for r in emu.calls(method="POST", path_prefix="/runs") if r.path == "/runs"]
    assert sum(1 for r in posts if r.status in (201, "dropped")) == 1000

    hits = {f"{r.method} {r.path} {r.kind}{'/' + str(r.status) if r.kind == 'status' else ''}": r.hits for r in rules}
    # the faults really happened, at about the asked rates, and forced task retries and look-ups
    assert all(n > 0 for n in hits.values()), hits
    dropped = sum(1 for r in posts if r.status == "dropped")
    assert 0.07 * len(posts) < dropped < 0.13 * len(posts)
    # a 503 on POST /runs is re-sent in the same try once a look-up found no run: every window needed one
    # try, unless a window met five 503s in a row
    answered_503 = sum(1 for r in posts if r.status == 503)
    assert answered_503 > 0 and tally.attempts - 1000 <= tally.failed_tries["FlowServiceError"]
    assert sleeps.lookup and sleeps.client  # waited (virtually) between look-ups and client retries
    assert 3.0 in sleeps.client and 2.0 in sleeps.client  # the 429s' Retry-After was honoured

    print(
        f"\n[faults] 1000 windows ({FLOWS} flows x {WINDOWS_PER_FLOW}): runs={sum(found.values())} "
        f"duplicates={len(duplicates)} missing={len(missing)} task tries={tally.attempts} "
        f"(tries needed -> windows {dict(sorted(tally.tries_per_window.items()))}; failed tries "
        f"{dict(tally.failed_tries)}) POST /runs sent={len(posts)} faults hit={hits} "
        f"client retry waits={len(sleeps.client)} look-up waits={len(sleeps.lookup)} "
        f"requests={len(emu.requests)} wall={wall:.1f}s"
    )


DAG_SOURCE = """
from datetime import timedelta

import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow_flowservice.operators import FlowServiceTriggerRunOperator

with DAG(
    "{dag_id}",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=True,
    default_args={{"retries": {retries}, "retry_delay": timedelta(0)}},
):
    FlowServiceTriggerRunOperator(
        task_id="ingest", flow_id="{flow_id}", delta_column="updated_at", wait_for_completion=False
    )
"""


def task_tries(dag_id: str) -> dict[str, int]:
    """try_number of every ``ingest`` task instance of the DAG, by DAG run id."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.run_id, TaskInstance.try_number).where(TaskInstance.dag_id == dag_id)
        )
        return {run_id: int(tries) for run_id, tries in rows}


def test_windows_exactly_once_through_airflow_with_task_retries(
    flowservice_emulator: Any, sleeps: Sleeps, load_dag: Any
) -> None:
    emu = flowservice_emulator
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    days = 12
    dag = load_dag(
        "faults_exactly_once",
        source=DAG_SOURCE.format(dag_id="faults_exactly_once", flow_id=flow_id, retries=MAX_TRIES - 1),
    )
    # higher rates than the 1,000-window test so that a dozen windows meet every kind of fault
    rules = add_creation_faults(emu, drop=0.25, server_error=0.2, rate_limit=0.2, seed=3)

    states = [dag.test(logical_date=pendulum.datetime(2026, 1, 2 + d, tz="UTC")).state for d in range(days)]

    emu.faults.clear()
    assert states == ["success"] * days
    windows = [(JAN1 + d * DAY, JAN1 + (d + 1) * DAY) for d in range(days)]
    found = runs_by_window(hook, [flow_id])
    assert {key: n for key, n in found.items() if n > 1} == {}
    assert sorted(w for _, w in found if w is not None) == windows
    assert sum(found.values()) == days
    tries = task_tries("faults_exactly_once")
    assert len(tries) == days
    assert max(tries.values()) <= MAX_TRIES  # any try that failed was retried by Airflow within the task's retries
    hits = {f"{r.method} {r.path} {r.kind}": r.hits for r in rules}
    assert all(n > 0 for n in hits.values()), hits
    print(f"\n[faults] {days} windows through dag.test(): tries per DAG run {sorted(tries.values())} faults hit={hits}")


def test_dag_without_retries_survives_5xx_and_dropped_answers_on_post_runs(
    flowservice_emulator: Any, sleeps: Sleeps, load_dag: Any
) -> None:
    """Airflow's default ``retries=0``: under 20% 503s and 10% dropped answers on ``POST /runs``, every
    window succeeds in its one try, with exactly one run each (a 503 is re-sent only after a look-up
    found no run; a dropped answer's run is adopted)."""
    emu = flowservice_emulator
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    days = 24
    dag = load_dag(
        "faults_no_retries", source=DAG_SOURCE.format(dag_id="faults_no_retries", flow_id=flow_id, retries=0)
    )
    rules = [
        emu.faults.add("POST", "/runs", "drop_after_apply", times=None, probability=0.10, seed=21),
        emu.faults.add("POST", "/runs", "status", status=503, times=None, probability=0.20 / 0.90, seed=22),
    ]

    states = [dag.test(logical_date=pendulum.datetime(2026, 1, 2 + d, tz="UTC")).state for d in range(days)]

    emu.faults.clear()
    failed = [d for d, state in enumerate(states) if state != "success"]
    assert failed == []
    found = runs_by_window(hook, [flow_id])
    assert {key: n for key, n in found.items() if n > 1} == {}
    assert sum(found.values()) == days
    assert set(task_tries("faults_no_retries").values()) == {1}  # one try each: nothing was left to Airflow
    hits = {f"{r.method} {r.path} {r.kind}": r.hits for r in rules}
    assert all(n > 0 for n in hits.values()), hits
    print(f"\n[faults] {days} windows, retries=0: failed windows={len(failed)} faults hit={hits}")
