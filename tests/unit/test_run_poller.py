"""Coalesced waits: the triggers of one event loop share one poller per client and poll interval."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import math
import time
import weakref
from typing import Any
from urllib.parse import parse_qsl

import pytest

from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.runs.poller import RunPoller
from airflow_flowservice.testing.flows import create_table_flow
from airflow_flowservice.triggers.run import FlowServiceRunTrigger
from tests.conditions import until

JAN1 = 1767225600
HOUR = 3600
POLL = 0.1


def seed_running(emu: Any, flow_id: str, n: int, start_in: float = 0.5) -> list[str]:
    """``n`` runs of a flow created ``start_in`` seconds from now: they finish a second or so after that."""
    windows = [(JAN1 + k * HOUR, JAN1 + (k + 1) * HOUR) for k in range(n)]
    ids: list[str] = emu.seed_runs(flow_id, windows, created_from_ms=emu.clock.now_ms() + int(start_in * 1000))
    return ids


async def wait_all(run_ids: list[str], timeout: float = 30) -> tuple[list[dict[str, Any]], RunPoller]:
    """Run one trigger per id on this loop; their events (one each) and the loop's poller."""

    async def one(run_id: str) -> dict[str, Any]:
        trigger = FlowServiceRunTrigger(run_id=run_id, end_time=time.time() + timeout, poll_interval=POLL)
        (event,) = [e.payload async for e in trigger.run()]
        return event

    events = await asyncio.gather(*(one(r) for r in run_ids))
    return list(events), await RunPoller.of(FlowServiceHook(), POLL)


def id_lists(emu: Any) -> list[list[str]]:
    """The ids asked for by each ``GET /runs?property=id==...`` call."""
    lists = []
    for record in emu.calls(method="GET", path_prefix="/runs"):
        for key, value in parse_qsl(record.query):
            if key == "property" and value.startswith("id=="):
                lists.append(value[4:].split(","))
    return lists


def test_300_waits_over_3_flows_cost_3_gets_a_round(flowservice_emulator: Any) -> None:
    emu = flowservice_emulator
    hook = FlowServiceHook()
    flows = [create_table_flow(hook) for _ in range(3)]
    # The runs start in an hour: still running at every poll until the test moves the clock, however
    # slowly a loaded machine gets to the first round.
    run_ids = [r for flow_id in flows for r in seed_running(emu, flow_id, 100, start_in=HOUR)]
    emu.requests.clear()

    async def scenario() -> tuple[list[dict[str, Any]], RunPoller]:
        waits = asyncio.ensure_future(wait_all(run_ids, timeout=120))
        poller = await RunPoller.of(FlowServiceHook(), POLL)
        await until(lambda: poller.rounds >= 1, "the poller's round 1")
        emu.clock.advance(HOUR + 60)  # now every run finishes
        return await waits

    events, poller = asyncio.run(scenario())

    assert [e["status"] for e in events] == ["success"] * 300
    assert [e["run_id"] for e in events] == run_ids
    asked = id_lists(emu)
    assert all(len(ids) <= 100 for ids in asked)
    assert poller.calls == len(asked) <= math.ceil(300 / 100) * poller.rounds
    assert poller.rounds >= 2  # the runs were still running at the first round
    assert not [r for r in emu.calls(method="GET", path_prefix="/runs/")]  # no GET /runs/{id}


def test_a_run_missing_from_the_answer_ends_its_own_wait_only(flowservice_emulator: Any) -> None:
    emu = flowservice_emulator
    run_ids = seed_running(emu, create_table_flow(FlowServiceHook()), 2)
    lost = "00000000-0000-0000-0000-00000000dead"

    events, _ = asyncio.run(wait_all([run_ids[0], lost, run_ids[1]]))

    assert [e["status"] for e in events] == ["success", "error", "success"]
    assert lost in events[1]["message"] and "not found" in events[1]["message"]
    assert any(lost in ids and run_ids[0] in ids for ids in id_lists(emu))  # asked in the same call


