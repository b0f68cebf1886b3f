"""Waiting on a run under faults: token expiry, triggerer restart, emulator restart, 429 storms, 5xx bursts.

Every test uses a manual-clock emulator: the run stays ``scheduled`` until the test advances the
clock, so "mid-wait" is a fact, not a race.
"""

from __future__ import annotations

import asyncio
import json
import time
import types
from typing import Any

import pytest

from airflow_flowservice.exceptions import FlowServiceError, FlowServiceNotFoundError
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.operators.runs import FlowServiceTriggerRunOperator
from airflow_flowservice.sensors.run import FlowServiceRunSensor
from airflow_flowservice.testing import FlowServiceEmulator
from airflow_flowservice.testing.flows import create_table_flow, start_run
from airflow_flowservice.triggers.run import FlowServiceRunTrigger
from tests.compat import deserialize, serialize
from tests.conditions import until
from tests.faults.conftest import TOKEN_TTL, ManualEmulator, Sleeps

pytestmark = pytest.mark.faults

DAY = 86400
JAN1 = 1767225600  # 2026-01-01T00:00:00Z
POLL = 0.01  # trigger poll interval (real seconds)


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _context() -> dict[str, Any]:
    return {"data_interval_start": JAN1, "data_interval_end": JAN1 + DAY, "ti": _TI()}


def started_run(emu: FlowServiceEmulator) -> str:
    """A run of a new flow, still ``scheduled`` (the manual clock does not move by itself)."""
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    run_id, adopted = start_run(
        hook, flow_id, JAN1, JAN1 + DAY, start_time=int(emu.clock.now()), delta_column={"name": "updated_at"}
    )
    assert not adopted
    emu.requests.clear()
    return run_id


def token_calls(emu: FlowServiceEmulator) -> int:
    return len(emu.calls(method="POST", path_prefix="/ims/token/v3"))


def polls(emu: FlowServiceEmulator, run_id: str, status: int | str | None = None) -> list[Any]:
    """Reads of the run: ``GET /runs/{id}`` (in the worker) or ``GET /runs?property=id==...`` naming it (trigger)."""
    return [
        r
        for r in emu.calls(method="GET", path_prefix="/runs")
        if (r.path == f"/runs/{run_id}" or (r.path == "/runs" and run_id in r.query))
        and (status is None or r.status == status)
    ]


