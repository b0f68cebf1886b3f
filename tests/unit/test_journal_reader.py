"""How many journal reads a round of the shared reader makes (runs/journal.py), against a scripted journal."""

from __future__ import annotations

import asyncio

from airflow_flowservice.exceptions import FlowServiceGoneError
from airflow_flowservice.journal_pages import JournalEvent, JournalPage
from airflow_flowservice.runs.journal import PAGE_LIMIT, JournalReader

JOURNAL = "https://events.test/events/organizations/o/integrations/i/r"


def page(first: int, count: int) -> JournalPage:
    events = [
        JournalEvent(f"p{n}", f"e{n}", "sources_flow_run_success", {"id": f"r{n}"}, {})
        for n in range(first, first + count)
    ]
    last = f"p{first + count - 1}"
    return JournalPage(events, f"{JOURNAL}?since={last}&limit={PAGE_LIMIT}", None, last)


END = JournalPage([], f"{JOURNAL}?since=end&limit={PAGE_LIMIT}", 0.0)


class ScriptedJournal:
    """A hook whose journal answers the given pages, then the end (``204``)."""

    def __init__(self, *pages: JournalPage) -> None:
        self.pages, self.urls = list(pages), []

    async def aread_journal(self, url: str) -> JournalPage:
        self.urls.append(url)
        return self.pages.pop(0) if self.pages else END


class Listener:
    poll_interval = 5.0

    def __init__(self) -> None:
        self.handed: list[int] = []

    def events(self, events: list[JournalEvent], resume_url: str) -> None:
        self.handed.append(len(events))

    def gone(self, error: FlowServiceGoneError) -> None:
        raise AssertionError(error)

    def failed(self, error: Exception) -> None:
        raise AssertionError(error)


def rounds(journal: ScriptedJournal, n: int) -> tuple[list[int], list[int]]:
    """Reads per round and events handed over, for ``n`` rounds of one reader."""

    async def read() -> tuple[list[int], list[int]]:
        reader = JournalReader(journal, JOURNAL)  # type: ignore[arg-type]
        listener = Listener()
        reader._listeners.append(listener)  # listen() would start the reader's own task
        per_round = []
        for _ in range(n):
            before = len(journal.urls)
            await reader._round()
            per_round.append(len(journal.urls) - before)
        return per_round, listener.handed

    return asyncio.run(read())


def test_a_round_with_events_costs_one_read_and_asks_for_a_page_of_the_limit() -> None:
    journal = ScriptedJournal(page(0, 3), page(3, 7))
    per_round, handed = rounds(journal, 3)
    assert per_round == [1, 1, 1]  # no read to reach the 204 after a short page
    assert handed == [3, 7, 0]
    assert journal.urls[0] == f"{JOURNAL}?latest=true&limit={PAGE_LIMIT}"
    assert journal.urls[1:] == [f"{JOURNAL}?since=p2&limit={PAGE_LIMIT}", f"{JOURNAL}?since=p9&limit={PAGE_LIMIT}"]


def test_full_pages_are_read_back_to_back() -> None:
    journal = ScriptedJournal(page(0, PAGE_LIMIT), page(PAGE_LIMIT, PAGE_LIMIT), page(2 * PAGE_LIMIT, 1))
    per_round, handed = rounds(journal, 2)
    assert per_round == [3, 1]  # a backlog in one round; the next round finds the end
    assert handed == [PAGE_LIMIT, PAGE_LIMIT, 1, 0]


def test_a_saved_position_without_a_limit_is_given_one() -> None:
    journal = ScriptedJournal()

    async def read() -> None:
        reader = JournalReader(journal, JOURNAL)  # type: ignore[arg-type]
        reader._listeners.append(Listener())
        reader._starts.append((1.0, f"{JOURNAL}?since=p41"))
        await reader._round()

    asyncio.run(read())
    assert journal.urls == [f"{JOURNAL}?since=p41&limit={PAGE_LIMIT}"]