def test_a_failing_call_or_a_cancelled_wait_does_not_stop_the_others(flowservice_emulator: Any) -> None:
    emu = flowservice_emulator
    run_ids = seed_running(emu, create_table_flow(FlowServiceHook()), 150)
    emu.faults.add(method="GET", path="/runs", kind="status", status=503, times=2)

    async def scenario() -> tuple[list[dict[str, Any]], RunPoller]:
        cancelled = asyncio.ensure_future(wait_all(run_ids[:50], timeout=30))
        rest = asyncio.ensure_future(wait_all(run_ids[50:], timeout=30))
        await asyncio.sleep(POLL / 2)
        cancelled.cancel()  # e.g. the triggerer cancels those triggers
        return await rest

    events, poller = asyncio.run(scenario())
    assert [e["status"] for e in events] == ["success"] * 100
    assert poller.waiting == 0


def _closing_loop(scenario: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``scenario()`` on a fresh loop, close the loop the way a bare ``run_until_complete`` does
    (no cancelling of leftover tasks), collect garbage; the result and what the loop reported."""
    loop = asyncio.new_event_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        result = loop.run_until_complete(scenario())
    finally:
        loop.close()
    # The closed loop's pollers are garbage once nothing holds them: a pending task would now be
    # destroyed and reported ("Task was destroyed but it is pending!").
    RunPoller._registry.clear()
    gc.collect()
    return result, reported


def test_an_idle_poller_leaves_no_pending_task_when_its_loop_closes(flowservice_emulator: Any) -> None:
    run_ids = seed_running(flowservice_emulator, create_table_flow(FlowServiceHook()), 3)

    async def scenario() -> tuple[list[dict[str, Any]], bool]:
        events, poller = await wait_all(run_ids)
        return events, poller.active

    (events, active), reported = _closing_loop(scenario)
    assert [e["status"] for e in events] == ["success"] * 3
    assert not active  # the task ended with the round nobody waited past
    assert [c.get("message") for c in reported] == []  # no "Task was destroyed but it is pending!"


def test_the_last_waiter_leaving_early_ends_the_poller_task(flowservice_emulator: Any) -> None:
    run_ids = seed_running(flowservice_emulator, create_table_flow(FlowServiceHook()), 2)

    async def scenario() -> tuple[bool, bool, int, Any]:
        poller = await RunPoller.of(FlowServiceHook(), 60.0)  # no round for a while
        log = logging.getLogger("test")

        async def wait(run_id: str, seconds: float) -> Any:
            watch = poller.watch(run_id, time.time() + seconds, log)
            try:
                return await watch.future
            finally:
                poller.forget(watch)

        reads = [asyncio.ensure_future(wait(r, 600)) for r in run_ids]
        await asyncio.sleep(0)
        active_while_waiting = poller.active
        for read in reads:
            read.cancel()  # the triggerer cancels the triggers
        await asyncio.gather(*reads, return_exceptions=True)
        expired = await wait(run_ids[0], 0.01)  # a deadline before the next round
        return active_while_waiting, poller.active, poller.calls, expired

    (active_while_waiting, active_after, calls, expired), reported = _closing_loop(scenario)
    assert active_while_waiting and not active_after
    assert calls == 0 and expired is None
    assert [c.get("message") for c in reported] == []


class _Cycle:
    """A foreign trigger's garbage: an object in a reference cycle with itself."""

    def __init__(self) -> None:
        self.me = self


def test_waits_change_nothing_in_the_process_and_leak_no_foreign_cycle(flowservice_emulator: Any) -> None:
    """Waits next to another provider's trigger that makes garbage cycles, some aging into the oldest generation."""
    run_ids = seed_running(flowservice_emulator, create_table_flow(FlowServiceHook()), 20, start_in=HOUR)
    foreign: list[weakref.ref[_Cycle]] = []
    thresholds, freeze_count, enabled = gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()

    async def foreign_trigger(stop: asyncio.Event) -> None:
        kept: list[_Cycle] = []
        while not stop.is_set():
            cycle = _Cycle()
            foreign.append(weakref.ref(cycle))
            kept.append(cycle)  # alive a while, so that some reach the oldest generation before they die
            if len(kept) > 30:
                kept.clear()
            await asyncio.sleep(0.002)

    async def scenario() -> tuple[list[dict[str, Any]], RunPoller]:
        stop = asyncio.Event()
        maker = asyncio.ensure_future(foreign_trigger(stop))
        waits = asyncio.ensure_future(wait_all(run_ids, timeout=120))
        poller = await RunPoller.of(FlowServiceHook(), POLL)
        await until(lambda: poller.rounds >= 3, "the poller's round 3")
        flowservice_emulator.clock.advance(HOUR + 60)
        events, _ = await waits
        stop.set()
        await maker
        return events, poller

    events, poller = asyncio.run(scenario())
    gc.collect()

    assert [e["status"] for e in events] == ["success"] * 20 and poller.rounds >= 3
    assert len(foreign) > 100
    assert [ref for ref in foreign if ref() is not None] == []  # every foreign cycle was freed
    assert gc.get_freeze_count() == freeze_count == 0
    assert (gc.get_threshold(), gc.isenabled()) == (thresholds, enabled)


def test_a_wait_keeps_one_future_and_is_not_woken_while_its_run_does_not_change(flowservice_emulator: Any) -> None:
    run_ids = seed_running(flowservice_emulator, create_table_flow(FlowServiceHook()), 50, start_in=HOUR)

    async def scenario() -> tuple[list[int], list[int], list[bool], int, list[str]]:
        poller = await RunPoller.of(FlowServiceHook(), POLL)
        log = logging.getLogger("test")
        watches = [poller.watch(r, time.time() + 120, log) for r in run_ids]
        before = [id(w.future) for w in watches]
        await until(lambda: poller.rounds >= 4, "the poller's round 4")
        after = [id(w.future) for w in watches]
        pending = [not w.future.done() for w in watches]
        statuses = [w.status or "" for w in watches]
        for w in watches:
            poller.forget(w)
        return before, after, pending, poller.rounds, statuses

    before, after, pending, rounds, statuses = asyncio.run(scenario())
    assert rounds >= 4
    assert before == after and all(pending)  # the same future, never set while the run did not change
    assert set(statuses) == {"scheduled"}  # the rounds saw each run (and logged its status once)


def test_a_page_of_runs_is_decoded_into_objects_the_collector_does_not_track() -> None:
    import json

    from airflow_flowservice.run_heads import decode_run_page

    body = {
        "items": [
            {
                "id": f"r{i}",
                "flowId": "f",
                "flowSpec": {"id": "spec", "version": "1.0"},
                "createdAt": 1,
                "updatedAt": 2,
                "metrics": {"statusSummary": {"status": "x"}},
            }
            for i in range(3)
        ]
    }
    runs = decode_run_page(json.dumps(body).encode())
    assert [p.head.id for p in runs] == ["r0", "r1", "r2"] and runs[0].head.status == "x"
    assert runs[0].head.flow_spec_id == "spec"
    assert not any(gc.is_tracked(o) for p in runs for o in (p, p.head, p.head.metrics, p.head.flow_spec, p.document))
    assert runs[0].run().id == "r0"  # the whole run, decoded when asked for


def test_waits_starting_together_read_the_connection_once(
    flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_flowservice.hooks import flowservice

    reads: list[str] = []
    real = flowservice.aget_connection

    async def counting(hook: Any, conn_id: str) -> Any:
        reads.append(conn_id)
        await asyncio.sleep(0.01)  # a look-up that takes a while: the other waits join it
        return await real(hook, conn_id)

    monkeypatch.setattr(flowservice, "aget_connection", counting)
    run_ids = seed_running(flowservice_emulator, create_table_flow(FlowServiceHook()), 20)

    events, _ = asyncio.run(wait_all(run_ids))

    assert [e["status"] for e in events] == ["success"] * 20
    assert reads == ["flowservice_default"]


def test_a_round_sends_at_most_calls_in_flight_calls_at_once(
    flowservice_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 waits: 10 calls a round, never more than CALLS_IN_FLIGHT of them at once, each built when sent."""
    from airflow_flowservice.runs import poller as poller_module

    emu = flowservice_emulator
    hook = FlowServiceHook()
    run_ids = [r for _ in range(10) for r in seed_running(emu, create_table_flow(hook), 100, start_in=HOUR)]
    emu.faults.add(method="GET", path="/runs", kind="latency", delay=0.05)
    in_flight, most = [0], [0]
    original = FlowServiceHook.aread_runs

    async def counting(self: FlowServiceHook, **query: Any) -> list[Any]:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            return await original(self, **query)
        finally:
            in_flight[0] -= 1

    monkeypatch.setattr(FlowServiceHook, "aread_runs", counting)

    async def scenario() -> RunPoller:
        waits = asyncio.ensure_future(wait_all(run_ids, timeout=120))
        poller = await RunPoller.of(FlowServiceHook(), POLL)
        await until(lambda: poller.rounds >= 1, "the poller's round 1")
        emu.clock.advance(HOUR + 60)
        await waits
        return poller

    poller = asyncio.run(scenario())
    assert most[0] == poller_module.CALLS_IN_FLIGHT
    assert poller.calls == 10 * poller.rounds


#: What Airflow's triggerer binds in each trigger's task to route its log lines (``trigger_id``, ...).
TRIGGER_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("trigger_id", default=None)


class _ByTrigger(logging.Handler):
    """Files each record under the trigger the context of its emission names, as the triggerer does."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str | None, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.setdefault(TRIGGER_ID.get(), []).append(record.getMessage())


def test_each_waits_lines_go_to_its_own_triggers_log(flowservice_emulator: Any) -> None:
    """The shared round logs a wait's status lines in the context the wait registered from, and the
    poller's own task runs in no trigger's context (Airflow routes a line by the context it is logged in)."""
    flow_id = create_table_flow(FlowServiceHook())
    run_ids = seed_running(flowservice_emulator, flow_id, 3, start_in=HOUR)
    handler = _ByTrigger()
    log = logging.getLogger("test.by_trigger")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    seen_by_poller: list[str | None] = []

    async def one(trigger_id: str, run_id: str) -> None:
        TRIGGER_ID.set(trigger_id)  # as the triggerer's run_trigger binds it, in the trigger's own task
        poller = await RunPoller.of(FlowServiceHook(), POLL)
        watch = poller.watch(run_id, time.time() + 120, log)
        try:
            await watch.future
        finally:
            poller.forget(watch)

    async def scenario() -> None:
        waits = [asyncio.ensure_future(one(f"trigger-{n}", run_id)) for n, run_id in enumerate(run_ids)]
        poller = await RunPoller.of(FlowServiceHook(), POLL)
        reads = poller.hook.aread_runs

        async def read(*args: Any, **kwargs: Any) -> Any:  # called by the poller's own task
            seen_by_poller.append(TRIGGER_ID.get())
            return await reads(*args, **kwargs)

        poller.hook.aread_runs = read  # type: ignore[method-assign]
        await until(lambda: poller.rounds >= 2 and seen_by_poller, "the poller's round 2")
        flowservice_emulator.clock.advance(HOUR + 60)
        await asyncio.gather(*waits)

    try:
        asyncio.run(scenario())
    finally:
        log.removeHandler(handler)
    assert set(seen_by_poller) == {None}  # started by the first wait, yet in no trigger's context
    for n, run_id in enumerate(run_ids):
        lines = handler.lines.get(f"trigger-{n}", [])
        assert lines and all(run_id in line for line in lines), (n, handler.lines)
        assert f"Run {run_id} status: success" in lines
