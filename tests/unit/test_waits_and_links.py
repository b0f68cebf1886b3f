"""What a real deployment showed: no deferral for a finished run, failures that must not retry, the
extra link without ``XCom not found`` noise, heartbeat lines on long waits, a non-blocking trigger.

The same behaviours are checked end to end, with the real scheduler and triggerer, in
``tests/deployment``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_flowservice._compat import Connection
from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceError, FlowServiceRunFailedError
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.links import RUN_URL_XCOM_KEY, FlowServiceRunLink
from airflow_flowservice.models import Run
from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator
from airflow_flowservice.runs import heartbeat, poll
from airflow_flowservice.runs.heartbeat import heartbeat_message
from airflow_flowservice.runs.poll import poll_in_worker
from airflow_flowservice.runs.windows import resolve_window
from airflow_flowservice.sensors.run import FlowServiceRunSensor
from airflow_flowservice.testing.flows import create_table_flow, start_run
from airflow_flowservice.triggers.run import FlowServiceRunTrigger

JAN1 = 1767225600
DAY = 86400


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _context(start: int = JAN1, end: int = JAN1 + DAY) -> dict[str, Any]:
    return {"data_interval_start": start, "data_interval_end": end, "ti": _TI()}


def _finished_run(hook: FlowServiceHook, flow_id: str, start: int, end: int) -> Run:
    run_id, _ = start_run(hook, flow_id, start, end, start_time=start, delta_column={"name": "updated_at"})
    deadline = time.monotonic() + 10
    while (run := hook.get_run(run_id)).status != "success":
        assert time.monotonic() < deadline, run.status
        time.sleep(0.05)
    return run


# -- deferrable and adopting a finished run -------------------------------------------------------------


def test_deferrable_task_adopting_a_finished_run_judges_it_without_deferring(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    run = _finished_run(hook, flow_id, JAN1, JAN1 + DAY)  # an earlier try's run, finished since
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id=flow_id, delta_column="updated_at", deferrable=True)
    context = _context()
    assert op.execute(context) == run.id  # type: ignore[arg-type]  # returned: no TaskDeferred raised
    assert context["ti"].pushed["metrics"]["status"] == "success"
    assert len(flowservice_emulator.calls(method="POST", path_prefix="/runs")) == 1  # only the earlier try's


def test_deferrable_task_with_a_new_or_unfinished_run_still_defers(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id=flow_id, delta_column="updated_at", deferrable=True)
    with pytest.raises(TaskDeferred):
        op.execute(_context())  # type: ignore[arg-type]  # a run just started
    retry = FlowServiceTriggerRunOperator(task_id="t", flow_id=flow_id, delta_column="updated_at", deferrable=True)
    with pytest.raises(TaskDeferred):
        retry.execute(_context())  # type: ignore[arg-type]  # adopts it while it is still running
    assert len(flowservice_emulator.calls(method="POST", path_prefix="/runs")) == 1


# -- failures that cannot succeed on retry ---------------------------------------------------------------


def test_config_errors_and_failed_runs_fail_without_retry(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id="f", window_start=JAN1 + DAY, window_end=JAN1)
    with pytest.raises(FlowServiceConfigError) as config:
        op.execute(_context())  # type: ignore[arg-type]
    flow_id = create_table_flow(hook)
    flowservice_emulator.run_outcome(flow_id=flow_id, kind="failed")
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id=flow_id, delta_column="updated_at", poll_interval=0.05)
    with pytest.raises(FlowServiceRunFailedError) as failed:
        op.execute(_context())  # type: ignore[arg-type]
    # The task runner fails a try that raises AirflowFailException at once, without using its retries.
    assert isinstance(config.value, AirflowFailException) and isinstance(failed.value, AirflowFailException)


def test_a_failed_run_stays_retryable_when_the_retry_retriggers_it(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    flowservice_emulator.run_outcome(flow_id=flow_id, kind="failed", times=1)
    op = FlowServiceTriggerRunOperator(
        task_id="t", flow_id=flow_id, delta_column="updated_at", poll_interval=0.05, retrigger_failed=True
    )
    with pytest.raises(FlowServiceError, match="a retry of this task re-triggers it") as first:
        op.execute(_context())  # type: ignore[arg-type]
    assert not isinstance(first.value, AirflowFailException)
    retry = FlowServiceTriggerRunOperator(
        task_id="t", flow_id=flow_id, delta_column="updated_at", poll_interval=0.05, retrigger_failed=True
    )
    new_run_id = retry.execute(_context())  # type: ignore[arg-type]
    assert hook.get_run(new_run_id).status == "success"
    assert len(flowservice_emulator.calls(method="POST", path_prefix="/runs/")) == 1  # one RE_TRIGGER


# -- manual runs without a data interval -----------------------------------------------------------------


def test_manual_run_without_logical_date_names_both_fixes() -> None:
    context = {"data_interval_start": None, "data_interval_end": None, "logical_date": None}
    with pytest.raises(FlowServiceConfigError) as info:
        resolve_window(None, None, context)
    message = str(info.value)
    assert message.startswith("window_start/window_end: this DAG run has no data interval")
    assert "logical_date: null" in message and "Pass window_start and window_end" in message
    assert "trigger the run with a logical date" in message and "DeltaDataIntervalTimetable" in message


# -- the extra link --------------------------------------------------------------------------------------


@pytest.fixture
def xcom_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every XCom read the link makes (answered with a stored URL)."""
    from airflow_flowservice._compat import XCom

    reads: list[str] = []

    def get_value(*, ti_key: Any, key: str) -> str:
        reads.append(key)
        return "https://experience.adobe.com/#/stored"

    monkeypatch.setattr(XCom, "get_value", get_value)
    return reads


