"""What the event-watch fault tests share: a fake asset state store, a watch consumed in the background, flows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.testing import FlowServiceEmulator
from airflow_flowservice.testing.flows import create_table_flow
from airflow_flowservice.triggers import FlowServiceRunEventTrigger
from tests.compat import deserialize, serialize
from tests.conditions import until

HOUR = 3600
POLL = 0.01  # real seconds between polls


class FakeAssetStateStore:
    """What a 3.3 triggerer injects as ``asset_state_store`` for a trigger watched by one asset."""

    def __init__(self, several_assets: bool = False) -> None:
        self.values: dict[str, Any] = {}
        self.several_assets = several_assets
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        if self.several_assets:
            raise ValueError("Task has 2 concrete inlets and outlets — use context['asset_state_store'][MY_ASSET]")
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.writes += 1
        self.values[key] = value


def hourly_flow(emu: FlowServiceEmulator) -> str:
    """An hourly flow whose catch-up run has already finished (the emulator creates it on first read).

    The clock is moved to 30 s past an hour first: 10 s later is still the same hour, whenever the test runs.
    """
    emu.clock.advance((30 - emu.clock.now()) % HOUR)
    flow_id = create_table_flow(FlowServiceHook(), frequency="hour")
    emu.clock.advance(10)
    assert [r.status for r in FlowServiceHook().list_runs(flow_id)] == ["success"]
    emu.requests.clear()
    return flow_id


def list_calls(emu: FlowServiceEmulator, status: int | str | None = None) -> list[Any]:
    return [r for r in emu.calls(method="GET", path_prefix="/runs") if r.path == "/runs" and status in (None, r.status)]


def run_calls(emu: FlowServiceEmulator) -> list[Any]:
    return [r for r in emu.calls(method="GET", path_prefix="/runs/")]


class Watch:
    """A trigger's run() consumed in the background, events collected as they come."""

    def __init__(self, trigger: FlowServiceRunEventTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self.gen: AsyncIterator[Any] = trigger.run()
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.gen:
            self.events.append(event.payload)

    async def stop(self) -> None:
        """The triggerer goes away: the generator is cancelled wherever it is."""
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


async def polls_more(emu: FlowServiceEmulator, n: int) -> None:
    """Wait until the watch made ``n`` more list calls that succeeded."""
    seen = len(list_calls(emu, 200))
    await until(lambda: len(list_calls(emu, 200)) >= seen + n, f"{n} more polls")


def restored(trigger: FlowServiceRunEventTrigger) -> FlowServiceRunEventTrigger:
    """The trigger as a triggerer re-creates it: serialize(), Airflow's serde round trip, the class."""
    classpath, kwargs = trigger.serialize()
    stored = deserialize(serialize(kwargs))
    assert isinstance(stored, dict)
    module_name, class_name = classpath.rsplit(".", 1)
    cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    again = cls(**stored)
    assert isinstance(again, FlowServiceRunEventTrigger)
    return again


def new_runs(flow_id: str, before: set[str]) -> list[str]:
    """Ids of the flow's runs not in ``before``, oldest first."""
    runs = FlowServiceHook().list_runs(flow_id)
    return [r.id for r in sorted(runs, key=lambda r: r.created_at or 0) if r.id not in before]


def run_ids(flow_id: str) -> set[str]:
    return {r.id for r in FlowServiceHook().list_runs(flow_id)}
