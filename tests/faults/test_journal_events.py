"""Watches and waits fed by the emulator's I/O Events journal, under the journal's faults.

At least once and unordered (duplicates, reordering), positions past the retention (410), a journal
that does not answer (the watch falls back to polling and says so once), a triggerer that restarts
mid-journal, and notifications lost before they reach the journal (the waits' safety poll).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import unquote_plus

import pytest

from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.runs import poller as poller_module
from airflow_flowservice.runs.poll import poll_in_triggerer
from airflow_flowservice.runs.poller import RunPoller
from airflow_flowservice.testing.flows import create_table_flow
from airflow_flowservice.triggers import FlowServiceRunEventTrigger
from tests.faults.conftest import ManualEmulator, Sleeps
from tests.faults.event_helpers import (
    HOUR,
    POLL,
    FakeAssetStateStore,
    Watch,
    hourly_flow,
    new_runs,
    restored,
    run_ids,
    until,
)

pytestmark = pytest.mark.faults


@pytest.fixture
def journal(manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch) -> ManualEmulator:
    """The manual-clock emulator, with ``flowservice_default`` reading its journal; 204s say retry at once."""
    for key, value in manual_emulator.emu.connection_env(journal=True).items():
        monkeypatch.setenv(key, value)
    manual_emulator.emu.set_journal_retry_after(0)
    return manual_emulator


def journal_reads(emu: Any) -> list[Any]:
    return [r for r in emu.calls(method="GET", path_prefix="/events/")]


def flow_polls(emu: Any, flow_id: str) -> list[Any]:
    """A poll watch's reads of the flow's changed runs (``updatedAt>=``)."""
    calls = emu.calls(method="GET", path_prefix="/runs")
    return [r for r in calls if r.path == "/runs" and "updatedAt>=" in unquote_plus(r.query)]


async def reads_more(emu: Any, n: int) -> None:
    seen = len(journal_reads(emu))
    await until(lambda: len(journal_reads(emu)) >= seen + n, f"{n} more journal reads")


def journal_trigger(flow_id: str | None, **kwargs: Any) -> FlowServiceRunEventTrigger:
    return FlowServiceRunEventTrigger(flow_id, poll_interval=POLL, source="journal", **kwargs)


def test_each_finished_run_once_from_the_journal_and_no_poll(journal: ManualEmulator) -> None:
    emu = journal.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(journal_trigger(flow_id))
        await reads_more(emu, 2)
        emu.clock.advance(2 * HOUR)  # two runs finish: two notifications
        await until(lambda: len(watch.events) >= 2, "two events")
        await reads_more(emu, 3)
        await watch.stop()
        return watch.events

    events = asyncio.run(scenario())
    assert [e["run_id"] for e in events] == new_runs(flow_id, earlier)
    assert {e["source"] for e in events} == {"journal"}
    assert all(e["event_id"] and not e["event_id"].startswith(e["run_id"]) for e in events)  # the journal's ids
    assert flow_polls(emu, flow_id) == []  # no GET /runs of the flow: the journal said it all


def test_duplicated_and_reordered_notifications_are_reported_once_each(journal: ManualEmulator) -> None:
    emu = journal.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    emu.duplicate_events(2)
    emu.reorder_events(2)

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(journal_trigger(flow_id))
        await reads_more(emu, 2)
        emu.clock.advance(4 * HOUR)  # four runs: two written twice, two in reverse order
        await until(lambda: len(watch.events) >= 4, "four events")
        await reads_more(emu, 3)
        await watch.stop()
        return watch.events

    events = asyncio.run(scenario())
    assert len(emu.journal_events()) > 4  # the journal did hold duplicates
    assert sorted(e["run_id"] for e in events) == sorted(new_runs(flow_id, earlier))  # each once


def test_a_position_past_the_retention_is_caught_up_from_flow_service(journal: ManualEmulator) -> None:
    """410: the watch lists what finished since its last run, then reads the journal from its end; none lost."""
    emu = journal.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    store = FakeAssetStateStore()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        first_trigger = journal_trigger(flow_id)
        first_trigger.asset_state_store = store  # type: ignore[assignment]
        first = Watch(first_trigger)
        await reads_more(emu, 2)
        emu.clock.advance(HOUR)
        await until(lambda: len(first.events) == 1, "the first event")
        await reads_more(emu, 2)  # its position saved
        await first.stop()
        emu.clock.advance(2 * HOUR)  # two runs finish while the watch is down ...
        emu.expire_positions()  # ... and the saved position passes the retention
        second_trigger = restored(first_trigger)
        second_trigger.asset_state_store = store  # type: ignore[assignment]
        second = Watch(second_trigger)
        await until(lambda: len(second.events) >= 2, "the two runs of the gap")
        emu.clock.advance(HOUR)  # and one after, from the journal
        await until(lambda: len(second.events) >= 3, "one more")
        await reads_more(emu, 2)
        await second.stop()
        return first.events, second.events

    before, after = asyncio.run(scenario())
    one, gap_a, gap_b, later = new_runs(flow_id, earlier)
    assert [e["run_id"] for e in before] == [one]
    assert [e["run_id"] for e in after] == [gap_a, gap_b, later]
    assert [e["source"] for e in after] == ["poll", "poll", "journal"]


def test_a_journal_that_does_not_answer_falls_back_to_polling_once(journal: ManualEmulator, sleeps: Sleeps) -> None:
    from airflow_flowservice.runs.watch import watch_finished_runs

    emu = journal.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    emu.faults.add(method="GET", path="/events/*", kind="status", status=503, times=None)
    log = _Log()

    async def scenario() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        watch = watch_finished_runs(
            FlowServiceHook(),
            flow_id,
            statuses=("success",),
            source="journal",
            poll_interval=POLL,
            max_consecutive_failures=2,
            log=log,
        )

        async def consume() -> None:
            async for payload in watch:
                events.append(payload)

        task = asyncio.ensure_future(consume())
        await until(lambda: len(flow_polls(emu, flow_id)) >= 1, "the fallback's first poll", timeout=60)
        emu.clock.advance(HOUR)
        await until(lambda: len(events) >= 1, "an event by polling", timeout=30)
        await until(lambda: len(flow_polls(emu, flow_id)) >= 5, "more polls")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return events

    events = asyncio.run(scenario())
    assert [(e["run_id"], e["source"]) for e in events] == [(new_runs(flow_id, earlier)[0], "poll")]
    fallbacks = [line for line in log.lines if "watching by polling Flow Service from now on" in line]
    assert len(fallbacks) == 1 and f"Flow {flow_id}: the events journal" in fallbacks[0]  # said once


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, fmt: str, *args: Any) -> None:
        self.lines.append(fmt % args)

    warning = info


def test_a_triggerer_restart_mid_journal_resumes_at_the_saved_position(journal: ManualEmulator) -> None:
    emu = journal.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    store = FakeAssetStateStore()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        first_trigger = journal_trigger(flow_id)
        first_trigger.asset_state_store = store  # type: ignore[assignment]
        first = Watch(first_trigger)
        await reads_more(emu, 2)
        emu.clock.advance(HOUR)
        await until(lambda: len(first.events) == 1, "the first event")
        await reads_more(emu, 2)  # the position past it saved
        await first.stop()
        emu.clock.advance(HOUR)  # a run finishes while the triggerer is down
        second_trigger = restored(first_trigger)
        second_trigger.asset_state_store = store  # type: ignore[assignment]
        second = Watch(second_trigger)
        await until(lambda: len(second.events) >= 1, "the run of the downtime")
        emu.clock.advance(HOUR)
        await until(lambda: len(second.events) >= 2, "one more")
        await reads_more(emu, 2)
        await second.stop()
        return first.events, second.events

    before, after = asyncio.run(scenario())
    one, while_down, later = new_runs(flow_id, earlier)
    assert [e["run_id"] for e in before] == [one]
    assert [e["run_id"] for e in after] == [while_down, later]  # none repeated, none lost
    assert store.values["flowservice_run_cursor"]["source"] == "journal"
    assert store.values["flowservice_run_cursor"]["resume_url"].startswith(emu.journal_url)


def test_a_sandbox_wide_failure_watch_from_the_journal(journal: ManualEmulator) -> None:
    emu = journal.emu
    _ok, failing = hourly_flow(emu), hourly_flow(emu)
    emu.run_outcome(flow_id=failing, kind="failed")
    before = run_ids(failing)

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(journal_trigger(None, statuses=("failed",)))
        await reads_more(emu, 2)
        emu.clock.advance(HOUR)  # each flow's run finishes; one of them failed
        await until(lambda: len(watch.events) >= 1, "the failed run")
        await reads_more(emu, 3)
        await watch.stop()
        return watch.events

    events = asyncio.run(scenario())
    assert [(e["flow_id"], e["run_id"], e["status"]) for e in events] == [
        (failing, new_runs(failing, before)[0], "failed")
    ]
    assert events[0]["metrics"]["errors"]  # Adobe's error codes, from the failure notification's envelope


def test_waits_wake_on_notifications_and_a_lost_one_is_found_by_the_safety_poll(
    journal: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the journal, the waits' runs are read when each wait starts and then only at safety rounds; a
    notification that never reached the journal delays its wait to the next safety round, no more."""
    emu = journal.emu
    monkeypatch.setattr(poller_module, "SAFETY_POLL_EVERY", 5)
    flow_id = create_table_flow(FlowServiceHook())
    windows = [(1767225600 + k * HOUR, 1767225600 + (k + 1) * HOUR) for k in range(20)]
    run_ids_ = emu.seed_runs(flow_id, windows, created_from_ms=emu.clock.now_ms() + HOUR * 1000)
    emu.drop_events(1, flow_id=flow_id)  # the first run to finish is never notified

    async def scenario() -> tuple[list[str], int, int, int]:
        hook = FlowServiceHook()
        waits = [
            asyncio.ensure_future(
                poll_in_triggerer(
                    hook, end_time=time.time() + 60, poll_interval=POLL, log=logging.getLogger("t"), run_id=r
                )
            )
            for r in run_ids_
        ]
        poller = await RunPoller.of(hook, POLL)
        await until(lambda: poller.rounds >= 6, "six rounds (one safety round among them)")
        reads_before = sum(1 for r in emu.calls(method="GET", path_prefix="/runs") if "id==" in r.query)
        rounds_before = poller.rounds
        emu.clock.advance(2 * HOUR)  # every run finishes
        outcomes = await asyncio.wait_for(asyncio.gather(*waits), 30)
        reads = sum(1 for r in emu.calls(method="GET", path_prefix="/runs") if "id==" in r.query) - reads_before
        return [o.status for o in outcomes], reads, poller.rounds - rounds_before, len(journal_reads(emu))

    statuses, id_reads, rounds, jreads = asyncio.run(scenario())
    assert statuses == ["success"] * 20  # the lost notification's wait ended too, at a safety round
    assert id_reads <= rounds // 5 + 1 < rounds  # the waits' runs were read at safety rounds only
    assert jreads > 0
