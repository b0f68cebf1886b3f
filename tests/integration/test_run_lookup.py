"""The look-up before ``POST /runs`` costs the same whatever the flow's history, and still adopts.

A flow's history is seeded in the emulator (thousands of finished runs); each test then counts the
Flow Service calls one window's task makes. See docs/runs.md ("Which cases adopt").
"""

from __future__ import annotations

from typing import Any

import pendulum
import pytest

from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator
from airflow_flowservice.runs.start import memory_key
from airflow_flowservice.runs.windows import RunWindow
from airflow_flowservice.testing.flows import create_table_flow

pytestmark = pytest.mark.integration

HOUR = 3600
DAY = 86400
JAN1 = 1767225600  # 2026-01-01T00:00:00Z
FEB1 = JAN1 + 31 * DAY

DAG_SOURCE = """
import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow_flowservice.operators import FlowServiceTriggerRunOperator

with DAG(
    "{dag_id}",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=True,
):
    FlowServiceTriggerRunOperator(
        task_id="run", flow_id="{flow_id}", delta_column="updated_at", wait_for_completion=False
    )
"""


class _TI:
    def __init__(self, try_number: int) -> None:
        self.try_number = try_number
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class _Store(dict[str, Any]):
    """Airflow's task state store, as the operator uses it (``get``/``set``)."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value


def flow_calls(emu: Any) -> list[str]:
    """``METHOD /path`` of every Flow Service call logged (token calls left out)."""
    return [f"{r.method} {r.path.split('/')[1]}" for r in emu.calls() if not r.path.startswith("/ims")]


def seed_history(emu: Any, flow_id: str, runs: int) -> None:
    """``runs`` hourly runs of windows from February on, created after every run made so far."""
    windows = [(FEB1 + k * HOUR, FEB1 + (k + 1) * HOUR) for k in range(runs)]
    emu.seed_runs(flow_id, windows, created_from_ms=emu.clock.now_ms() + 1000)


def trigger(flow_id: str, day: int, *, try_number: int, store: _Store | None = None) -> str:
    """The task of January ``day + 1``'s window, as Airflow runs one try of it."""
    op = FlowServiceTriggerRunOperator(
        task_id="run", flow_id=flow_id, delta_column="updated_at", wait_for_completion=False
    )
    context: dict[str, Any] = {
        "data_interval_start": JAN1 + day * DAY,
        "data_interval_end": JAN1 + (day + 1) * DAY,
        "ti": _TI(try_number),
    }
    if store is not None:
        context["task_state_store"] = store
    run_id: str = op.execute(context)  # type: ignore[arg-type]
    return run_id


@pytest.fixture
def flow_id(flowservice_emulator: Any) -> str:
    """A table flow whose deltaColumn is already set (its first run, for January 1st, exists)."""
    flow = create_table_flow(FlowServiceHook())
    trigger(flow, 0, try_number=1)
    return flow


@pytest.mark.parametrize("history", [0, 3000])
def test_new_window_through_dag_test_costs_three_calls(
    history: int, flow_id: str, flowservice_emulator: Any, load_dag: Any
) -> None:
    emu = flowservice_emulator
    seed_history(emu, flow_id, history)
    dag = load_dag("lookup_new", source=DAG_SOURCE.format(dag_id="lookup_new", flow_id=flow_id))
    emu.requests.clear()
    assert dag.test(logical_date=pendulum.datetime(2026, 1, 3, tz="UTC")).state == "success"
    # the look-up page, the POST and the check for a concurrent task's run of the window (docs/runs.md);
    # the flow is read only when the service refuses the run
    assert flow_calls(emu) == ["GET runs", "POST runs", "GET runs"]
    assert len(FlowServiceHook().list_runs(flow_id)) == history + 2


def test_retried_try_adopts_by_looking_back_to_the_window_end(flow_id: str, flowservice_emulator: Any) -> None:
    emu = flowservice_emulator
    first = trigger(flow_id, 2, try_number=1)  # then the try dies before it could remember its run
    seed_history(emu, flow_id, 300)  # more runs created since: the run is past the first page
    emu.requests.clear()
    assert trigger(flow_id, 2, try_number=2) == first
    calls = flow_calls(emu)
    assert "POST runs" not in calls
    assert calls.count("GET runs") == 4  # 302 runs created since the window ended, 100 a page


def test_first_try_reads_one_page_only(flow_id: str, flowservice_emulator: Any) -> None:
    emu = flowservice_emulator
    seed_history(emu, flow_id, 300)
    emu.requests.clear()
    trigger(flow_id, 5, try_number=1)
    # the last GET runs: the check for a concurrent task's run of the same window (docs/runs.md)
    assert flow_calls(emu) == ["GET runs", "POST runs", "GET runs"]


def test_remembered_run_is_adopted_with_one_get(flow_id: str, flowservice_emulator: Any) -> None:
    emu = flowservice_emulator
    store = _Store()
    first = trigger(flow_id, 2, try_number=1, store=store)
    assert store == {memory_key(flow_id, RunWindow(JAN1 + 2 * DAY, JAN1 + 3 * DAY)): first}
    seed_history(emu, flow_id, 3000)
    emu.requests.clear()
    # a retry, a cleared task or a backfill reprocessing the DAG run: the store outlives them all
    assert trigger(flow_id, 2, try_number=3, store=store) == first
    assert flow_calls(emu) == ["GET runs"]  # GET /runs/{id}: no listing
    assert [r.path for r in emu.calls(method="GET", path_prefix="/runs")] == [f"/runs/{first}"]


def test_remembered_run_of_another_window_is_not_adopted(flow_id: str, flowservice_emulator: Any) -> None:
    store = _Store()
    other = trigger(flow_id, 2, try_number=1, store=store)
    window = RunWindow(JAN1 + 4 * DAY, JAN1 + 5 * DAY)
    store[memory_key(flow_id, window)] = other  # a stale or wrong entry
    assert trigger(flow_id, 4, try_number=2, store=store) != other
    assert store[memory_key(flow_id, window)] != other


def test_another_dag_run_of_the_window_adopts_a_run_on_the_first_page(
    flow_id: str, flowservice_emulator: Any, load_dag: Any
) -> None:
    emu = flowservice_emulator
    dag = load_dag("lookup_again", source=DAG_SOURCE.format(dag_id="lookup_again", flow_id=flow_id))
    date = pendulum.datetime(2026, 1, 3, tz="UTC")
    assert dag.test(logical_date=date).state == "success"
    seed_history(emu, flow_id, 50)  # still among the 100 newest runs created since the window ended
    posted = len(emu.calls(method="POST", path_prefix="/runs"))
    # dag.test() makes a new DAG run of the same window: its first try reads one page
    assert dag.test(logical_date=date).state == "success"
    assert len(emu.calls(method="POST", path_prefix="/runs")) == posted
    assert len(FlowServiceHook().list_runs(flow_id)) == 52
