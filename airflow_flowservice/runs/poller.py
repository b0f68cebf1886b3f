"""The shared reads of an event loop's run waits and flow watches: one poller per client and interval.

Every interval, a :class:`RunPoller` reads all the runs its waits wait for with
``GET /runs?property=id==a,b,c`` (up to 100 ids a call; a comma ORs values, Adobe's "Filter Platform
API responses" page), and, for its flow listeners (event watches, waits for a flow's next run), each
flow's changed runs: one call per flow, however many listeners it has. N waits over F flows cost
``ceil(N / 100) + F`` calls a round.

A triggerer's event loop is shared by every provider's triggers, so the poller does as little per
wait as it can, and never touches the process (no garbage-collector settings):

- a wait is a :class:`RunWatch` registered once: one future for its whole life, set once, when its
  run finished, its deadline came, or an error ended it. A round that finds the run's status
  unchanged allocates nothing for it; a status change or a heartbeat line is logged by the round,
  with the wait's own logger;
- a page of runs is decoded into untracked heads (:mod:`airflow_flowservice.run_heads`); only a
  finished run's document is decoded whole, once;
- at most :data:`CALLS_IN_FLIGHT` calls of a round are in flight at once, each built when sent, so
  the event loop handles a few answers at a time.

Every future a round settles is settled whatever the round raises: an error in one call (building
it, sending it, decoding its answer, handing the runs over) reaches the waits of that call, and an
error outside the calls ends every wait with it. The poller's task lives only while someone waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from airflow_flowservice.exceptions import (
    FlowServiceError,
    FlowServiceNotFoundError,
    FlowServiceRateLimitError,
    FlowServiceServerError,
    FlowServiceTransportError,
)
from airflow_flowservice.hooks.flowservice import RUNS_PAGE_SIZE
from airflow_flowservice.runs.heartbeat import Heartbeat, heartbeat_message
from airflow_flowservice.runs.judge import run_state
from airflow_flowservice.runs.shared import ListenerContexts, registration_context, start_shared_task
from airflow_flowservice.specs import EXPORT_FLOW_SPEC_IDS, is_destination_flow
from airflow_flowservice.ui import run_url

if TYPE_CHECKING:
    from airflow_flowservice.exceptions import FlowServiceGoneError
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.journal_pages import JournalEvent
    from airflow_flowservice.run_heads import PolledRun
    from airflow_flowservice.runs.journal import JournalReader

log = logging.getLogger(__name__)

#: Errors worth polling through (the client already retried them); any other error ends a wait.
TRANSIENT_ERRORS = (FlowServiceServerError, FlowServiceTransportError, FlowServiceRateLimitError)
#: Calls of one round in flight at once: the answers (100 runs each) come back spread out, and the
#: service is never asked for more than this many pages at once by one poller.
CALLS_IN_FLIGHT = 2
#: With an events journal, the waits still pending are polled every this many rounds (the safety poll):
#: a lost notification delays a wait by at most that many intervals, never strands it.
SAFETY_POLL_EVERY = 10
#: Journal reads failing in a row before the waits go back to polling every round.
JOURNAL_FAILURES = 5


class RunWatch:
    """One wait's standing read of ``run_id``, registered with a :class:`RunPoller` until it ends.

    ``future`` is set once: to the finished run (a ``PolledRun``), to ``None`` when ``end_time`` (epoch
    seconds) passed first, or to the error that ended the wait. Until then the poller's rounds log the
    run's status changes and a heartbeat line on ``log``, in ``context`` (the wait's, copied when it
    registered): the triggerer writes them to the wait's task log, not to the poller starter's.
    """

    __slots__ = ("context", "end_time", "future", "heartbeat", "log", "notified", "run_id", "status", "timer")

    def __init__(self, run_id: str, end_time: float, log: logging.Logger | Any, future: asyncio.Future[Any]) -> None:
        self.run_id = run_id
        self.end_time = end_time
        self.log = log
        self.context = registration_context()  # its lines go to its own trigger's log (runs/shared.py)
        self.future = future
        self.status: str | None = None
        self.heartbeat = Heartbeat()
        self.timer: asyncio.TimerHandle | None = None
        self.notified = False  # its run's end comes in the events journal (a source flow's run)

    def end(self, outcome: Any) -> None:
        """Settle the wait with ``outcome`` (an exception is raised to the wait); later calls do nothing."""
        if self.future.done():
            return
        if isinstance(outcome, BaseException):
            self.future.set_exception(outcome)
        else:
            self.future.set_result(outcome)


class FlowListener(Protocol):
    """A reader of one flow's changed runs, fed by the poller's round (an event watch, a wait for a run).

    Each round the poller lists the flow's runs updated at or after the smallest :attr:`since_ms` of its
    listeners (``orderby=updatedAt``, one page) and calls :meth:`offer` on each with that page (its
    own cursor decides what is new to it), or :meth:`fail` with the call's error. ``flow_id`` ``None``
    reads every flow of the sandbox.
    """

    flow_id: str | None

    @property
    def since_ms(self) -> int: ...

    def offer(self, runs: list[PolledRun]) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class RunPoller:
    """Reads every run its waits wait for, each interval, in ``ceil(N / 100)`` calls (module docstring).

    One per event loop, credentials and poll interval: see :meth:`of`.

    :param hook: the hook whose calls the rounds make (any hook of these credentials).
    :param poll_interval: seconds between rounds (each pause up to 10% longer).
    """

    # Per event loop: (the credentials' service key, poll interval) -> poller.
    _registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], RunPoller]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, hook: FlowServiceHook, poll_interval: float) -> None:
        self._hook = hook
        self.poll_interval = poll_interval
        self._watches: dict[str, list[RunWatch]] = {}  # run id -> its waits
        self._listeners: dict[str | None, list[FlowListener]] = {}  # flow id -> its listeners
        self._contexts = ListenerContexts()  # each listener is called back in its own context
        self._task: asyncio.Task[None] | None = None
        self._in_round = False
        self._not_before = 0.0  # event-loop time before which no round starts
        self.rounds = 0
        self.calls = 0
        # With the connection's events journal, waits wake on their run's notification; the runs are polled
        # only when a wait is new, at every SAFETY_POLL_EVERY-th round, and after a lost journal position.
        self._journal: JournalReader | None = None
        self._journal_failures = 0
        self._fresh: set[str] = set()  # run ids waited for since the last read of the waits' runs
        self._notified_flows: dict[str, bool] = {}  # flow id -> whether the journal carries its runs' ends
        self._poll_due = False

    @classmethod
    async def of(cls, hook: FlowServiceHook, poll_interval: float) -> RunPoller:
        """The poller of this event loop for ``hook``'s credentials (org, sandbox, API) and ``poll_interval``."""
        key = ((await hook.acredentials()).service_key, poll_interval)
        pollers = cls._registry.setdefault(asyncio.get_running_loop(), {})
        poller = pollers.get(key)
        if poller is None:
            poller = pollers[key] = cls(hook, poll_interval)
        return poller

    @property
    def hook(self) -> FlowServiceHook:
        """The hook the rounds' calls go through."""
        return self._hook

    @property
    def waiting(self) -> int:
        """How many waits and listeners are registered."""
        return sum(map(len, self._watches.values())) + sum(map(len, self._listeners.values()))

    @property
    def active(self) -> bool:
        """Whether the poller's task exists (it does only while someone waits)."""
        return self._task is not None and not self._task.done()

    # -- registration -------------------------------------------------------------------------------

    def watch(self, run_id: str, end_time: float, log: logging.Logger | Any) -> RunWatch:
        """Register a wait for ``run_id`` until ``end_time`` (epoch seconds).

        Await the watch's ``future``, then :meth:`forget` the watch (also when the wait is cancelled).
        """
        loop = asyncio.get_running_loop()
        watch = RunWatch(run_id, end_time, log, loop.create_future())
        self._watches.setdefault(run_id, []).append(watch)
        watch.timer = loop.call_at(loop.time() + max(0.0, end_time - time.time()), watch.end, None)
        self._fresh.add(run_id)
        self._listen_to_journal()
        self._start(loop)
        return watch

    def forget(self, watch: RunWatch) -> None:
        """Unregister ``watch`` (it ended, or its wait was cancelled)."""
        if watch.timer is not None:
            watch.timer.cancel()
        if not watch.future.done():
            watch.future.cancel()  # nobody awaits it any more (its wait was cancelled): never left pending
        _remove(self._watches, watch.run_id, watch)
        self._stop_if_idle()

    def listen(self, listener: FlowListener) -> None:
        """Register ``listener``: from the next round on, it is offered its flow's changed runs."""
        self._listeners.setdefault(listener.flow_id, []).append(listener)
        self._contexts.add(listener)
        self._start(asyncio.get_running_loop())

    def unlisten(self, listener: FlowListener) -> None:
        """Unregister ``listener``."""
        _remove(self._listeners, listener.flow_id, listener)
        self._contexts.discard(listener)
        self._stop_if_idle()

    def _listen_to_journal(self) -> None:
        url = self._hook.credentials.events_journal_url  # read when the hook made its client: no sync call
        if url is None or self._journal is not None or self._journal_failures >= JOURNAL_FAILURES:
            return
        from airflow_flowservice.runs.journal import JournalReader

        self._journal = JournalReader.of(self._hook, url)
        # The poller listens for every wait: in an empty context, not the first wait's (runs/shared.py).
        contextvars.Context().run(self._journal.listen, self)

    # -- the journal's notifications (a JournalListener) -------------------------------------------

    def events(self, events: list[JournalEvent], resume_url: str) -> None:
        """Wake the waits whose runs the notifications say finished."""
        import json

        from airflow_flowservice.run_heads import decode_run_page

        self._journal_failures = 0
        for event in events:  # (an empty page: the journal answers, nothing ended)
            watches = self._watches.get(event.run_id or "")
            if not watches or event.run is None:
                continue
            (polled,) = decode_run_page(json.dumps({"items": [event.run]}).encode())
            for watch in tuple(watches):
                try:
                    self._news(watch, polled)
                except Exception as exc:  # a wait whose news cannot be handed over ends with why
                    watch.end(exc)

    def gone(self, error: FlowServiceGoneError) -> None:
        """Notifications may be lost with the journal position: poll the waits at the next round."""
        self._poll_due = True

    def failed(self, error: Exception) -> None:
        """A journal read failed; after too many in a row the waits are polled every round again."""
        self._journal_failures += 1
        if self._journal_failures == JOURNAL_FAILURES and self._journal is not None:
            log.warning(
                "The events journal %s failed %d reads in a row (%s): the run waits poll Flow Service every round",
                self._journal.url,
                self._journal_failures,
                error,
            )
            self._journal.unlisten(self)
            self._journal = None
            self._poll_due = True

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.active:
            self._task = start_shared_task(self._loop(), name=f"flowservice-run-poller-{self.poll_interval:g}s")

    def _stop_if_idle(self) -> None:
        if not self._watches and self._journal is not None:
            self._journal.unlisten(self)
            self._journal = None
        # Nobody waits: end the sleeping task now, not at loop close (a round under way ends by itself).
        if not self._watches and not self._listeners and not self._in_round and self._task is not None:
            self._task.cancel()
            self._task = None

    # -- rounds -------------------------------------------------------------------------------------

    async def _loop(self) -> None:
        # The first round comes within a tenth of the interval, so that waits deferred together
        # (a backfill, a triggerer restart) join it; later rounds every interval plus up to 10%,
        # never sooner than that after the last round, even when the task is re-created.
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(max(random.uniform(0, self.poll_interval / 10), self._not_before - loop.time()))
            while self._watches or self._listeners:
                self._in_round = True
                try:
                    await _run_few_at_a_time(self._calls(), CALLS_IN_FLIGHT)
                finally:
                    self._in_round = False
                self.rounds += 1
                self._not_before = loop.time() + self.poll_interval * random.uniform(1.0, 1.1)
                if not self._watches and not self._listeners:
                    return
                await asyncio.sleep(self._not_before - loop.time())
        except asyncio.CancelledError:
            if self._watches or self._listeners:  # cancelled from outside while waited on
                self._end_all(FlowServiceError("the Flow Service run poller was cancelled"))
            raise
        except BaseException as exc:  # a fault outside the calls: no wait is left pending without a round
            self._end_all(FlowServiceError(f"the Flow Service run poller stopped: {type(exc).__name__}: {exc}"))
            raise
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    def _calls(self) -> list[Callable[[], Awaitable[None]]]:
        """This round's calls: the waited-for ids 100 at a time, then one call per listened flow.

        With a journal, only the new waits' runs are read, except at a safety round (every
        :data:`SAFETY_POLL_EVERY` rounds, or after a lost journal position), which reads them all.
        """
        if self._journal is None or self._poll_due or self.rounds % SAFETY_POLL_EVERY == 0:
            ids = list(self._watches)
            self._poll_due = False
        else:  # new waits, and the runs the journal says nothing about (dataset exports)
            ids = [r for r, watches in self._watches.items() if r in self._fresh or not watches[0].notified]
        self._fresh.clear()
        return [
            *(partial(self._read_ids, ids[i : i + RUNS_PAGE_SIZE]) for i in range(0, len(ids), RUNS_PAGE_SIZE)),
            *(partial(self._read_flow, flow_id) for flow_id in list(self._listeners)),
        ]

    async def _read_ids(self, ids: list[str]) -> None:
        """One call for up to 100 ids; every wait of these ids gets its run's news, or the call's error."""
        try:
            self.calls += 1
            found = {polled.head.id: polled for polled in await self._hook.aread_runs(run_ids=ids)}
        except Exception as exc:
            for run_id in ids:
                for watch in tuple(self._watches.get(run_id, ())):
                    self._failed(watch, exc)
            return
        for run_id in ids:
            polled = found.get(run_id)
            for watch in tuple(self._watches.get(run_id, ())):
                try:
                    if polled is None:
                        watch.end(FlowServiceNotFoundError(f"run {run_id} was not found", status=404))
                    else:
                        self._news(watch, polled)
                except Exception as exc:  # a wait whose news cannot be handed over ends with why
                    watch.end(exc)
        if self._journal is not None:
            await self._learn_notified(found.values())

    async def _learn_notified(self, runs: Any) -> None:
        """Mark the waits whose runs' ends the journal carries (source flows), reading each new flow once."""
        for polled in runs:
            flow_id = polled.head.flow_id
            if flow_id is None:
                continue
            notified = self._notified_flows.get(flow_id)
            if notified is None:
                try:
                    flow = await self._hook.aget_flow(flow_id)
                except Exception as exc:  # unknown: keep polling the waits of this flow, and say why
                    log.warning(
                        "Flow %s: could not tell whether its runs are notified (%s); polling them", flow_id, exc
                    )
                    notified = False
                else:
                    notified = self._notified_flows[flow_id] = not is_destination_flow(flow)
            for watch in self._watches.get(polled.head.id, ()):
                watch.notified = notified

    def _news(self, watch: RunWatch, polled: PolledRun) -> None:
        """Log a status change (or a due heartbeat) on the wait's logger; end the wait when its run finished."""
        head = polled.head
        status = head.status
        if status != watch.status:
            watch.context.run(watch.log.info, "Run %s status: %s", head.id, status or "unknown")
            watch.status = status
            watch.heartbeat.status_changed()
        elif watch.heartbeat.due():
            creds = self._hook.credentials  # read when the async client was made: no sync call here
            url = (
                run_url(
                    creds.org_id,
                    creds.sandbox,
                    head.flow_id,
                    head.id,
                    tenant=creds.ui_tenant,
                    destination=head.flow_spec_id in EXPORT_FLOW_SPEC_IDS,
                )
                if head.flow_id
                else None
            )
            watch.context.run(
                watch.log.info, "%s", heartbeat_message(head, watch.heartbeat.started, watch.end_time, url)
            )
        if run_state(status) != "running":
            watch.end(polled)

    def _failed(self, watch: RunWatch, error: Exception) -> None:
        """A call for ``watch``'s run failed: a transient error is logged (the next round reads again)."""
        if isinstance(error, TRANSIENT_ERRORS):
            watch.context.run(watch.log.warning, "Polling run %s failed (%s); polling again", watch.run_id, error)
        else:
            watch.end(error)

    async def _read_flow(self, flow_id: str | None) -> None:
        """One call for every listener of ``flow_id``: its runs changed since the earliest listener's cursor."""
        listeners = tuple(self._listeners.get(flow_id, ()))
        if not listeners:
            return
        try:
            self.calls += 1
            runs = await self._hook.aread_runs(
                flow_id=flow_id, updated_since_ms=min(listener.since_ms for listener in listeners), orderby="updatedAt"
            )
        except Exception as exc:
            for listener in listeners:
                self._hand_over(listener, "fail", exc)
            return
        for listener in listeners:
            self._hand_over(listener, "offer", runs)

    def _hand_over(self, listener: FlowListener, method: str, value: Any) -> None:
        """``listener.<method>(value)`` in the listener's context; when it raises, the listener fails instead."""
        try:
            self._contexts.run(listener, method, value)
        except Exception as exc:
            self._contexts.run(listener, "fail", exc)

    def _end_all(self, error: BaseException) -> None:
        for watches in list(self._watches.values()):
            for watch in watches:
                watch.end(error)
        for listeners in list(self._listeners.values()):
            for listener in listeners:
                with contextlib.suppress(Exception):  # the error is already the listener's
                    self._contexts.run(listener, "fail", error)


def _remove(table: dict[Any, list[Any]], key: Any, item: Any) -> None:
    entries = table.get(key)
    if entries is not None and item in entries:
        entries.remove(item)
        if not entries:
            del table[key]


async def _run_few_at_a_time(calls: list[Callable[[], Awaitable[None]]], at_once: int) -> None:
    """Await every call, at most ``at_once`` at a time, each started only when a slot is free.

    Started late, a call also builds its request late: a round of 10,000 ids does not prepare its
    100 requests in one pause of the event loop.
    """
    queue = iter(calls)
    errors: list[Exception] = []

    async def worker() -> None:
        for call in queue:  # the workers share the iterator: each takes the next call
            try:
                await call()
            except Exception as exc:  # the round goes on; the first error is raised once all calls ended
                errors.append(exc)

    await asyncio.gather(*(worker() for _ in range(min(at_once, len(calls)))))
    if errors:
        raise errors[0]
