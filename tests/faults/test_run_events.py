"""FlowServiceRunEventTrigger.run() as an async generator against a manual-clock emulator.

A flow scheduled every hour gets its runs from the emulator's clock alone (a run is created at each
schedule boundary and finishes 2 s later), so "a run finished while the watch was down" is a fact
the test makes by moving the clock, not a race.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_flowservice.exceptions import FlowServiceError
from airflow_flowservice.hooks import flowservice as flowservice_hooks
from airflow_flowservice.hooks.flowservice import FlowServiceHook
from airflow_flowservice.runs.events import iso
from airflow_flowservice.runs.judge import run_metrics
from airflow_flowservice.testing import FlowServiceEmulator
from airflow_flowservice.testing.flows import create_table_flow
from airflow_flowservice.triggers import FlowServiceRunEventTrigger
from tests.compat import AssetEvents
from tests.faults.conftest import ManualEmulator, Sleeps
from tests.faults.event_helpers import (
    HOUR,
    POLL,
    FakeAssetStateStore,
    Watch,
    hourly_flow,
    list_calls,
    new_runs,
    polls_more,
    restored,
    run_calls,
    run_ids,
    until,
)

pytestmark = pytest.mark.faults


# -- events per finished run ------------------------------------------------------------------------------


def test_one_event_per_finished_run_none_for_earlier_runs(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(FlowServiceRunEventTrigger(flow_id, poll_interval=POLL))
        await polls_more(emu, 3)
        assert watch.events == []  # the run that finished before the watch started is not reported
        emu.clock.advance(2 * HOUR)  # two schedule boundaries pass: two runs, both finished
        await until(lambda: len(watch.events) >= 2, "two events")
        await polls_more(emu, 5)
        await watch.stop()
        return watch.events

    events = asyncio.run(scenario())
    finished = new_runs(flow_id, earlier)
    assert len(finished) == 2
    assert [e["run_id"] for e in events] == finished  # one each, oldest first, none repeated
    hook = FlowServiceHook()
    for event in events:
        run = hook.get_run(event["run_id"])
        window = run.window()
        assert window is not None
        assert event == {
            "run_id": run.id,
            "flow_id": flow_id,
            "event_id": f"{run.id}:success",
            "source": "poll",
            "status": "success",
            "window": {"start": window[0], "end": window[1], "start_iso": iso(window[0]), "end_iso": iso(window[1])},
            "metrics": run_metrics(run),  # what the run operator pushes
        }
        assert event["window"]["start_iso"].endswith(":00:00Z")  # an hour's window, as a person reads it
        assert event["metrics"]["records_read"] == 60  # one record per minute of the hour


def test_one_list_call_per_interval_and_no_run_reads(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)

    async def scenario() -> None:
        watch = Watch(FlowServiceRunEventTrigger(flow_id, poll_interval=POLL))
        await polls_more(emu, 4)
        emu.clock.advance(HOUR)
        await until(lambda: len(watch.events) == 1, "one event")
        await polls_more(emu, 4)
        await watch.stop()

    asyncio.run(scenario())
    calls = list_calls(emu)
    assert run_calls(emu) == []  # nothing but the list call: the event needs no GET /runs/{id}
    first, *rest = calls
    assert f"property=flowId%3D%3D{flow_id}" in first.query and "orderby=-updatedAt" in first.query
    for call in rest:  # each later interval: one bounded list call since the cursor, oldest first
        assert "property=updatedAt%3E%3D" in call.query and "orderby=updatedAt" in call.query
        assert "limit=100" in call.query


def test_failed_runs_reported_only_when_asked(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    emu.run_outcome(flow_id, "failed", times=1)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        successes = Watch(FlowServiceRunEventTrigger(flow_id, poll_interval=POLL))
        both = Watch(FlowServiceRunEventTrigger(flow_id, poll_interval=POLL, statuses=("success", "failed")))
        await polls_more(emu, 4)
        emu.clock.advance(2 * HOUR)  # the first new run fails, the second succeeds
        await until(lambda: len(both.events) == 2 and len(successes.events) == 1, "the events")
        await polls_more(emu, 4)
        await successes.stop()
        await both.stop()
        return successes.events, both.events

    successes, both = asyncio.run(scenario())
    failed_run, ok_run = new_runs(flow_id, earlier)
    assert [(e["run_id"], e["status"]) for e in both] == [(failed_run, "failed"), (ok_run, "success")]
    assert [e["run_id"] for e in successes] == [ok_run]
    assert both[0]["metrics"]["errors"]  # a failed run's errors travel with its event


def test_a_burst_larger_than_a_page_is_read_over_several_intervals(
    manual_emulator: ManualEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = manual_emulator.emu
    monkeypatch.setattr(flowservice_hooks, "RUNS_PAGE_SIZE", 2)
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(FlowServiceRunEventTrigger(flow_id, poll_interval=POLL))
        await polls_more(emu, 2)
        emu.clock.advance(5 * HOUR)
        await until(lambda: len(watch.events) >= 5, "five events")
        await polls_more(emu, 4)
        await watch.stop()
        return watch.events

    events = asyncio.run(scenario())
    assert [e["run_id"] for e in events] == new_runs(flow_id, earlier)


# -- transient errors and the failure cap ---------------------------------------------------------------


def test_transient_errors_keep_it_polling(manual_emulator: ManualEmulator, sleeps: Sleeps) -> None:
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(FlowServiceRunEventTrigger(flow_id, poll_interval=POLL, max_consecutive_failures=3))
        await polls_more(emu, 2)
        # two whole polls fail (each call gives up after the client's 5 attempts), then one gets through
        emu.faults.add("GET", "/runs", "status", status=503, times=10)
        emu.clock.advance(HOUR)
        await until(lambda: len(watch.events) == 1, "the event after the outage")
        await polls_more(emu, 3)
        await watch.stop()
        return watch.events

    events = asyncio.run(scenario())
    assert [e["run_id"] for e in events] == new_runs(flow_id, earlier)
    assert len(list_calls(emu, 503)) == 10


def test_the_failure_cap_ends_the_watch(manual_emulator: ManualEmulator, sleeps: Sleeps) -> None:
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    emu.faults.add("GET", "/runs", "status", status=503, times=None)
    trigger = FlowServiceRunEventTrigger(flow_id, poll_interval=POLL, max_consecutive_failures=3)

    async def scenario() -> None:
        async for _ in trigger.run():
            raise AssertionError("no event expected")

    with pytest.raises(FlowServiceError, match=f"flow {flow_id}: 3 consecutive polls for finished runs failed"):
        asyncio.run(asyncio.wait_for(scenario(), 20))
    assert len(list_calls(emu, 503)) == 3 * 5  # three polls of five attempts each, then it gives up


def test_a_permanent_error_ends_the_watch_at_once(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    emu.faults.add("GET", "/runs", "status", status=403, times=None)
    trigger = FlowServiceRunEventTrigger(flow_id, poll_interval=POLL)

    async def scenario() -> None:
        async for _ in trigger.run():
            raise AssertionError("no event expected")

    with pytest.raises(FlowServiceError):
        asyncio.run(asyncio.wait_for(scenario(), 20))
    assert len(list_calls(emu)) == 1


# -- serialize and restarts -------------------------------------------------------------------------------


def test_serialize_round_trip() -> None:
    trigger = FlowServiceRunEventTrigger(
        "flow-1", flowservice_conn_id="aep", poll_interval=30, statuses=["Failed", "success"]
    )
    again = restored(trigger)
    assert (
        again.serialize()
        == trigger.serialize()
        == (
            "airflow_flowservice.triggers.run_event.FlowServiceRunEventTrigger",
            {
                "flow_id": "flow-1",
                "flowservice_conn_id": "aep",
                "poll_interval": 30,
                "statuses": ["failed", "success"],
                "max_consecutive_failures": 5,
                "source": "auto",
            },
        )
    )
    sandbox_wide = FlowServiceRunEventTrigger(statuses=("failed",), source="poll")
    assert restored(sandbox_wide).serialize() == sandbox_wide.serialize()
    assert sandbox_wide.serialize()[1]["flow_id"] is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"flow_id": ""}, "flow_id"),
        ({"flow_id": "f", "source": "webhook"}, "source"),
        ({"flow_id": "f", "statuses": ()}, "statuses"),
        ({"flow_id": "f", "statuses": ("done",)}, "statuses"),
        ({"flow_id": "f", "poll_interval": 0}, "poll_interval"),
        ({"flow_id": "f", "max_consecutive_failures": 0}, "max_consecutive_failures"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    from airflow_flowservice.exceptions import FlowServiceConfigError

    with pytest.raises(FlowServiceConfigError, match=f"^{field}: "):
        FlowServiceRunEventTrigger(**kwargs)


def _restart_scenario(
    emu: FlowServiceEmulator, flow_id: str, store: FakeAssetStateStore | None, *, stop_at_once: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Report one run, stop (the triggerer goes down), let one run finish, restart, let one more finish.

    The first watch stops a round after its event (its cursor saved), or with ``stop_at_once`` right
    after it (the triggerer dies between handing the event over and saving the cursor past it).
    """

    def with_store(trigger: FlowServiceRunEventTrigger) -> FlowServiceRunEventTrigger:
        if store is not None:
            trigger.asset_state_store = store  # type: ignore[assignment]  # what a 3.3 triggerer injects
        return trigger

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        first_trigger = with_store(FlowServiceRunEventTrigger(flow_id, poll_interval=POLL))
        first = Watch(first_trigger)
        await polls_more(emu, 2)
        emu.clock.advance(HOUR)
        await until(lambda: len(first.events) == 1, "the first event")
        if not stop_at_once:
            await polls_more(emu, 2)
        await first.stop()
        emu.clock.advance(HOUR)  # a run finishes while the triggerer is down
        second = Watch(with_store(restored(first_trigger)))
        await polls_more(emu, 3)
        emu.clock.advance(HOUR)  # and one after the restart
        expected = (3 if store and not store.several_assets else 1) - (0 if stop_at_once else 1)
        await until(lambda: len(second.events) >= expected, "events")
        await polls_more(emu, 4)
        await second.stop()
        return first.events, second.events

    return asyncio.run(scenario())