def test_link_of_a_try_that_failed_before_its_run_existed_reads_no_xcom(
    flowservice_emulator: Any, xcom_reads: list[str]
) -> None:
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id="f", window_start=JAN1 + DAY, window_end=JAN1)
    with pytest.raises(FlowServiceConfigError):
        op.execute(_context())  # type: ignore[arg-type]
    sensor = FlowServiceRunSensor(task_id="s", run_id="r")
    link = FlowServiceRunLink()
    assert link.get_link(op, ti_key=None) == ""  # type: ignore[arg-type]
    assert link.get_link(sensor, ti_key=None) == ""  # type: ignore[arg-type]
    assert xcom_reads == []  # the task runner's end-of-try call would have logged "XCom not found"


def test_link_of_a_try_that_reached_its_run_is_its_url(flowservice_emulator: Any, xcom_reads: list[str]) -> None:
    flow_id = create_table_flow(FlowServiceHook())
    op = FlowServiceTriggerRunOperator(task_id="t", flow_id=flow_id, delta_column="u", poll_interval=0.05)
    context = _context()
    op.execute(context)  # type: ignore[arg-type]
    url = context["ti"].pushed[RUN_URL_XCOM_KEY]
    assert FlowServiceRunLink().get_link(op, ti_key=None) == url  # type: ignore[arg-type]
    assert xcom_reads == []


def test_resumed_deferred_try_links_its_run_again(flowservice_emulator: Any, xcom_reads: list[str]) -> None:
    hook = FlowServiceHook()
    run = _finished_run(hook, create_table_flow(hook), JAN1, JAN1 + DAY)
    resumed = FlowServiceTriggerRunOperator(task_id="t", flow_id="f", deferrable=True)  # a new process's operator
    document = run.model_dump(mode="json", by_alias=True, exclude_none=True)
    resumed.execute_complete(_context(), {"status": "success", "run_id": run.id, "run": document})  # type: ignore[arg-type]
    link = FlowServiceRunLink().get_link(resumed, ti_key=None)  # type: ignore[arg-type]
    assert link.endswith(f"/dataflows/{run.flow_id}/activity/{run.id}")
    assert xcom_reads == []


def test_link_for_any_other_operator_object_reads_xcom(xcom_reads: list[str]) -> None:
    assert FlowServiceRunLink().get_link(object(), ti_key=None) == "https://experience.adobe.com/#/stored"  # type: ignore[arg-type]
    assert xcom_reads == [RUN_URL_XCOM_KEY]


# -- heartbeat lines on long waits -----------------------------------------------------------------------


def _run(status: str, created_ms: int | None = None) -> Run:
    return Run.model_validate(
        {"id": "r1", "flowId": "f1", "createdAt": created_ms, "metrics": {"statusSummary": {"status": status}}}
    )


def test_heartbeat_message_names_status_elapsed_deadline_and_url() -> None:
    now = JAN1 + 7200
    line = heartbeat_message(_run("inProgress", (JAN1 - 600) * 1000), JAN1, JAN1 + 6 * 3600, "https://u", now=now)
    assert line == (
        "Run r1 is still inProgress after 2h10m; waiting until 2026-01-01T06:00:00Z (4h00m left): https://u"
    )
    no_created = heartbeat_message(_run("scheduled"), now - 90, now + 30, None, now=now)
    assert no_created == "Run r1 is still scheduled after 1m30s; waiting until 2026-01-01T02:00:30Z (0m30s left)"


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, fmt: str, *args: Any) -> None:
        self.lines.append(fmt % args)

    warning = info


class _Hook:
    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    def get_run(self, run_id: str) -> Run:
        return _run(self.statuses.pop(0))


def test_worker_wait_logs_a_heartbeat_while_the_status_does_not_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heartbeat, "HEARTBEAT_INTERVAL", 0.02)
    log = _Log()
    hook = _Hook(["inProgress"] * 4 + ["success"])
    run = poll_in_worker(hook, "r1", poll_interval=0.015, timeout=60, log=log, url="https://aep/run")  # type: ignore[arg-type]
    assert run.status == "success"
    beats = [line for line in log.lines if "still" in line]
    assert log.lines[0] == "Run r1 status: inProgress" and log.lines[-1] == "Run r1 status: success"
    assert 1 <= len(beats) <= 3  # at most one per interval, none on a status change
    assert all(b.startswith("Run r1 is still inProgress after ") and b.endswith(": https://aep/run") for b in beats)


