"""A flow's next run: its first run created at or after a time, read at once or found in the poller's rounds."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow_flowservice.runs.poller import TRANSIENT_ERRORS

if TYPE_CHECKING:
    import logging

    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run
    from airflow_flowservice.run_heads import PolledRun
    from airflow_flowservice.runs.poller import RunPoller


def first_run_created_after(hook: FlowServiceHook, flow_id: str, created_after_ms: int) -> Run | None:
    """The earliest run of ``flow_id`` created at or after ``created_after_ms`` (epoch ms), or ``None`` yet."""
    runs = hook.iter_runs(flow_id, created_since_ms=created_after_ms)
    candidates = [r for r in runs if (r.created_at or 0) >= created_after_ms]
    return min(candidates, key=lambda r: r.created_at or 0) if candidates else None


class _RunFinder:
    """A :class:`~airflow_flowservice.runs.poller.FlowListener` that ends with the first run created at or after a time.

    A run created at or after ``created_after_ms`` is updated at or after it too, so the flow's changes
    since then hold it. Pages come oldest change first: the cursor moves to the last change read, so a
    flow with more than a page of changes is read on, page by page, round by round.
    """

    def __init__(self, flow_id: str, created_after_ms: int, log: logging.Logger | Any) -> None:
        self.flow_id: str | None = flow_id
        self.created_after_ms = created_after_ms
        self._since = created_after_ms
        self.log = log
        self.future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    @property
    def since_ms(self) -> int:
        return self._since

    def offer(self, runs: list[PolledRun]) -> None:
        created = [p.head for p in runs if (p.head.created_at or 0) >= self.created_after_ms]
        if created:
            first = min(created, key=lambda head: head.created_at or 0)
            if not self.future.done():
                self.future.set_result(first.id)
            return
        self._since = max([self._since, *(p.head.updated_at or 0 for p in runs)])

    def fail(self, error: BaseException) -> None:
        if isinstance(error, TRANSIENT_ERRORS):
            self.log.warning("Looking for a run of flow %s failed (%s); looking again", self.flow_id, error)
        elif not self.future.done():
            self.future.set_exception(error)


async def await_run_created_after(
    poller: RunPoller, flow_id: str, created_after_ms: int, end_time: float, log: logging.Logger | Any
) -> str | None:
    """The id of ``flow_id``'s first run created at or after ``created_after_ms`` (epoch ms), or ``None`` at
    ``end_time``."""
    from airflow_flowservice.runs.events import check_flow_exists

    await check_flow_exists(poller.hook, flow_id)  # a flow that does not exist fails now, not at the deadline
    finder = _RunFinder(flow_id, created_after_ms, log)
    loop = asyncio.get_running_loop()
    timer = loop.call_at(loop.time() + max(0.0, end_time - time.time()), _expire, finder.future)
    poller.listen(finder)
    try:
        return await finder.future
    finally:
        timer.cancel()
        poller.unlisten(finder)


def _expire(future: asyncio.Future[str | None]) -> None:
    if not future.done():
        future.set_result(None)