async def collect(trigger: FlowServiceRunTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def summary(event: dict[str, Any]) -> dict[str, Any]:
    """The event without the finished run's body (compared on its own where it matters)."""
    return {key: event[key] for key in ("status", "run_id", "run_status", "message")}


def new_trigger(run_id: str, end_in: float = 60.0) -> FlowServiceRunTrigger:
    return FlowServiceRunTrigger(run_id=run_id, end_time=time.time() + end_in, poll_interval=POLL)


# -- 2. token expiry mid-wait ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["expire_tokens", "ttl_passes", "token_expired_fault"])
def test_trigger_refreshes_an_expired_token_once(how: str, manual_emulator: ManualEmulator, sleeps: Sleeps) -> None:
    emu = manual_emulator.emu
    run_id = started_run(emu)
    trigger = new_trigger(run_id)

    async def wait() -> list[dict[str, Any]]:
        task = asyncio.create_task(collect(trigger))
        await until(lambda: len(polls(emu, run_id, 200)) >= 3, "the trigger polled the running run")
        tokens_before = token_calls(emu)
        if how == "expire_tokens":
            emu.expire_tokens()
        elif how == "token_expired_fault":
            emu.faults.add("GET", "/runs", "token_expired", times=1)
        else:  # the token's lifetime passes on the emulator clock; the run finishes meanwhile
            emu.clock.advance(TOKEN_TTL + 10)
        await until(lambda: len(polls(emu, run_id, 401)) == 1, "the trigger met the 401")
        await until(lambda: token_calls(emu) > tokens_before, "the trigger fetched a new token")
        emu.clock.advance(10)  # the run finishes
        events = await asyncio.wait_for(task, 10)
        assert token_calls(emu) == tokens_before + 1  # refreshed exactly once
        return events

    (event,) = asyncio.run(wait())
    assert summary(event) == {
        "status": "success",
        "run_id": run_id,
        "run_status": "success",
        "message": f"run {run_id} finished: success",
    }
    assert len(polls(emu, run_id, 401)) == 1
    # the wait began with the token already cached in the process (IMS not called); one refresh after the 401
    assert token_calls(emu) == 1
    assert sleeps.async_client == []  # a 401 is refreshed at once, not retried after a backoff


def test_sensor_refreshes_an_expired_token_once(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    run_id = started_run(emu)
    sensor = FlowServiceRunSensor(task_id="wait", run_id=run_id, poke_interval=0.01)
    context = _context()
    assert sensor.poke(context) is False  # type: ignore[arg-type]
    assert sensor.poke(context) is False  # type: ignore[arg-type]
    tokens_before = token_calls(emu)
    emu.expire_tokens()
    emu.clock.advance(10)
    assert sensor.poke(context) is True  # type: ignore[arg-type]
    assert token_calls(emu) == tokens_before + 1
    assert [r.status for r in polls(emu, run_id)] == [200, 200, 401, 200]
    assert context["ti"].pushed["metrics"]["status"] == "success"
    assert context["ti"].pushed["run_id"] == run_id


# -- 3. the trigger serialized and restored mid-wait (a triggerer restart) -------------------------------


def test_trigger_restored_from_serialize_fires_the_same_event(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    run_id = started_run(emu)
    end_time = time.time() + 3600  # far enough that a slow, shared machine never reaches it mid-test
    first = FlowServiceRunTrigger(run_id=run_id, end_time=end_time, poll_interval=POLL)
    uninterrupted = FlowServiceRunTrigger(run_id=run_id, end_time=end_time, poll_interval=POLL)
    token = FlowServiceHook().client.token()

    async def interrupted_then_restored() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        reference = asyncio.create_task(collect(uninterrupted))
        doomed = asyncio.create_task(collect(first))
        await until(lambda: len(polls(emu, run_id, 200)) >= 6, "both triggers polled a few times")
        doomed.cancel()  # the triggerer goes away mid-wait
        with pytest.raises(asyncio.CancelledError):
            await doomed
        classpath, kwargs = first.serialize()
        # what the triggerer stores and reads back (Airflow's serde), then how it re-creates the trigger
        stored = deserialize(serialize(kwargs))
        assert isinstance(stored, dict)
        module_name, class_name = classpath.rsplit(".", 1)
        cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
        restored = cls(**stored)
        assert isinstance(restored, FlowServiceRunTrigger)
        resumed = asyncio.create_task(collect(restored))
        polled = len(polls(emu, run_id, 200))
        await until(lambda: len(polls(emu, run_id, 200)) >= polled + 2, "the restored trigger polled")
        assert not resumed.done() and not reference.done()  # still running: nothing fired early
        emu.clock.advance(10)
        return await asyncio.wait_for(reference, 10), await asyncio.wait_for(resumed, 10), kwargs

    expected, events, kwargs = asyncio.run(interrupted_then_restored())
    assert events == expected
    assert [summary(e) for e in expected] == [
        {"status": "success", "run_id": run_id, "run_status": "success", "message": f"run {run_id} finished: success"}
    ]
    # only ids and numbers; the deadline is absolute, so the restored wait keeps the original timeout
    assert kwargs == {
        "flowservice_conn_id": "flowservice_default",
        "end_time": end_time,
        "run_id": run_id,
        "flow_id": None,
        "created_after_ms": None,
        "poll_interval": POLL,
    }
    text = json.dumps(kwargs)
    for secret in (emu.client_secret, emu.client_id, token, emu.connection_uri()):
        assert secret not in text


# -- 4. the emulator restarts mid-wait: the run is gone -----------------------------------------------------


def test_trigger_reports_a_run_lost_in_an_emulator_restart(manual_emulator: ManualEmulator, sleeps: Sleeps) -> None:
    run_id = started_run(manual_emulator.emu)
    trigger = new_trigger(run_id)

    async def wait() -> list[dict[str, Any]]:
        emu = manual_emulator.emu
        task = asyncio.create_task(collect(trigger))
        await until(lambda: len(polls(emu, run_id, 200)) >= 2, "the trigger polled the running run")
        await asyncio.to_thread(manual_emulator.restart)  # polls meanwhile fail to connect, and are retried
        fresh = manual_emulator.emu
        fresh.clock.advance(10)  # had the run survived, it would now be finished
        return await asyncio.wait_for(task, 10)

    (event,) = asyncio.run(wait())
    fresh = manual_emulator.emu
    assert event["status"] == "error"
    assert event["run_id"] == run_id
    assert event["run_status"] == "scheduled"  # the last status seen before the restart
    assert f"waiting for run {run_id} failed" in event["message"]
    assert f"run {run_id} was not found" in event["message"]
    # the fresh emulator does not know the old token: refreshed once, then the run is not in the answer
    assert [r.status for r in polls(fresh, run_id)] == [401, 200]
    assert token_calls(fresh) == 1

    # the deferred operator resumes with that event and fails with the same message
    op = FlowServiceTriggerRunOperator(task_id="ingest", flow_id="f", deferrable=True)
    with pytest.raises(FlowServiceError) as raised:
        op.execute_complete(_context(), event)  # type: ignore[arg-type]
    assert str(raised.value) == event["message"]


def test_sensor_reports_a_run_lost_in_an_emulator_restart(manual_emulator: ManualEmulator) -> None:
    run_id = started_run(manual_emulator.emu)
    sensor = FlowServiceRunSensor(task_id="wait", run_id=run_id, poke_interval=0.01)
    context = _context()
    assert sensor.poke(context) is False  # type: ignore[arg-type]
    fresh = manual_emulator.restart()
    fresh.clock.advance(10)
    with pytest.raises(FlowServiceNotFoundError) as raised:
        sensor.poke(context)  # type: ignore[arg-type]
    message = str(raised.value)
    assert f"GET /runs/{run_id} HTTP 404 [1439-404]" in message
    assert f"resource {run_id} is not found" in message
    assert "metrics" not in context["ti"].pushed  # nothing was judged a success


def test_window_sensor_reports_a_run_lost_in_an_emulator_restart(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    hook = FlowServiceHook()
    flow_id = create_table_flow(hook)
    run_id, _ = start_run(
        hook, flow_id, JAN1, JAN1 + DAY, start_time=int(emu.clock.now()), delta_column={"name": "updated_at"}
    )
    sensor = FlowServiceRunSensor(task_id="wait", flow_id=flow_id, poke_interval=0.01)
    context = _context()
    assert sensor.poke(context) is False  # type: ignore[arg-type]  # found the run; still scheduled
    manual_emulator.restart().clock.advance(10)
    with pytest.raises(FlowServiceError, match=run_id):
        sensor.poke(context)  # type: ignore[arg-type]


def test_operator_wait_reports_a_run_lost_in_an_emulator_restart(
    manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_flowservice.runs import poll as poll_module

    flow_id = create_table_flow(FlowServiceHook())
    restarted: list[float] = []

    def restart_instead_of_sleeping(seconds: float) -> None:  # the worker's poll sleep
        if not restarted:
            manual_emulator.restart().clock.advance(10)
        restarted.append(seconds)

    worker_time = types.SimpleNamespace(time=time.time, monotonic=time.monotonic, sleep=restart_instead_of_sleeping)
    monkeypatch.setattr(poll_module, "time", worker_time)
    op = FlowServiceTriggerRunOperator(
        task_id="ingest", flow_id=flow_id, delta_column="updated_at", poll_interval=5.0, deferrable=False
    )
    context = _context()
    with pytest.raises(FlowServiceNotFoundError) as raised:
        op.execute(context)  # type: ignore[arg-type]
    run_id = context["ti"].pushed["run_id"]
    assert f"GET /runs/{run_id} HTTP 404 [1439-404]" in str(raised.value)
    assert f"resource {run_id} is not found" in str(raised.value)
    assert restarted == [5.0]
    assert "metrics" not in context["ti"].pushed


# -- welcome extras: 429 storms and 5xx bursts during a wait --------------------------------------------


def test_trigger_honours_retry_after_in_a_429_storm(manual_emulator: ManualEmulator, sleeps: Sleeps) -> None:
    emu = manual_emulator.emu
    run_id = started_run(emu)
    emu.faults.add("GET", "/runs", "rate_limit", times=4, retry_after="7")
    emu.clock.advance(10)  # finished: the wait ends as soon as a poll gets through
    (event,) = asyncio.run(collect(new_trigger(run_id)))
    assert event["status"] == "success"
    assert [r.status for r in polls(emu, run_id)] == [429, 429, 429, 429, 200]
    assert sleeps.async_client == [7.0, 7.0, 7.0, 7.0]  # the server's Retry-After, not the backoff


def test_trigger_polls_through_a_5xx_burst(manual_emulator: ManualEmulator, sleeps: Sleeps) -> None:
    emu = manual_emulator.emu
    run_id = started_run(emu)
    emu.faults.add("GET", "/runs", "status", status=503, times=7)  # more than one call's 5 attempts

    async def wait() -> list[dict[str, Any]]:
        task = asyncio.create_task(collect(new_trigger(run_id)))
        await until(lambda: len(polls(emu, run_id, 200)) >= 1, "a poll got through the burst")
        emu.clock.advance(10)
        return await asyncio.wait_for(task, 10)

    (event,) = asyncio.run(wait())
    assert event["status"] == "success"
    statuses = [r.status for r in polls(emu, run_id)]
    assert statuses[:8] == [503] * 7 + [200]
    assert statuses[-1] == 200
    # the first call gave up after 5 attempts (4 backoffs), the trigger polled again: 2 more 503s, 2 backoffs
    assert len(sleeps.async_client) == 6


def test_trigger_polls_through_dropped_reads(manual_emulator: ManualEmulator, sleeps: Sleeps) -> None:
    emu = manual_emulator.emu
    run_id = started_run(emu)
    emu.faults.add("GET", "/runs", "drop_after_apply", times=3)  # the read's answer is lost mid-body
    emu.clock.advance(10)
    (event,) = asyncio.run(collect(new_trigger(run_id)))
    assert summary(event)["status"] == "success"
    assert [r.status for r in polls(emu, run_id)] == ["dropped", "dropped", "dropped", 200]
    assert len(sleeps.async_client) == 3  # a GET is safe to re-send: retried by the client


def test_sensor_poke_retries_a_5xx_burst(manual_emulator: ManualEmulator, sleeps: Sleeps) -> None:
    emu = manual_emulator.emu
    run_id = started_run(emu)
    emu.faults.add("GET", "/runs/*", "status", status=502, times=3)
    emu.clock.advance(10)
    sensor = FlowServiceRunSensor(task_id="wait", run_id=run_id)
    context = _context()
    assert sensor.poke(context) is True  # type: ignore[arg-type]
    assert [r.status for r in polls(emu, run_id)] == [502, 502, 502, 200]
    assert len(sleeps.client) == 3
    assert context["ti"].pushed["metrics"]["status"] == "success"
