"""Run judging, window resolution and the deferrable trigger (its run() against the emulator)."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from datetime import datetime, timezone
from typing import Any

import pendulum
import pytest

from airflow_flowservice.exceptions import FlowServiceConfigError, FlowServiceRunFailedError
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.models import Run
from airflow_flowservice.runs.judge import RunPolicy, judge_run, run_from_event, run_metrics, run_state
from airflow_flowservice.runs.windows import ZERO_LENGTH_FIX, delta_column_body, resolve_window
from airflow_flowservice.testing.flows import create_table_flow, start_run
from airflow_flowservice.triggers.run import FlowServiceRunTrigger

JAN1 = 1767225600


def make_run(status: str, read: int = 100, failed: int = 0, errors: list[dict[str, str]] | None = None) -> Run:
    return Run.model_validate(
        {
            "id": "r1",
            "flowId": "f1",
            "params": {"windowStartTime": "1", "windowEndTime": "2"},
            "metrics": {
                "recordSummary": {
                    "inputRecordCount": read,
                    "outputRecordCount": read - failed,
                    "failedRecordCount": failed,
                },
                "sizeSummary": {"inputBytes": -1, "outputBytes": 10},
                "durationSummary": {"startedAtUTC": 1000, "completedAtUTC": 3500},
                "statusSummary": {"status": status, "errors": errors or []},
            },
        }
    )


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("success", "success"),
        ("Success", "success"),
        ("failed", "failed"),
        ("Failed", "failed"),
        ("inProgress", "running"),
        ("scheduled", "running"),
        ("Processing", "running"),
        ("", "running"),
    ],
)
def test_statuses_compare_case_insensitively(status: str, state: str) -> None:
    assert run_state(status) == state


def test_judge_success_returns_metrics() -> None:
    metrics = judge_run(make_run("Success"), RunPolicy())
    assert metrics["records_read"] == 100
    assert metrics["bytes_read"] is None  # -1 means unknown
    assert metrics["duration_seconds"] == 2.5
    assert (metrics["window_start"], metrics["window_end"]) == (1, 2)


def test_judge_failed_run_names_error_codes() -> None:
    run = make_run("failed", errors=[{"code": "CONNECTOR-1001-500", "message": "Error in copying"}])
    with pytest.raises(FlowServiceRunFailedError, match="CONNECTOR-1001-500: Error in copying"):
        judge_run(run, RunPolicy())


def test_failed_records_policy() -> None:
    run = make_run("success", read=100, failed=5)
    assert judge_run(run, RunPolicy(max_failed_records=5))["records_failed"] == 5
    with pytest.raises(FlowServiceRunFailedError, match="5 records failed, more than max_failed_records=4"):
        judge_run(run, RunPolicy(max_failed_records=4))
    with pytest.raises(FlowServiceRunFailedError, match=r"5/100 records failed \(5.00%\)"):
        judge_run(run, RunPolicy(max_failed_ratio=0.01))


def test_unfinished_run_is_not_judged() -> None:
    with pytest.raises(FlowServiceRunFailedError, match="has not finished"):
        judge_run(make_run("inProgress"), RunPolicy())


def test_window_from_data_interval_and_explicit_values() -> None:
    ctx = {
        "data_interval_start": pendulum.datetime(2026, 1, 1, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 1, 2, tz="UTC"),
    }
    assert resolve_window(None, None, ctx) == resolve_window(JAN1, str(JAN1 + 86400), {})
    assert (
        resolve_window("2026-01-01T00:00:00+00:00", datetime(2026, 1, 2, tzinfo=timezone.utc), {}).end == JAN1 + 86400
    )


def test_zero_length_interval_names_the_timetable_fix() -> None:
    ctx = {"data_interval_start": JAN1, "data_interval_end": JAN1}
    with pytest.raises(FlowServiceConfigError) as info:
        resolve_window(None, None, ctx)
    assert ZERO_LENGTH_FIX in str(info.value)
    assert "CronDataIntervalTimetable" in str(info.value)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(FlowServiceConfigError, match="window_start: the datetime 2026-01-01T00:00:00 has no time zone"):
        resolve_window(datetime(2026, 1, 1), datetime(2026, 1, 2), {})


def test_delta_column_forms() -> None:
    assert delta_column_body("updated_at") == {"name": "updated_at"}
    assert delta_column_body({"name": "d", "dateFormat": "YYYY-MM-DD"}) == {"name": "d", "dateFormat": "YYYY-MM-DD"}
    assert delta_column_body(None) is None


# -- the trigger ----------------------------------------------------------------------------------------


async def _events(trigger: FlowServiceRunTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def _started_run(emu: Any) -> str:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    run_id, _ = start_run(hook, flow_id, JAN1, JAN1 + 86400, start_time=JAN1, delta_column={"name": "u"})
    return run_id


def test_trigger_yields_one_success_event(flowservice_emulator: Any) -> None:
    run_id = _started_run(flowservice_emulator)
    trigger = FlowServiceRunTrigger(run_id=run_id, end_time=time.time() + 30, poll_interval=0.05)
    events = asyncio.run(_events(trigger))
    (event,) = events
    summary = event.pop("summary")  # the finished run's metrics, so that execute_complete needs no GET
    assert event == {
        "status": "success",
        "run_id": run_id,
        "run_status": "success",
        "message": f"run {run_id} finished: success",
    }
    assert (summary["run_id"], summary["status"]) == (run_id, "success")
    assert summary == run_metrics(FlowServiceHook().get_run(run_id))


def test_trigger_serializes_and_restores_mid_wait(flowservice_emulator: Any) -> None:
    run_id = _started_run(flowservice_emulator)
    first = FlowServiceRunTrigger(run_id=run_id, end_time=time.time() + 30, poll_interval=0.05)

    async def one_poll_then_stop() -> None:
        gen = first.run()
        task = asyncio.ensure_future(gen.__anext__())
        await asyncio.sleep(0.02)  # mid-wait: the run is not finished yet
        task.cancel()

    asyncio.run(one_poll_then_stop())
    classpath, kwargs = first.serialize()
    module, name = classpath.rsplit(".", 1)
    restored = getattr(importlib.import_module(module), name)(**kwargs)  # what a restarted triggerer does
    assert restored.end_time == first.end_time  # the deadline is absolute
    assert [e["status"] for e in asyncio.run(_events(restored))] == ["success"]


def test_trigger_survives_token_expiry(flowservice_emulator: Any) -> None:
    run_id = _started_run(flowservice_emulator)
    trigger = FlowServiceRunTrigger(run_id=run_id, end_time=time.time() + 30, poll_interval=0.05)

    async def expire_during_wait() -> list[dict[str, Any]]:
        async def expire() -> None:
            await asyncio.sleep(0.1)
            flowservice_emulator.expire_tokens()

        _, events = await asyncio.gather(expire(), _events(trigger))
        return events

    assert [e["status"] for e in asyncio.run(expire_during_wait())] == ["success"]
    assert len(flowservice_emulator.calls(path_prefix="/ims/token/v3")) >= 2


def test_trigger_times_out_with_one_event(flowservice_emulator: Any) -> None:
    flowservice_emulator.faults.add(method="GET", path="/runs/*", kind="latency", delay=0.05)
    run_id = _started_run(flowservice_emulator)
    trigger = FlowServiceRunTrigger(run_id=run_id, end_time=time.time() + 0.01, poll_interval=0.05)
    events = asyncio.run(_events(trigger))
    assert [e["status"] for e in events] == ["timeout"]


def test_trigger_reports_unknown_run_as_error(flowservice_emulator: Any) -> None:
    trigger = FlowServiceRunTrigger(
        run_id="00000000-0000-0000-0000-000000000000", end_time=time.time() + 5, poll_interval=0.05
    )
    (event,) = asyncio.run(_events(trigger))
    assert event["status"] == "error"
    assert "not found" in event["message"].lower()


def test_trigger_waits_for_a_scheduled_run_created_after(flowservice_emulator: Any) -> None:
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook, frequency="minute")  # interval 15 min, started 2026-01-01: runs are due
    trigger = FlowServiceRunTrigger(
        flow_id=flow_id, created_after_ms=JAN1 * 1000, end_time=time.time() + 30, poll_interval=0.05
    )
    (event,) = asyncio.run(_events(trigger))
    assert event["status"] == "success"
    assert event["run_id"]


def test_resuming_from_an_event_uses_the_run_it_carries_and_fetches_only_without_one() -> None:
    from airflow_flowservice.exceptions import FlowServiceError, FlowServiceTimeoutError
    from airflow_flowservice.runs.judge import run_from_event

    finished = make_run("success")
    fetched: list[str] = []

    def fetch(run_id: str) -> Run:
        fetched.append(run_id)
        return finished

    document = finished.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert run_from_event({"status": "success", "run_id": finished.id, "run": document}, fetch) == finished
    summary = run_metrics(finished)  # what a trigger event carries now: the summary, not the document
    resumed = run_from_event({"status": "success", "run_id": finished.id, "summary": summary}, fetch)
    assert run_metrics(resumed) == summary
    assert fetched == []
    assert run_from_event({"status": "success", "run_id": finished.id}, fetch) == finished
    assert fetched == [finished.id]
    with pytest.raises(FlowServiceTimeoutError, match=r"^timed out waiting for run r1"):
        run_from_event({"status": "timeout", "run_id": "r1", "message": "timed out waiting for run r1"}, fetch)
    with pytest.raises(FlowServiceError, match=r"^waiting for run r1 failed: gone$"):
        run_from_event({"status": "error", "run_id": "r1", "message": "waiting for run r1 failed: gone"}, fetch)


def test_the_trigger_event_carries_a_summary_of_the_run_not_its_document(flowservice_emulator: Any) -> None:
    """The event is what resuming needs: the run's metrics (judged the same), not activities and the rest."""
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    run_id, _ = start_run(hook, flow_id, JAN1, JAN1 + 86400, start_time=JAN1, delta_column={"name": "u"})
    trigger = FlowServiceRunTrigger(run_id=run_id, end_time=time.time() + 30, poll_interval=0.05)
    (event,) = asyncio.run(_events(trigger))
    run = hook.get_run(run_id)
    assert "run" not in event and event["summary"] == run_metrics(run)
    assert judge_run(run_from_event(event, hook.get_run), RunPolicy()) == judge_run(run, RunPolicy())
    document = run.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert len(json.dumps(event)) < len(json.dumps(document))
