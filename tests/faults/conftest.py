"""Fixtures of the fault suite: retries and look-up delays that record their waits instead of sleeping."""

from __future__ import annotations

import time
import types
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_flowservice.client import AsyncFlowServiceClient, FlowServiceClient
from airflow_flowservice.hooks import flowservice as hook_module
from airflow_flowservice.runs import start as start_module
from airflow_flowservice.testing import FlowServiceEmulator
from tests.integration.conftest import airflow_db, load_dag  # noqa: F401  (dag.test() fixtures, shared)


@dataclass
class Sleeps:
    """Every wait the provider asked for, by where it came from (nothing actually waits)."""

    client: list[float] = field(default_factory=list)  # sync client retry backoffs / Retry-After
    async_client: list[float] = field(default_factory=list)  # async client (trigger) retry waits
    lookup: list[float] = field(default_factory=list)  # create_run's look-ups after an unknown POST outcome


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """Make every hook-built client (sync and async) and the run start's look-up loop record, not sleep.

    The clients bind ``time.sleep`` / ``asyncio.sleep`` as a default argument when the module is
    imported, so patching ``time.sleep`` would not reach them: the hook module's client classes are
    replaced by subclasses that pass a recording ``sleep``.
    """
    record = Sleeps()

    class RecordingClient(FlowServiceClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("sleep", record.client.append)
            super().__init__(*args, **kwargs)

    async def async_sleep(seconds: float) -> None:
        record.async_client.append(seconds)

    class RecordingAsyncClient(AsyncFlowServiceClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            sleep: Callable[[float], Awaitable[None]] = async_sleep
            kwargs.setdefault("sleep", sleep)
            super().__init__(*args, **kwargs)

    fake_time = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    fake_time.sleep = record.lookup.append
    monkeypatch.setattr(hook_module, "FlowServiceClient", RecordingClient)
    monkeypatch.setattr(hook_module, "AsyncFlowServiceClient", RecordingAsyncClient)
    monkeypatch.setattr(start_module, "time", fake_time)
    return record


TOKEN_TTL = 600.0
RUN_TIMELINE = (1.0, 2.0)  # a run is finished 2 s (emulator time) after it is created


class ManualEmulator:
    """A manual-clock emulator wired to ``flowservice_default`` that a test can restart on the same port."""

    def __init__(self) -> None:
        self.emu = self._new()
        self.emu.start()
        self.restarts = 0

    @staticmethod
    def _new() -> FlowServiceEmulator:
        return FlowServiceEmulator(clock="manual", run_timeline=RUN_TIMELINE, token_ttl=TOKEN_TTL)

    def stop(self) -> None:
        self.emu.stop()

    def restart(self) -> FlowServiceEmulator:
        """Stop the emulator and serve a fresh one (no entities, no runs, no tokens) on the same port."""
        port = self.emu.port
        self.emu.stop()
        fresh = self._new()
        fresh.clock.set(self.emu.clock.now())
        fresh.start(port=port)
        self.emu = fresh
        self.restarts += 1
        return fresh


@pytest.fixture
def manual_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ManualEmulator]:
    """A started :class:`ManualEmulator`; ``AIRFLOW_CONN_FLOWSERVICE_DEFAULT`` points at it."""
    handle = ManualEmulator()
    try:
        for key, value in handle.emu.connection_env().items():
            monkeypatch.setenv(key, value)
        yield handle
    finally:
        handle.stop()
