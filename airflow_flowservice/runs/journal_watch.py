"""A watch fed by an I/O Events journal: Experience Platform's flow-run notifications, no polling.

The event loop's :class:`~airflow_flowservice.runs.journal.JournalReader` of the connection's journal hands
every page of notifications to every watch (one read per interval, whatever the number of watches and
flows); a :class:`JournalWatch` keeps the finished runs of its flow (or of any flow of the sandbox) in its
statuses. Delivery is at least once and unordered: a notification seen twice (same event id) is reported
once, and a run reported once is not reported again (bounded memories of both, kept with the position).

What is saved in the asset state store (Airflow 3.3+), a round after the runs before it were handed
over: the position to resume the journal from, the update time of the last run handed over (to list
from Flow Service what a lost position would skip), and the last event and run ids handled. A position
past the journal's retention (``410``) makes the reader go on from the end of the journal and this watch
list from Flow Service the runs that finished since its last one (:func:`catch_up`). After too many failed
reads in a row it hands over to polling (:func:`~airflow_flowservice.runs.events.watch_finished_runs`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceGoneError
from airflow_flowservice.runs.events import (
    REMEMBERED,
    CursorStore,
    JournalFallback,
    WatchListener,
    event_payload,
    iso,
    scope_of,
)
from airflow_flowservice.runs.journal import JournalReader
from airflow_flowservice.runs.judge import run_state

#: Seconds after which a watch with nothing to report saves the journal position it has read up to.
SAVE_IDLE_EVERY = 600.0

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.journal_pages import JournalEvent
    from airflow_flowservice.models import Run


class JournalWatch(WatchListener):
    """A :class:`~airflow_flowservice.runs.journal.JournalListener`: the notifications of one watch, not yet
    handed over, and what to save once they are."""

    def __init__(
        self,
        flow_id: str | None,
        sandbox: str,
        statuses: Collection[str],
        poll_interval: float,
        max_failures: int,
        log: Any,
        state: dict[str, Any],
    ) -> None:
        super().__init__(flow_id, statuses, max_failures, log)
        self.sandbox = sandbox
        self.poll_interval = poll_interval
        self.state = state  # what is saved: resume_url, saved_at, since_ms, event_ids, run_ids
        self.ready: list[tuple[Run, str, str]] = []  # (run, event id, resume URL after its page)
        self.read_url: str | None = None  # where the reader resumes after the last page seen
        self.handed_url: str | None = None  # the resume URL after the last run handed over
        self.unsaved = False  # runs were handed over since the last save
        self.gone_since: FlowServiceGoneError | None = None
        self.fell_back: str | None = None  # why the journal was given up

    def events(self, events: list[JournalEvent], resume_url: str) -> None:
        from airflow_flowservice.models import Run

        self.failures = 0
        self.read_url = resume_url
        seen_events, seen_runs = (
            set(self.state["event_ids"]),
            {*self.state["run_ids"], *(r.id for r, _, _ in self.ready)},
        )
        for event in events:
            if event.event_id in seen_events or event.run is None or event.run_id in seen_runs:
                continue
            if self.flow_id is not None and event.flow_id != self.flow_id:
                continue
            if event.run.get("sandboxName", self.sandbox) != self.sandbox:  # the registration may see other sandboxes
                continue
            run = Run.model_validate(event.run)
            if run_state(run.status or _status_of_code(event.code)) not in self.statuses:
                continue
            seen_events.add(event.event_id)
            seen_runs.add(run.id)
            self.ready.append((run, event.event_id, resume_url))
        idle = time.time() - float(self.state["saved_at"]) > SAVE_IDLE_EVERY
        if self.ready or self.unsaved or (idle and resume_url != self.state["resume_url"]):
            self.unsaved = self.unsaved or idle
            self.wake()

    def gone(self, error: FlowServiceGoneError) -> None:
        self.gone_since = error
        self.wake()

    def failed(self, error: Exception) -> None:
        ending = self.count_failure(error, "reading the events journal", "reads of the events journal")
        if ending is not None and ending is not error:  # too many in a row: poll instead
            self.fell_back = str(error)
            self.wake()
        elif ending is not None:
            self.end(ending)


def _status_of_code(code: str) -> str:
    from airflow_flowservice.journal_pages import FAILURE_CODES, SUCCESS_CODES

    return "success" if code in SUCCESS_CODES else "failed" if code in FAILURE_CODES else ""


def restored_state(stored: Any, flow_id: str | None, journal: str) -> dict[str, Any]:
    """The watch's saved state (a poll cursor becomes a catch-up from its time); a fresh one starts from now."""
    fresh: dict[str, Any] = {
        "source": "journal",
        "flow_id": flow_id,
        "resume_url": None,
        "saved_at": time.time(),
        "since_ms": int(time.time() * 1000),
        "event_ids": [],
        "run_ids": [],
    }
    if not isinstance(stored, dict) or stored.get("flow_id") != flow_id:
        return fresh
    if stored.get("source") == "journal" and str(stored.get("resume_url") or "").startswith(journal):
        return {**fresh, **{k: stored[k] for k in fresh if k in stored}}
    if "updated_at" in stored:  # a poll cursor: catch up from its time, then read the journal from its end
        return {**fresh, "since_ms": int(stored["updated_at"]), "run_ids": list(stored.get("handled") or [])}
    return fresh


