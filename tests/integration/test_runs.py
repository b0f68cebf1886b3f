"""On-demand runs through Airflow against the emulator: windows, exactly-once, waiting, judging."""

from __future__ import annotations

import time
import types
from datetime import timedelta
from typing import Any

import pendulum
import pytest

from airflow_flowservice.exceptions import FlowServiceBadRequestError, FlowServiceConfigError, FlowServiceRunFailedError
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator
from airflow_flowservice.testing.flows import create_table_flow, start_run

pytestmark = pytest.mark.integration

DAY = 86400
JAN1 = 1767225600  # 2026-01-01T00:00:00Z

DAG_SOURCE = """
import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow_flowservice.operators import FlowServiceTriggerRunOperator
from airflow_flowservice.sensors import FlowServiceRunSensor

with DAG(
    "{dag_id}",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=True,
):
    run = FlowServiceTriggerRunOperator(
        task_id="run",
        flow_id="{flow_id}",
        delta_column="updated_at",
        poll_interval=0.1,
        deferrable={deferrable},
        wait_for_completion={wait},
        max_failed_records={max_failed},
    )
    {sensor}
"""


def dag_source(dag_id: str, flow_id: str, **kw: Any) -> str:
    return DAG_SOURCE.format(
        dag_id=dag_id,
        flow_id=flow_id,
        deferrable=kw.get("deferrable", False),
        wait=kw.get("wait", True),
        max_failed=kw.get("max_failed"),
        sensor=kw.get("sensor", ""),
    )


def posts(emu: Any) -> list[dict[str, Any]]:
    return [r.body for r in emu.calls(method="POST", path_prefix="/runs") if r.path == "/runs"]


def run_windows(hook: FlowServiceHook, flow_id: str) -> list[tuple[int, int]]:
    return sorted(w for r in hook.list_runs(flow_id) if (w := r.window()) is not None)


@pytest.fixture(autouse=True, params=["bare", "items"])
def run_create_envelope(request: pytest.FixtureRequest, flowservice_emulator: Any) -> str:
    """Every test runs against both answers of ``POST /runs``: the OpenAPI spec's bare ``{id, etag}``
    and the on-demand ingestion guide's ``{"items": [{id, etag}]}``."""
    flowservice_emulator.run_create_envelope = request.param
    return str(request.param)


@pytest.fixture
def hook(flowservice_emulator: Any) -> FlowServiceHook:
    return FlowServiceHook()


def test_scheduled_dag_run_sends_exactly_its_window(
    flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any
) -> None:
    flow_id = create_table_flow(hook)
    dag = load_dag("runs_window", source=dag_source("runs_window", flow_id))
    dag_run = dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC"))
    assert dag_run.state == "success"
    (body,) = posts(flowservice_emulator)
    assert body["flowId"] == flow_id
    assert body["params"]["windowStartTime"] == str(JAN1 + 3 * DAY)
    assert body["params"]["windowEndTime"] == str(JAN1 + 4 * DAY)
    assert body["params"]["deltaColumn"] == {"name": "updated_at"}


def test_seven_daily_windows_make_seven_exact_runs(
    flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any
) -> None:
    flow_id = create_table_flow(hook)
    dag = load_dag("runs_backfill", source=dag_source("runs_backfill", flow_id))
    for day in range(2, 9):  # what a 7-day catch-up/backfill schedules: one DAG run per window
        assert dag.test(logical_date=pendulum.datetime(2026, 1, day, tz="UTC")).state == "success"
    windows = run_windows(hook, flow_id)
    assert windows == [(JAN1 + d * DAY, JAN1 + (d + 1) * DAY) for d in range(7)]
    sent = posts(flowservice_emulator)
    assert len(sent) == 7
    # The flow is not read before a run, so delta_column is sent as given: the first run sets it on the
    # flow, later runs send the same name, which the service accepts (only a different one is 1382).
    assert all(b["params"]["deltaColumn"] == {"name": "updated_at"} for b in sent)
    assert hook.get_flow(flow_id).delta_column == {"name": "updated_at"}


def test_retried_task_adopts_its_run(flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any) -> None:
    flow_id = create_table_flow(hook)
    dag = load_dag("runs_retry", source=dag_source("runs_retry", flow_id))
    for _ in range(3):  # the same DAG run cleared and re-run three times
        assert dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC")).state == "success"
    assert len(hook.list_runs(flow_id)) == 1
    assert len(posts(flowservice_emulator)) == 1


