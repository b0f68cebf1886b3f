"""Watching finished runs: the journal or polling, and the hand-over from one to the other.

The entry point of :class:`~airflow_flowservice.triggers.FlowServiceRunEventTrigger` (the sources are
described in :mod:`airflow_flowservice.runs.events`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.runs.events import CursorStore, JournalFallback, Source, check_flow_exists, scope_of
from airflow_flowservice.runs.journal_watch import watch_by_journal
from airflow_flowservice.runs.poll_watch import watch_by_polling
from airflow_flowservice.specs import is_destination_flow

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.hooks.flowservice import FlowServiceHook


async def watch_finished_runs(
    hook: FlowServiceHook,
    flow_id: str | None,
    *,
    statuses: Collection[str],
    source: Source = "auto",
    poll_interval: float,
    max_consecutive_failures: int,
    log: logging.Logger | Any,
    store: CursorStore | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield :func:`event_payload` once per run of ``flow_id`` (``None``: every flow of the sandbox) that
    finishes in ``statuses``; forever.

    ``source`` picks the journal or polling (module docstring). Transient errors (5xx, 429, transport,
    after the client's own retries) keep it going; after ``max_consecutive_failures`` of them in a row,
    a poll watch raises :class:`~airflow_flowservice.exceptions.FlowServiceError` and a journal watch falls
    back to polling. Any other error (auth, permission, a flow that does not exist) raises at once.
    """
    creds = await hook.acredentials()
    if source == "journal" and creds.events_journal_url is None:
        raise FlowServiceConfigError(
            f"source: 'journal' needs the connection's extra 'events_journal_url' (connection "
            f"'{hook.flowservice_conn_id}' has none); set it, or use source='auto' or 'poll'"
        )
    flow = await check_flow_exists(hook, flow_id)
    stored = await store.load() if store is not None else None
    journal = creds.events_journal_url if source in ("auto", "journal") else None
    exporting = flow is not None and is_destination_flow(flow)
    if exporting and journal is not None:  # Adobe publishes no run notifications for dataset exports
        if source == "journal":
            raise FlowServiceConfigError(
                f"source: flow {flow_id} is a dataset export, whose runs Adobe I/O Events does not notify; "
                "use source='poll' (or 'auto', which polls it)"
            )
        journal = None
    if journal is not None:
        fallback = JournalFallback()
        async for payload in watch_by_journal(
            hook, journal, flow_id, statuses, poll_interval, max_consecutive_failures, log, store, stored, fallback
        ):
            yield payload
        log.warning(
            "%s: the events journal %s does not answer (%s); watching by polling Flow Service from now on",
            scope_of(flow_id),
            journal,
            fallback.reason,
        )
        stored = fallback.state
    async for payload in watch_by_polling(
        hook, flow_id, statuses, poll_interval, max_consecutive_failures, log, store, stored
    ):
        yield payload