async def catch_up(hook: FlowServiceHook, watch: JournalWatch, statuses: Collection[str]) -> list[tuple[Run, str]]:
    """The runs of the watch's flow (or sandbox) that finished since ``since_ms`` and were not handled,
    listed from Flow Service, oldest change first (what a lost journal position would have skipped)."""
    found: list[tuple[Run, str]] = []
    since, handled = int(watch.state["since_ms"]), set(watch.state["run_ids"])
    while True:
        runs = await hook.aread_runs(flow_id=watch.flow_id, updated_since_ms=since, orderby="updatedAt")
        newest = since
        for polled in sorted(runs, key=lambda p: p.head.updated_at or 0):
            head = polled.head
            newest = max(newest, head.updated_at or since)
            if head.id in handled or run_state(head.status) not in statuses:
                continue
            handled.add(head.id)
            found.append((polled.run(), f"{head.id}:{run_state(head.status)}"))
        if len(runs) < 100 or newest == since:  # the last page (or a page all at one millisecond)
            return found
        since = newest


async def watch_by_journal(
    hook: FlowServiceHook,
    journal: str,
    flow_id: str | None,
    statuses: Collection[str],
    poll_interval: float,
    max_failures: int,
    log: logging.Logger | Any,
    store: CursorStore | None,
    stored: Any,
    fallback: JournalFallback,
) -> AsyncIterator[dict[str, Any]]:
    """Yield each finished run's payload, from the journal's notifications, until the journal is given up
    (then ``fallback`` says why and holds the state polling goes on from)."""
    state = restored_state(stored, flow_id, journal)
    if stored is None:  # a new watch: the time runs are caught up from (after a 410) is the service's clock
        from airflow_flowservice.runs.poll_watch import start_cursor

        placed = await start_cursor(hook, flow_id)
        state["since_ms"], state["run_ids"] = placed.updated_at, list(placed.handled)
    watch = JournalWatch(flow_id, hook.credentials.sandbox, statuses, poll_interval, max_failures, log, state)
    reader = JournalReader.of(hook, journal)
    resume = (float(state["saved_at"]), str(state["resume_url"])) if state["resume_url"] else None
    log.info(
        "%s: watching the events journal %s, %s",
        scope_of(flow_id),
        journal,
        f"resuming at {state['resume_url']}" if resume else f"for runs finished after {iso(state['since_ms'] / 1000)}",
    )
    if stored is not None and resume is None:  # a poll cursor: what finished since it, from Flow Service
        watch.gone_since = FlowServiceGoneError("the watch resumes from a poll cursor")
    reader.listen(watch, resume)
    try:
        while True:
            if watch.gone_since is None and not watch.ready and watch.fell_back is None:
                await watch.woken()
            if watch.fell_back is not None:
                fallback.reason = watch.fell_back
                fallback.state = {**state, "updated_at": state["since_ms"], "handled": state["run_ids"]}
                return
            batch, watch.ready = watch.ready, []
            if watch.unsaved and store is not None:  # handed over a round ago: Airflow has them
                # With nothing new, everything before the reader's position is done.
                await _save(store, state, watch.handed_url if batch else watch.read_url)
            watch.unsaved = False
            if watch.gone_since is not None:
                log.warning(
                    "%s: the journal position was lost (%s); listing the runs finished since %s from Flow Service",
                    scope_of(flow_id),
                    watch.gone_since,
                    iso(state["since_ms"] / 1000),
                )
                watch.gone_since = None
                for run, event_id in await catch_up(hook, watch, statuses):
                    yield _handed(state, run, event_id, "poll", log)
                    watch.unsaved = True
            for run, event_id, after_page in batch:
                yield _handed(state, run, event_id, "journal", log)
                watch.handed_url, watch.unsaved = after_page, True
    finally:
        reader.unlisten(watch)


def _handed(state: dict[str, Any], run: Run, event_id: str, source: str, log: Any) -> dict[str, Any]:
    """The payload of ``run``, remembered in ``state`` as handled."""
    state["event_ids"] = [*state["event_ids"], event_id][-REMEMBERED:]
    state["run_ids"] = [*state["run_ids"], run.id][-REMEMBERED:]
    state["since_ms"] = max(int(state["since_ms"]), run.updated_at or 0)
    log.info("%s: run %s finished (%s)", scope_of(run.flow_id), run.id, run.status)
    return event_payload(run, event_id=event_id, source=source)


async def _save(store: CursorStore, state: dict[str, Any], resume_url: str | None) -> None:
    if resume_url is not None:
        state["resume_url"] = resume_url
    state["saved_at"] = time.time()
    await store.save(dict(state))
