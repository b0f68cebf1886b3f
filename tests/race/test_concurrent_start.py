"""Two tasks start the same flow's window at the same moment: a duplicate run is never silent.

The race test runs two worker processes that start the same windows a few milliseconds apart, as a
manual run, a second DAG or an overlapping backfill does next to the scheduled run on another Celery
worker. ``POST /runs`` is slowed by 50 ms (a latency fault) so that one task's look-up can pass
before the other's run exists. Nothing a task can reach makes look-up and ``POST`` atomic
(``docs/runs.md``), so duplicates happen; the property tested is that every one is reported by a
failed task naming every run of the window, and no window is left without a run.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_flowservice._compat import AirflowFailException
from airflow_flowservice.exceptions import FlowServiceDuplicateRunsError
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator
from airflow_flowservice.runs import start as start_module
from airflow_flowservice.runs.start import check_single_run
from airflow_flowservice.runs.windows import RunWindow
from airflow_flowservice.testing import FlowServiceEmulator
from airflow_flowservice.testing.flows import create_table_flow
from tests.race.harness import HOUR, JAN1, race

pytestmark = pytest.mark.faults

REPETITIONS = 20


class _TI:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


def _post_run(hook: FlowServiceHook, flow_id: str, start: int, end: int) -> str:
    """A run of the window created by someone else (another task's ``POST /runs``)."""
    params = {"startTime": str(end), "windowStartTime": str(start), "windowEndTime": str(end)}
    if not hook.get_flow(flow_id).delta_column:
        params["deltaColumn"] = {"name": "updated_at"}  # type: ignore[assignment]
    body = hook.client.request("POST", "/runs", json={"flowId": flow_id, "params": params})
    items = body.get("items") or [body]
    return str(items[0]["id"])


def test_race_of_two_workers_leaves_no_silent_duplicate(flowservice_emulator: FlowServiceEmulator) -> None:
    flowservice_emulator.faults.add("POST", "/runs", "latency", delay=0.05)
    result = race(flowservice_emulator, repetitions=REPETITIONS)
    # On a loaded machine a start can miss its instant (it then runs at once, later than the other);
    # the windows that did race are still most of them, and the properties below hold for all.
    assert result.late <= REPETITIONS // 10, f"{result.late} starts missed their instant: the race did not happen"
    assert result.missing == 0
    assert result.duplicates > 0, "no duplicate: the race did not happen, so the test shows nothing"
    assert result.silent_duplicates == 0
    for start, runs in result.runs_per_window.items():
        failed = [line for line in result.outcomes[start] if not line["ok"]]
        if runs == 1:
            assert failed == [], failed
            continue
        assert failed, f"window {start}: {runs} runs and no task failed"
        for line in failed:
            assert (line["error"], line["fails_without_retry"]) == ("FlowServiceDuplicateRunsError", True)
            assert f"{runs} runs for window {start}..{start + HOUR}" in line["message"]


def test_check_single_run_names_every_run_of_the_window(flowservice_emulator: FlowServiceEmulator) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    window = RunWindow(JAN1, JAN1 + HOUR)
    first = _post_run(hook, flow_id, window.start, window.end)
    _post_run(hook, flow_id, window.end, window.end + HOUR)  # the next window's run does not count
    check_single_run(hook, flow_id, window, first)  # one run: nothing to report
    second = _post_run(hook, flow_id, window.start, window.end)
    with pytest.raises(FlowServiceDuplicateRunsError) as info:
        check_single_run(hook, flow_id, window, second)
    assert sorted(info.value.run_ids) == sorted([first, second])
    assert first in str(info.value) and second in str(info.value)


def test_operator_fails_without_retry_when_another_task_started_the_window(
    flowservice_emulator: FlowServiceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other task's run appears between this task's look-up and its ``POST``."""
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    real_find = start_module.find_run_for_window
    others: list[str] = []

    def find_then_lose_the_race(*args: Any, **kwargs: Any) -> Any:
        found = real_find(*args, **kwargs)
        others.append(_post_run(hook, flow_id, JAN1, JAN1 + HOUR))
        return found

    monkeypatch.setattr(start_module, "find_run_for_window", find_then_lose_the_race)
    op = FlowServiceTriggerRunOperator(
        task_id="ingest",
        flow_id=flow_id,
        window_start=JAN1,
        window_end=JAN1 + HOUR,
        delta_column="updated_at",
        wait_for_completion=False,
    )
    with pytest.raises(AirflowFailException) as info:
        op.execute({"ti": _TI()})  # type: ignore[arg-type]
    runs = [run.id for run in hook.list_runs(flow_id)]
    assert len(runs) == 2 and others[0] in runs
    for run_id in runs:
        assert run_id in str(info.value)


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: Any) -> None:
        self.lines.append(message % args)

    warning = debug = info


@pytest.mark.parametrize(("pool", "advised"), [(None, True), ("flowservice_orders", False)])
def test_a_task_outside_a_pool_of_its_own_says_how_to_prevent_the_race(
    pool: str | None, advised: bool, flowservice_emulator: FlowServiceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    op = FlowServiceTriggerRunOperator(
        task_id="ingest",
        flow_id=flow_id,
        window_start=JAN1,
        window_end=JAN1 + HOUR,
        delta_column="updated_at",
        wait_for_completion=False,
        **({"pool": pool} if pool else {}),
    )
    log = _Log()
    monkeypatch.setattr(FlowServiceTriggerRunOperator, "log", property(lambda self: log))
    op.execute({"ti": _TI()})  # type: ignore[arg-type]
    advice = [line for line in log.lines if "pool of" in line]
    assert bool(advice) is advised, log.lines
    if advised:
        assert "one pool of one slot to prevent it (docs/runs.md)" in advice[0]


def test_the_task_that_started_first_learns_of_the_duplicate_while_it_waits(
    flowservice_emulator: FlowServiceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both tasks of a duplicated window report it: the first one's worker wait reads the window's runs
    (the same one call a poll), so the second run shows, and the wait fails naming both when its run ends."""
    from airflow_flowservice.runs import poll

    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    op = FlowServiceTriggerRunOperator(
        task_id="ingest",
        flow_id=flow_id,
        window_start=JAN1,
        window_end=JAN1 + HOUR,
        delta_column="updated_at",
        poll_interval=0.01,
        deferrable=False,
    )
    others: list[str] = []
    real_read = poll._read

    def read_while_the_other_task_posts(*args: Any) -> Any:
        if not others:  # the other task's POST /runs lands after this task's check, before its first poll
            others.append(_post_run(hook, flow_id, JAN1, JAN1 + HOUR))
        return real_read(*args)

    monkeypatch.setattr(poll, "_read", read_while_the_other_task_posts)
    polls_before = len(flowservice_emulator.calls(method="GET", path_prefix="/runs"))
    with pytest.raises(FlowServiceDuplicateRunsError) as info:
        op.execute({"ti": _TI()})  # type: ignore[arg-type]
    assert isinstance(info.value, AirflowFailException)  # fails without retry, as the second task does
    runs = [run.id for run in hook.list_runs(flow_id)]
    assert len(runs) == 2 and others[0] in runs
    assert all(run_id in str(info.value) for run_id in runs)
    calls = flowservice_emulator.calls(method="GET", path_prefix="/runs")[polls_before:]
    assert not [c for c in calls if c.path.startswith("/runs/")]  # polled by listing the window: no extra call