def test_worker_wait_is_quiet_between_heartbeats() -> None:
    log = _Log()
    poll_in_worker(_Hook(["inProgress"] * 5 + ["success"]), "r1", poll_interval=0.001, timeout=60, log=log)  # type: ignore[arg-type]
    assert log.lines == ["Run r1 status: inProgress", "Run r1 status: success"]


def test_trigger_wait_logs_a_heartbeat_with_the_run_url(
    flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heartbeat, "HEARTBEAT_INTERVAL", 0.0)
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    run_id, _ = start_run(hook, flow_id, JAN1, JAN1 + DAY, start_time=JAN1, delta_column={"name": "u"})
    log = _Log()
    outcome = asyncio.run(
        poll.poll_in_triggerer(FlowServiceHook(), end_time=time.time() + 30, poll_interval=0.05, log=log, run_id=run_id)
    )
    assert outcome.status == "success"
    beats = [line for line in log.lines if " is still " in line]
    assert beats, log.lines
    assert all(f"/dataflows/{flow_id}/activity/{run_id}" in b and "waiting until" in b for b in beats)


def test_trigger_wait_heartbeat_of_a_dataset_export_run_links_to_its_dataflow_page(
    flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's own ``flowSpec`` tells an export's run (no flow read): its link is the Destinations page."""
    from airflow_flowservice.runs import poller as poller_module

    monkeypatch.setattr(heartbeat, "HEARTBEAT_INTERVAL", 0.0)
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    monkeypatch.setattr(poller_module, "EXPORT_FLOW_SPEC_IDS", frozenset({hook.get_flow(flow_id).flow_spec.id}))
    run_id, _ = start_run(hook, flow_id, JAN1, JAN1 + DAY, start_time=JAN1, delta_column={"name": "u"})
    mark = len(flowservice_emulator.calls())
    log = _Log()
    outcome = asyncio.run(
        poll.poll_in_triggerer(FlowServiceHook(), end_time=time.time() + 30, poll_interval=0.05, log=log, run_id=run_id)
    )
    assert outcome.status == "success"
    beats = [line for line in log.lines if " is still " in line]
    assert beats, log.lines
    assert all(f"/platform/destination/browse/{flow_id}" in b and "/activity/" not in b for b in beats)
    assert not [c for c in flowservice_emulator.calls()[mark:] if c.path.startswith("/flows")]


# -- no sync Airflow calls on the triggerer's event loop -------------------------------------------------


class _TriggererComms:
    """A stand-in for the triggerer's channel to its supervisor, stricter than Airflow 3.3's.

    ``asend`` answers; ``send`` (the sync path that ``extra_dejson`` and ``mask_secret`` take) raises
    ``DeadlockImminentError`` whenever it is called on a running event loop. Airflow raises it only while
    another trigger's ``asend`` is in flight (apache/airflow#70398), so that is the case made certain.
    """

    def __init__(self) -> None:
        self.async_messages: list[str] = []
        self.sync_on_loop: list[str] = []

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time.comms import DeadlockImminentError

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return None
        self.sync_on_loop.append(type(msg).__name__)
        raise DeadlockImminentError(msg)

    async def asend(self, msg: Any) -> Any:
        self.async_messages.append(type(msg).__name__)
        if type(msg).__name__ != "MaskSecret":
            raise AssertionError(f"unexpected message to the supervisor: {msg!r}")
        return None


@pytest.fixture
def triggerer_comms(monkeypatch: pytest.MonkeyPatch) -> _TriggererComms:
    from airflow.sdk.execution_time import task_runner

    comms = _TriggererComms()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    return comms


@pytest.mark.skipif(
    not hasattr(Connection, "aextra_dejson"),
    reason="Airflow < 3.3 has no async extra accessor (nor the async supervisor channel it protects)",
)
def test_trigger_reads_its_connection_without_sync_calls_on_the_loop(
    flowservice_emulator: Any, triggerer_comms: _TriggererComms
) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    run_ids = [
        start_run(hook, flow_id, JAN1 + n * DAY, JAN1 + (n + 1) * DAY, start_time=JAN1, delta_column={"name": "u"})[0]
        for n in range(5)
    ]

    async def many_triggers_start_together() -> list[dict[str, Any]]:
        triggers = [FlowServiceRunTrigger(run_id=r, end_time=time.time() + 30, poll_interval=0.05) for r in run_ids]
        batches = await asyncio.gather(*(_events(t) for t in triggers))
        return [e for batch in batches for e in batch]

    events = asyncio.run(many_triggers_start_together())
    assert [e["status"] for e in events] == ["success"] * 5
    assert triggerer_comms.sync_on_loop == []
    assert "MaskSecret" in triggerer_comms.async_messages  # the connection's secrets were masked, asynchronously


async def _events(trigger: FlowServiceRunTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]