def test_restart_with_the_asset_state_store_neither_repeats_nor_misses(manual_emulator: ManualEmulator) -> None:
    """Stopped a round after its last event (the cursor past it saved): nothing repeated, nothing missed."""
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    store = FakeAssetStateStore()
    before, after = _restart_scenario(emu, flow_id, store)
    one, while_down, later = new_runs(flow_id, earlier)
    assert [e["run_id"] for e in before] == [one]
    assert [e["run_id"] for e in after] == [while_down, later]
    assert store.values["flowservice_run_cursor"]["flow_id"] == flow_id


def test_a_triggerer_dying_between_an_event_and_its_cursor_repeats_the_event(manual_emulator: ManualEmulator) -> None:
    """At least once: the cursor past a run is saved only a round after its event was handed over, so a
    triggerer that stops in between hands it over again; the consumer keys on ``run_id``."""
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    store = FakeAssetStateStore()
    before, after = _restart_scenario(emu, flow_id, store, stop_at_once=True)
    one, while_down, later = new_runs(flow_id, earlier)
    assert [e["run_id"] for e in before] == [one]
    assert [e["run_id"] for e in after] == [one, while_down, later]  # "one" again: never lost
    seen: set[str] = set()
    deduplicated = [e["run_id"] for e in [*before, *after] if not (e["run_id"] in seen or seen.add(e["run_id"]))]
    assert deduplicated == [one, while_down, later]


