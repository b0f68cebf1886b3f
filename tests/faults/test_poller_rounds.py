"""Every wait a poller round serves ends, whatever step of the round fails.

A round builds each call's request, sends it, decodes the answer and hands each wait its run. A fault
injected at each of these steps (and outside the calls) must end every wait of the round, with an
error or with a later round's answer: none is left pending (the tier also runs under pytest-timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_flowservice.exceptions import FlowServiceServerError
from airflow_flowservice.hooks import flowservice as hook_module
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.runs.poll import WaitOutcome, poll_in_triggerer
from airflow_flowservice.runs.poller import RunPoller
from airflow_flowservice.testing.flows import create_table_flow
from tests.faults.conftest import ManualEmulator

pytestmark = pytest.mark.faults

JAN1 = 1767225600
HOUR = 3600
POLL = 0.02
WAITS = 150  # two calls a round: a fault in one call must not reach the other's waits


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, fmt: str, *args: Any) -> None:
        self.lines.append(fmt % args)

    warning = info


def _runs(emu: Any, n: int = WAITS) -> list[str]:
    """``n`` runs, still scheduled until the test moves the clock."""
    windows = [(JAN1 + k * HOUR, JAN1 + (k + 1) * HOUR) for k in range(n)]
    flow_id = create_table_flow(FlowServiceHook())
    ids: list[str] = emu.seed_runs(flow_id, windows, created_from_ms=emu.clock.now_ms() + HOUR * 1000)
    return ids


def _once(fault: Exception) -> Callable[[], None]:
    """A callable that raises ``fault`` the first time it is called, then does nothing."""
    left = [fault]

    def maybe_raise() -> None:
        if left:
            raise left.pop()

    return maybe_raise


def _sending_fails_once(monkeypatch: pytest.MonkeyPatch, fault: Exception) -> None:
    """The first page of runs the poller sends for fails with ``fault``; later ones go through."""
    real = hook_module.AsyncFlowServiceClient.send_raw
    raise_once = _once(fault)

    async def sending(self: Any, req: Any) -> bytes:
        raise_once()
        content: bytes = await real(self, req)
        return content

    monkeypatch.setattr(hook_module.AsyncFlowServiceClient, "send_raw", sending)


def _wait_all(emu: Any, run_ids: list[str], log: Any = None) -> list[WaitOutcome]:
    """Wait for every run on one loop; the clock moves once the poller has made two rounds."""

    async def scenario() -> list[WaitOutcome]:
        hook = FlowServiceHook()
        waits = [
            asyncio.ensure_future(
                poll_in_triggerer(hook, end_time=time.time() + 60, poll_interval=POLL, log=log or _Log(), run_id=r)
            )
            for r in run_ids
        ]
        poller = await RunPoller.of(hook, POLL)
        deadline = time.monotonic() + 30
        while poller.rounds < 2 and time.monotonic() < deadline and not all(w.done() for w in waits):
            await asyncio.sleep(POLL)
        emu.clock.advance(2 * HOUR)  # every run finishes: the next round hands the rest their runs
        return list(await asyncio.wait_for(asyncio.gather(*waits), 30))

    return asyncio.run(scenario())


def _ended(outcomes: list[WaitOutcome]) -> tuple[int, int]:
    """``(successes, errors)``; nothing else is allowed (no timeout: no wait was left pending)."""
    assert {o.status for o in outcomes} <= {"success", "error"}, [o.message for o in outcomes]
    return sum(o.status == "success" for o in outcomes), sum(o.status == "error" for o in outcomes)


def test_a_fault_building_a_request_ends_that_calls_waits_only(
    manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = hook_module.runs_query
    fault = _once(ValueError("injected: building the request"))

    def building(**query: Any) -> list[tuple[str, str]]:
        fault()
        return real(**query)

    monkeypatch.setattr(hook_module, "runs_query", building)
    outcomes = _wait_all(manual_emulator.emu, _runs(manual_emulator.emu))
    assert _ended(outcomes) == (WAITS - 100, 100)  # the first call's 100 waits, with the fault's message
    assert all("injected: building the request" in o.message for o in outcomes if o.status == "error")


def test_a_transient_fault_sending_is_read_through_at_the_next_round(
    manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sending_fails_once(monkeypatch, FlowServiceServerError("injected: 503 while sending", status=503))
    log = _Log()
    outcomes = _wait_all(manual_emulator.emu, _runs(manual_emulator.emu), log)
    assert _ended(outcomes) == (WAITS, 0)  # a transient error: every wait read its run at a later round
    assert sum("injected: 503 while sending" in line for line in log.lines) == 100  # once per wait of that call


def test_a_permanent_fault_sending_ends_that_calls_waits_only(
    manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sending_fails_once(monkeypatch, RuntimeError("injected: the transport broke"))
    outcomes = _wait_all(manual_emulator.emu, _runs(manual_emulator.emu))
    assert _ended(outcomes) == (WAITS - 100, 100)


def test_a_fault_decoding_an_answer_ends_that_calls_waits_only(
    manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = hook_module.decode_run_page
    fault = _once(ValueError("injected: the answer could not be decoded"))

    def decoding(body: bytes) -> Any:
        fault()
        return real(body)

    monkeypatch.setattr(hook_module, "decode_run_page", decoding)
    outcomes = _wait_all(manual_emulator.emu, _runs(manual_emulator.emu))
    successes, errors = _ended(outcomes)
    assert errors in (100, WAITS - 100) and successes == WAITS - errors  # the waits of the answer decoded first
    assert all("could not be decoded" in o.message for o in outcomes if o.status == "error")


def test_a_fault_waking_one_wait_ends_that_wait_only(manual_emulator: ManualEmulator) -> None:
    class BrokenLog(_Log):
        def info(self, fmt: str, *args: Any) -> None:
            raise RuntimeError("injected: the wait's logger broke")

    emu = manual_emulator.emu
    run_ids = _runs(emu, 3)

    async def scenario() -> list[WaitOutcome]:
        hook = FlowServiceHook()
        logs = [_Log(), BrokenLog(), _Log()]
        waits = [
            poll_in_triggerer(hook, end_time=time.time() + 60, poll_interval=POLL, log=log, run_id=r)
            for r, log in zip(run_ids, logs, strict=True)
        ]
        tasks = [asyncio.ensure_future(w) for w in waits]
        poller = await RunPoller.of(hook, POLL)
        while poller.rounds < 1:
            await asyncio.sleep(POLL)
        emu.clock.advance(2 * HOUR)
        return list(await asyncio.wait_for(asyncio.gather(*tasks), 30))

    outcomes = asyncio.run(scenario())
    assert [o.status for o in outcomes] == ["success", "error", "success"]
    assert "the wait's logger broke" in outcomes[1].message


def test_a_fault_outside_the_calls_ends_every_wait(
    manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = RunPoller._calls
    fault = _once(RuntimeError("injected: planning the round"))

    def planning(self: RunPoller) -> Any:
        fault()
        return real(self)

    monkeypatch.setattr(RunPoller, "_calls", planning)
    outcomes = _wait_all(manual_emulator.emu, _runs(manual_emulator.emu, 5))
    assert _ended(outcomes) == (0, 5)
    assert all("the Flow Service run poller stopped" in o.message for o in outcomes)


def test_a_fault_handling_a_calls_error_ends_every_wait(
    manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient error whose warning cannot be logged: the round still ends, and so does every wait."""

    class BrokenWarnings(_Log):
        def warning(self, fmt: str, *args: Any) -> None:
            raise RuntimeError("injected: logging the warning broke")

    _sending_fails_once(monkeypatch, FlowServiceServerError("injected: 503", status=503))
    outcomes = _wait_all(manual_emulator.emu, _runs(manual_emulator.emu, 5), BrokenWarnings())
    assert _ended(outcomes) == (0, 5)