def test_dropped_response_is_adopted_not_resent(
    flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any
) -> None:
    flow_id = create_table_flow(hook)
    flowservice_emulator.faults.add(method="POST", path="/runs", kind="drop_after_apply", times=1)
    dag = load_dag("runs_drop", source=dag_source("runs_drop", flow_id))
    assert dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC")).state == "success"
    assert len(hook.list_runs(flow_id)) == 1
    assert len(posts(flowservice_emulator)) == 1


def test_5xx_before_apply_is_resent_in_the_same_try_after_a_look_up(
    flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look-up confirms that no run exists, so the same try sends ``POST /runs`` again: a DAG
    without retries (the DAG here has none) survives a transient 5xx, and one run exists."""
    from airflow_flowservice.runs import start

    no_wait = types.SimpleNamespace(sleep=lambda seconds: None, time=time.time)
    monkeypatch.setattr(start, "time", no_wait)  # the look-up pauses only (not the process's time.sleep)
    flow_id = create_table_flow(hook)
    flowservice_emulator.faults.add(method="POST", path="/runs", kind="status", status=503, times=2)
    dag = load_dag("runs_5xx", source=dag_source("runs_5xx", flow_id))
    assert dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC")).state == "success"
    assert len(posts(flowservice_emulator)) == 3  # two 503s, then the run
    assert len(hook.list_runs(flow_id)) == 1
    # between the sends, the run was looked up (GET /runs) before each re-send
    calls = [f"{r.method} {r.path}" for r in flowservice_emulator.calls(path_prefix="/runs")]
    assert calls.index("GET /runs", calls.index("POST /runs")) < len(calls) - 1


def test_deferrable_operator_through_dag_test(flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any) -> None:
    flow_id = create_table_flow(hook)
    dag = load_dag("runs_deferred", source=dag_source("runs_deferred", flow_id, deferrable=True))
    dag_run = dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC"))
    assert dag_run.state == "success"
    (run,) = hook.list_runs(flow_id)
    assert run.status == "success"


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_modes(mode: str, flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any) -> None:
    flow_id = create_table_flow(hook)
    sensor = (
        "run >> FlowServiceRunSensor(task_id='wait', flow_id='{flow}', poke_interval=0.1, timeout=30, "
        "mode='{mode}', deferrable={deferrable})"
    ).format(flow=flow_id, mode="poke" if mode == "deferrable" else mode, deferrable=mode == "deferrable")
    dag = load_dag(f"runs_sensor_{mode}", source=dag_source(f"runs_sensor_{mode}", flow_id, wait=False, sensor=sensor))
    assert dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC")).state == "success"
    assert hook.list_runs(flow_id)[0].status == "success"


def test_failed_run_fails_the_task(flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any) -> None:
    flow_id = create_table_flow(hook)
    flowservice_emulator.run_outcome(flow_id=flow_id, kind="failed")
    dag = load_dag("runs_failed", source=dag_source("runs_failed", flow_id))
    assert dag.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC")).state == "failed"


def test_failed_records_policy(flowservice_emulator: Any, hook: FlowServiceHook, load_dag: Any) -> None:
    flow_id = create_table_flow(hook)
    flowservice_emulator.run_outcome(flow_id=flow_id, kind="failed_records", failed_records=5)
    lenient = load_dag("runs_records_ok", source=dag_source("runs_records_ok", flow_id, max_failed=10))
    assert lenient.test(logical_date=pendulum.datetime(2026, 1, 5, tz="UTC")).state == "success"
    strict = load_dag("runs_records_strict", source=dag_source("runs_records_strict", flow_id, max_failed=2))
    assert strict.test(logical_date=pendulum.datetime(2026, 1, 6, tz="UTC")).state == "failed"


# -- rejections: each fails before any write, with the message the user sees ------------------------------


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _context(start: Any, end: Any) -> dict[str, Any]:
    return {"data_interval_start": start, "data_interval_end": end, "ti": _TI()}


def _execute(op: FlowServiceTriggerRunOperator, start: Any, end: Any) -> Any:
    return op.execute(_context(start, end))  # type: ignore[arg-type]


REJECTIONS = [
    (
        {},
        (JAN1, JAN1),
        "window: empty data interval 1767225600..1767225600: the DAG's timetable gives runs a zero-length",
    ),
    (
        {},
        (JAN1 + DAY, JAN1),
        "window_end: must be after window_start (got window_start=1767312000, window_end=1767225600)",
    ),
    ({"window_start": JAN1, "window_end": 4102444800}, (None, None), "window_end: 4102444800 is in the future"),
    ({"window_start": JAN1}, (None, None), "window_start/window_end: give both"),
    ({"window_start": JAN1 * 1000, "window_end": JAN1 * 1000 + 1}, (None, None), "looks like milliseconds"),
    ({}, (None, None), "this DAG run has no data interval"),
    ({"delta_column": {"name": "x", "bogus": 1}}, (JAN1, JAN1 + DAY), "delta_column: must be a column name or"),
    ({"max_failed_ratio": 2}, (JAN1, JAN1 + DAY), "max_failed_ratio: must be a number between 0 and 1 (got 2)"),
]


@pytest.mark.parametrize(("kwargs", "interval", "message"), REJECTIONS)
def test_bad_input_is_rejected_before_any_call(
    kwargs: dict[str, Any], interval: tuple[Any, Any], message: str, flowservice_emulator: Any
) -> None:
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id="f", **kwargs)
    with pytest.raises(FlowServiceConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _execute(op, *interval)
    assert list(flowservice_emulator.requests) == []


def test_flow_rules_the_service_refuses_are_explained(flowservice_emulator: Any, hook: FlowServiceHook) -> None:
    """The flow is read only after the service refused the run: the task names the rule, no run exists."""
    cases = [
        (
            create_table_flow(hook, frequency="day"),
            {"delta_column": "u"},
            "scheduled with frequency 'day'; on-demand runs need",
        ),
        (
            create_table_flow(hook),
            {},
            "reads a table and has no deltaColumn yet; its first run needs one (Flow Service error 1383",
        ),
    ]
    ran = create_table_flow(hook)  # its first run sets deltaColumn 'updated_at' on the flow
    start_run(hook, ran, JAN1 - DAY, JAN1, start_time=JAN1, delta_column={"name": "updated_at"})
    cases.append(
        (ran, {"delta_column": "other"}, "delta_column: 'other' differs from the flow's deltaColumn 'updated_at'")
    )
    for flow_id, kwargs, message in cases:
        flowservice_emulator.requests.clear()
        op = FlowServiceTriggerRunOperator(task_id="t", flow_id=flow_id, **kwargs)
        with pytest.raises(FlowServiceConfigError, match=message.replace("(", r"\(")) as raised:
            _execute(op, JAN1, JAN1 + DAY)
        assert isinstance(raised.value.__context__, FlowServiceBadRequestError)  # the service's refusal, in the log
        assert [(r.method, r.path, r.status) for r in flowservice_emulator.requests if r.method == "POST"] == [
            ("POST", "/runs", 400)
        ]
        paths = [r.path for r in flowservice_emulator.requests]
        assert paths.index(f"/flows/{flow_id}") > paths.index("/runs")  # read only to explain the refusal


def test_draft_flow_is_rejected(flowservice_emulator: Any, hook: FlowServiceHook) -> None:
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id=create_table_flow(hook, draft=True), delta_column="u")
    with pytest.raises(FlowServiceConfigError, match="is a draft; publish it first"):
        _execute(op, JAN1, JAN1 + DAY)


def test_failed_run_error_names_codes(flowservice_emulator: Any, hook: FlowServiceHook) -> None:
    flow_id = create_table_flow(hook)
    flowservice_emulator.run_outcome(flow_id=flow_id, kind="failed")
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id=flow_id, delta_column="u", poll_interval=0.1)
    with pytest.raises(FlowServiceRunFailedError, match="CONNECTOR-"):
        _execute(op, JAN1, JAN1 + DAY)


def test_metrics_pushed_to_xcom(flowservice_emulator: Any, hook: FlowServiceHook) -> None:
    flow_id = create_table_flow(hook)
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id=flow_id, delta_column="u", poll_interval=0.1)
    context = _context(JAN1, JAN1 + DAY)
    run_id = op.execute(context)  # type: ignore[arg-type]
    pushed = context["ti"].pushed
    assert pushed["run_id"] == run_id
    assert pushed["window"] == {"start": JAN1, "end": JAN1 + DAY}
    assert pushed["metrics"]["status"] == "success"
    assert pushed["metrics"]["records_read"] == DAY // 60
    assert pushed["flowservice_run_url"].endswith(f"/platform/source/dataflows/{flow_id}/activity/{run_id}")
    assert timedelta(seconds=pushed["metrics"]["duration_seconds"]) >= timedelta(0)