def test_restart_without_a_state_store_starts_from_now(manual_emulator: ManualEmulator) -> None:
    """Airflow 3.0-3.2: the run that finished while the triggerer was down is not reported."""
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    before, after = _restart_scenario(emu, flow_id, None)
    one, _while_down, later = new_runs(flow_id, earlier)
    assert [e["run_id"] for e in before] == [one]
    assert [e["run_id"] for e in after] == [later]


def test_several_assets_on_one_trigger_keep_no_state(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    store = FakeAssetStateStore(several_assets=True)
    before, after = _restart_scenario(emu, flow_id, store)
    one, _while_down, later = new_runs(flow_id, earlier)
    assert ([e["run_id"] for e in before], [e["run_id"] for e in after]) == ([one], [later])
    assert store.writes == 0


def test_a_stored_cursor_of_another_flow_is_ignored(manual_emulator: ManualEmulator) -> None:
    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    store = FakeAssetStateStore()
    store.values["flowservice_run_cursor"] = {"flow_id": "another", "updated_at": 0, "at_cursor": [], "handled": []}
    trigger = FlowServiceRunEventTrigger(flow_id, poll_interval=POLL)
    trigger.asset_state_store = store  # type: ignore[assignment]

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(trigger)
        await polls_more(emu, 3)
        await watch.stop()
        return watch.events

    assert asyncio.run(scenario()) == []  # the earlier finished run is not reported
    assert store.values["flowservice_run_cursor"]["flow_id"] == flow_id


# -- end to end: a scheduled flow's runs schedule the example consumer DAG -----------------------------


def test_scheduled_flow_runs_drive_the_example_consumer(
    manual_emulator: ManualEmulator, load_dag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example DAG's own watcher, run as the triggerer would; each event fed to its consumer task.

    The scheduler turns a trigger event into an asset event whose ``extra`` is
    ``{"from_trigger": True, "payload": <payload>}``; the consumer reads it from
    ``triggering_asset_events``. (A real triggerer and scheduler are the deployment tier's.)
    """
    import types

    emu = manual_emulator.emu
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    monkeypatch.setenv("FLOWSERVICE_EXPORT_FLOW_ID", flow_id)
    dag = load_dag("on_export_finished", example="on_export_finished.py")
    consumer = dag.get_task("report_export")
    (asset,) = consumer.inlets  # the asset the DAG is scheduled on
    (watcher,) = asset.watchers
    trigger = restored(watcher.trigger)  # as the triggerer builds it from the serialized DAG
    trigger.poll_interval = POLL

    async def scenario() -> list[dict[str, Any]]:
        watch = Watch(trigger)
        await polls_more(emu, 2)
        emu.clock.advance(3 * HOUR)
        await until(lambda: len(watch.events) >= 3, "three events")
        await polls_more(emu, 3)
        await watch.stop()
        return watch.events

    payloads = asyncio.run(scenario())
    assert [p["run_id"] for p in payloads] == new_runs(flow_id, earlier)  # one DAG run per finished run
    for payload in payloads:
        event = types.SimpleNamespace(extra={"from_trigger": True, "payload": payload})
        metrics = consumer.python_callable(triggering_asset_events=AssetEvents(asset, [event]))
        assert metrics == [payload["metrics"]]
        assert metrics[0]["records_read"] == 60


# -- shared polls -----------------------------------------------------------------------------------------


def change_reads(emu: FlowServiceEmulator, flow_id: str) -> list[Any]:
    """The list calls that read a flow's changed runs (not the one that places a watch's cursor)."""
    return [c for c in list_calls(emu) if f"flowId%3D%3D{flow_id}" in c.query and "orderby=updatedAt" in c.query]


def run_reads(emu: FlowServiceEmulator) -> list[Any]:
    """The run waits' list calls (``property=id==...``)."""
    return [c for c in list_calls(emu) if "property=id%3D%3D" in c.query]


def test_watches_of_one_flow_and_the_loops_run_waits_share_each_round(manual_emulator: ManualEmulator) -> None:
    """Three watches of one flow (as three assets, or three statuses, give) and a run wait on the same
    event loop: each poll round reads the flow's changes once and the waited-for run once."""
    emu = manual_emulator.emu
    hook = FlowServiceHook()
    flow_id = hourly_flow(emu)
    earlier = run_ids(flow_id)
    once_flow = create_table_flow(hook)
    body = hook.client.request(
        "POST",
        "/runs",
        json={
            "flowId": once_flow,
            "params": {"windowStartTime": "0", "windowEndTime": "3600", "deltaColumn": {"name": "u"}},
        },
    )
    waited = str((body.get("items") or [body])[0]["id"])

    async def scenario() -> tuple[list[Watch], dict[str, Any], int, int, int]:
        from airflow_flowservice.runs.poller import RunPoller
        from airflow_flowservice.triggers import FlowServiceRunTrigger

        statuses = (("success",), ("failed",), ("success", "failed"))
        watches = [Watch(FlowServiceRunEventTrigger(flow_id, poll_interval=POLL, statuses=s)) for s in statuses]
        wait = FlowServiceRunTrigger(run_id=waited, end_time=time.time() + 60, poll_interval=POLL)
        waiting = asyncio.ensure_future(anext(aiter(wait.run())))
        await until(lambda: len(change_reads(emu, flow_id)) >= 3, "the watches to read changes")
        poller = await RunPoller.of(FlowServiceHook(), POLL)
        rounds, reads, id_reads = poller.rounds, len(change_reads(emu, flow_id)), len(run_reads(emu))
        await until(lambda: poller.rounds >= rounds + 10, "ten more rounds")
        rounds = poller.rounds - rounds
        reads = len(change_reads(emu, flow_id)) - reads
        id_reads = len(run_reads(emu)) - id_reads
        emu.clock.advance(HOUR)  # a new run of the hourly flow finishes, and so does the waited-for run
        await until(lambda: len(watches[0].events) == 1 and len(watches[2].events) == 1, "the events")
        event = (await waiting).payload
        await polls_more(emu, 2)
        for watch in watches:
            await watch.stop()
        return watches, event, rounds, reads, id_reads

    watches, event, rounds, reads, id_reads = asyncio.run(scenario())
    assert rounds - 1 <= reads <= rounds + 1, f"{reads} reads of the flow's changes in {rounds} rounds"
    assert rounds - 1 <= id_reads <= rounds + 1, f"{id_reads} reads of the waited-for run in {rounds} rounds"
    assert event["status"] == "success" and event["run_id"] == waited
    (new_run,) = new_runs(flow_id, earlier)
    assert [[e["run_id"] for e in w.events] for w in watches] == [[new_run], [], [new_run]]
