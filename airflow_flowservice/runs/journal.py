"""One reader per I/O Events journal and event loop: the flow-run notifications every watch and wait share.

A :class:`JournalReader` reads its journal once per interval (the smallest interval its listeners ask
for), follows the ``rel=next`` link of each answer, and waits what a ``204``'s ``retry-after`` says at
the end of the journal; a page that came back full (:data:`PAGE_LIMIT` events) is followed at once (a
backlog after a restart is read in one go), any other ends the round. Every event goes to every
listener, which keeps what concerns it: an event watch of a flow (or of the whole sandbox), or the run
poller of the loop's deferred waits. N listeners over any number of flows cost one journal read per
interval (more only while a backlog fills pages).

Where a reader starts: at the position a listener restored (from the asset state store) when it
joined before the first read (listeners that start together, as after a triggerer restart, join within
the first tenth of an interval), the earliest of them when they differ (listeners drop what they already
handled, by event id); else at the end of the journal (``?latest=true``). A position older than the
journal's retention answers ``410 Gone``: the reader jumps to the end and tells its listeners
(:meth:`JournalListener.gone`), each of which lists from Flow Service what finished in the gap.
Transient errors are handed to the listeners (which fall back to polling after too many in a row);
the reader keeps trying. Its task lives only while someone listens.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from airflow_flowservice.exceptions import FlowServiceError, FlowServiceGoneError
from airflow_flowservice.runs.shared import ListenerContexts, start_shared_task

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.journal_pages import JournalEvent

log = logging.getLogger(__name__)

#: Pages read back to back in one round when they come back full (a backlog), at most.
PAGES_PER_ROUND = 20
#: Events a read asks for (``?limit=``). A page with fewer ends the round: its events are handed over
#: and the next read waits an interval, so a steady journal costs one read per interval (no read
#: to reach the ``204``). The service treats a limit as an upper bound only, so a short page may not
#: be the journal's end: what follows it is read an interval later, not lost.
PAGE_LIMIT = 100


class JournalListener(Protocol):
    """What a :class:`JournalReader` hands its reads to (an event watch, the run poller)."""

    @property
    def poll_interval(self) -> float: ...

    def events(self, events: list[JournalEvent], resume_url: str) -> None:
        """A page's events; ``resume_url`` is where a reader resumes after them (to save once handed over)."""

    def gone(self, error: FlowServiceGoneError) -> None:
        """The position read was past the journal's retention: the reader went on from the end."""

    def failed(self, error: Exception) -> None:
        """A read failed (after the client's retries); the reader tries again next round."""


class JournalReader:
    """Reads one journal for the listeners of one event loop (module docstring).

    :param hook: the hook whose calls the reads make (any hook of the journal's connection).
    :param url: the journal's URL (the connection's extra ``events_journal_url``).
    """

    # Per event loop: journal URL -> reader.
    _registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, JournalReader]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, hook: FlowServiceHook, url: str) -> None:
        self._hook = hook
        self.url = url
        self._listeners: list[JournalListener] = []
        self._contexts = ListenerContexts()  # each listener is called back in its own context
        self._starts: list[tuple[float, str]] = []  # (saved at, resume URL) the listeners restored
        self._next_url: str | None = None
        self._task: asyncio.Task[None] | None = None
        self.reads = 0
        self.rounds = 0

    @classmethod
    def of(cls, hook: FlowServiceHook, url: str) -> JournalReader:
        """The reader of ``url`` on this event loop, created on first use."""
        readers = cls._registry.setdefault(asyncio.get_running_loop(), {})
        reader = readers.get(url)
        if reader is None:
            reader = readers[url] = cls(hook, url)
        return reader

    @property
    def position(self) -> str | None:
        """Where the next read starts (a URL), ``None`` before the first read."""
        return self._next_url

    def listen(self, listener: JournalListener, resume: tuple[float, str] | None = None) -> None:
        """Add ``listener``; ``resume`` is ``(saved at, resume URL)`` it restored, used if no read happened yet."""
        self._listeners.append(listener)
        self._contexts.add(listener)
        if resume is not None and resume[1].startswith(self.url):
            self._starts.append(resume)
        if self._task is None or self._task.done():
            self._task = start_shared_task(self._loop(), name=f"flowservice-journal-{self.url}")

    def unlisten(self, listener: JournalListener) -> None:
        """Remove ``listener``; the reader's task ends with its last listener."""
        if listener in self._listeners:
            self._listeners.remove(listener)
        self._contexts.discard(listener)
        if not self._listeners and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _loop(self) -> None:
        try:
            # Listeners that start together (a triggerer restart) join before the first read.
            await asyncio.sleep(random.uniform(0, self._interval() / 10))
            while self._listeners:
                retry_after = await self._round()
                self.rounds += 1
                await asyncio.sleep(max(self._interval() * random.uniform(1.0, 1.1), retry_after or 0.0))
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    def _interval(self) -> float:
        return min((listener.poll_interval for listener in self._listeners), default=60.0)

    def _start_url(self) -> str:
        if self._next_url is not None:
            return self._next_url
        if self._starts:  # the earliest saved position: nothing any listener had not handled is skipped
            return _limited(min(self._starts)[1])
        return _limited(f"{self.url}?latest=true")

    async def _round(self) -> float | None:
        """Read until the journal's end (at most :data:`PAGES_PER_ROUND` pages); the wait it asked for."""
        for _ in range(PAGES_PER_ROUND):
            url = self._start_url()
            try:
                self.reads += 1
                page = await self._hook.aread_journal(url)
            except FlowServiceGoneError as gone:
                # The end first, then the listeners catch up from Flow Service: a run that ends meanwhile is
                # in the journal after that end, or in their catch-up (each drops what it already reported).
                try:
                    self.reads += 1
                    end = await self._hook.aread_journal(_limited(f"{self.url}?latest=true"))
                except FlowServiceError as error:
                    self._hand("failed", error)
                    return None
                self._next_url = _limited(end.next_url or f"{self.url}?latest=true")
                self._hand("gone", gone)
                return None
            except FlowServiceError as error:
                self._hand("failed", error)
                return None
            resume = _limited(page.next_url or (f"{self.url}?since={page.last}" if page.last else url))
            self._next_url = resume
            self._hand("events", page.events, resume)  # empty too: a listener learns how far the reads got
            if page.retry_after is not None or len(page.events) < PAGE_LIMIT:
                return page.retry_after
        return None

    def _hand(self, method: str, *args: Any) -> None:
        """Call ``method`` on every listener; one that raises is told of it (``failed``), the others go on.

        A listener whose ``failed`` raises too is broken: it is dropped, and the error logged with it.
        """
        for listener in tuple(self._listeners):
            try:
                try:
                    self._contexts.run(listener, method, *args)  # its lines go to its own log
                except Exception as exc:
                    if method == "failed":
                        raise
                    self._contexts.run(listener, "failed", exc)
            except Exception:
                log.exception(
                    "A listener of the events journal %s failed to take a read; it no longer listens", self.url
                )
                self.unlisten(listener)


def _limited(url: str) -> str:
    """``url`` asking for :data:`PAGE_LIMIT` events, unless it sets a ``limit`` (a ``next`` link keeps one)."""
    query = urlsplit(url).query
    if any(part.split("=", 1)[0] == "limit" for part in query.split("&") if part):
        return url
    return f"{url}{'&' if query else '?'}limit={PAGE_LIMIT}"
