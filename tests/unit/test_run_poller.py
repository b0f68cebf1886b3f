"""Coalesced waits: the triggers of one event loop share one poller per client and poll interval."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any
from urllib.parse import parse_qsl

from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.runs.poll import RunPoller
from airflow_flowservice.testing.flows import create_table_flow
from airflow_flowservice.triggers.run import FlowServiceRunTrigger

JAN1 = 1767225600
HOUR = 3600
POLL = 0.1


def seed_running(emu: Any, flow_id: str, n: int) -> list[str]:
    """``n`` runs of a flow created half a second from now: they finish within a second or so."""
    windows = [(JAN1 + k * HOUR, JAN1 + (k + 1) * HOUR) for k in range(n)]
    ids: list[str] = emu.seed_runs(flow_id, windows, created_from_ms=emu.clock.now_ms() + 500)
    return ids


async def wait_all(run_ids: list[str], timeout: float = 30) -> tuple[list[dict[str, Any]], RunPoller]:
    """Run one trigger per id on this loop; their events (one each) and the loop's poller."""

    async def one(run_id: str) -> dict[str, Any]:
        trigger = FlowServiceRunTrigger(run_id=run_id, end_time=time.time() + timeout, poll_interval=POLL)
        (event,) = [e.payload async for e in trigger.run()]
        return event

    events = await asyncio.gather(*(one(r) for r in run_ids))
    return list(events), RunPoller.for_client(await FlowServiceHook().get_async_client(), POLL)


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
    run_ids = [r for flow_id in flows for r in seed_running(emu, flow_id, 100)]
    emu.requests.clear()

    events, poller = asyncio.run(wait_all(run_ids))

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
