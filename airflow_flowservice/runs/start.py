"""Starting a window's on-demand run exactly once.

Flow Service has no idempotency key for ``POST /runs``, so the run of a window is looked up before
it is created, and after a ``POST`` whose outcome is unknown (connection broken after sending, or
5xx) it is looked up again instead of being sent twice. See ``docs/runs.md`` for which cases adopt
an existing run.

Two tasks on different workers can both find no run and both ``POST``: nothing a task can reach makes
the look-up and the ``POST`` atomic (``docs/runs.md``: a one-slot Airflow pool per flow prevents it,
in the scheduler). After the ``POST``, a check of the window's runs detects it
(:func:`check_single_run`), so a duplicate never passes silently.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow_flowservice.exceptions import (
    FlowServiceDuplicateRunsError,
    FlowServiceError,
    FlowServiceNotFoundError,
    FlowServiceServerError,
    FlowServiceTransportError,
)
from airflow_flowservice.hooks.flowservice import RUNS_PAGE_SIZE

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook
    from airflow_flowservice.models import Run
    from airflow_flowservice.runs.windows import RunWindow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedRun:
    """The run of a window: started now, or adopted (``run`` is the document read when adopted)."""

    run_id: str
    adopted: bool
    run: Run | None = None


# A run of window [s, e) is created after e (the window must have ended, see ``resolve_window``), by
# the service's clock: look-ups start this long before e, or before the POST, for clock skew.
CLOCK_SKEW_MS = 15 * 60 * 1000


class RunMemory(Protocol):
    """Where a task remembers the run it started, across its tries (Airflow's task state store)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> Any: ...


def memory_key(flow_id: str, window: RunWindow) -> str:
    """The key a window's run id is remembered under (one task may start runs of several flows)."""
    return f"flowservice_run:{flow_id}:{window.start}-{window.end}"


def find_run_for_window(
    hook: FlowServiceHook,
    flow_id: str,
    window: RunWindow,
    *,
    created_since_ms: int | None = None,
    one_page: bool = False,
) -> Run | None:
    """The run of ``flow_id`` created for exactly this window (newest if several), or ``None``.

    Reads only runs created at or after ``created_since_ms`` (``property=createdAt>=``; default: the
    window's end minus :data:`CLOCK_SKEW_MS`, before which no run of the window can exist), newest
    first, and stops at the first match, or after one page when ``one_page``.
    """
    since = window.end * 1000 - CLOCK_SKEW_MS if created_since_ms is None else created_since_ms
    runs = hook.iter_runs(flow_id, created_since_ms=since)
    for run in itertools.islice(runs, RUNS_PAGE_SIZE) if one_page else runs:
        if run.window() == (window.start, window.end):
            return run
    return None


def _remembered_run(hook: FlowServiceHook, flow_id: str, window: RunWindow, memory: RunMemory) -> Run | None:
    """The run remembered for this window, read with one ``GET /runs/{id}``, if it still exists."""
    run_id = memory.get(memory_key(flow_id, window))
    if not run_id:
        return None
    try:
        run = hook.get_run(str(run_id))
    except FlowServiceNotFoundError:
        log.warning("Run %s remembered for this window no longer exists; looking the window up", run_id)
        return None
    if run.flow_id not in (None, flow_id) or run.window() != (window.start, window.end):
        return None
    return run


def start_window_run(
    hook: FlowServiceHook,
    flow_id: str,
    window: RunWindow,
    *,
    start_time: int,
    delta_column: dict[str, str] | None = None,
    first_try: bool = False,
    memory: RunMemory | None = None,
    lookup_attempts: int = 5,
    lookup_delay: float = 1.0,
    post_attempts: int = 5,
) -> StartedRun:
    """Start one on-demand run of ``flow_id`` for ``window``, exactly once.

    A run already created for this flow and window (by a previous try of the task, or a request
    whose response was lost) is adopted instead of starting a second one. When the ``POST /runs``
    outcome is unknown, the run is looked up again ``lookup_attempts`` times; only when no run exists
    is the request sent again (at most ``post_attempts`` sends in all, with backoff), so a task without
    retries survives transient 5xx. The request is never blindly re-sent. How far back each look-up
    reads (``docs/runs.md``):

    - the run remembered in ``memory`` (Airflow's task state store, kept across the tries and clears
      of a task in one DAG run) is read with one ``GET /runs/{id}``, no listing;
    - else the runs created since the window ended are listed: only their newest page when
      ``first_try`` (no earlier try of this task can have made a run: a new window costs one page
      whatever the flow's history), all of them otherwise;
    - after a ``POST`` whose answer was lost, the runs created since just before that ``POST``.

    :param first_try: the caller knows this is the task's first try in its DAG run.
    :param memory: where the run id is remembered (``get``/``set``), e.g. ``context["task_state_store"]``.
    """
    existing = _remembered_run(hook, flow_id, window, memory) if memory is not None else None
    if existing is None:
        existing = find_run_for_window(hook, flow_id, window, one_page=first_try)
    if existing is not None:
        _remember(memory, flow_id, window, existing.id)
        return StartedRun(existing.id, adopted=True, run=existing)
    params: dict[str, Any] = {"startTime": str(start_time), **window.as_params()}
    if delta_column is not None:
        params["deltaColumn"] = delta_column
    posted_ms = int(time.time() * 1000)  # before the first send: a look-up reads the runs created since
    for send in range(1, post_attempts + 1):
        try:
            run_id = hook.post_run(flow_id, params)
            break
        except (FlowServiceTransportError, FlowServiceServerError) as exc:
            if isinstance(exc, FlowServiceTransportError) and not exc.request_sent:
                raise
            log.warning("POST /runs outcome unknown (%s); looking the run up instead of re-sending", exc.message)
            for _ in range(lookup_attempts):
                found = find_run_for_window(hook, flow_id, window, created_since_ms=posted_ms - CLOCK_SKEW_MS)
                if found is not None:
                    _remember(memory, flow_id, window, found.id)
                    return StartedRun(found.id, adopted=True, run=found)
                time.sleep(lookup_delay)
            if send == post_attempts:
                raise FlowServiceError(
                    f"POST /runs for flow {flow_id} window {window.start}..{window.end} failed {send} times (last: "
                    f"{exc.message}) and no run exists for that window; retrying the task is safe (it looks the "
                    "run up before creating one)",
                    status=exc.status,
                    code=exc.code,
                    request_id=exc.request_id,
                ) from None
            # The look-up confirmed that no run exists: sending again cannot start a second one.
            delay = min(30.0, lookup_delay * 2 ** (send - 1))
            log.warning("No run exists for the window: sending POST /runs again in %.1fs (send %d)", delay, send + 1)
            time.sleep(delay)
    check_single_run(hook, flow_id, window, run_id)  # before remembering: a cleared task must not adopt one of two
    _remember(memory, flow_id, window, run_id)
    return StartedRun(run_id, adopted=False)


def _remember(memory: RunMemory | None, flow_id: str, window: RunWindow, run_id: str) -> None:
    if memory is not None:
        memory.set(memory_key(flow_id, window), run_id)


def window_runs(hook: FlowServiceHook, flow_id: str, window: RunWindow, *, limit: int = RUNS_PAGE_SIZE) -> list[Run]:
    """The runs of ``window`` among the flow's newest ``limit`` runs (one page), newest first.

    A concurrent task's run of the window was created moments before or after this task's: it is there.
    """
    return [
        run for run in itertools.islice(hook.iter_runs(flow_id), limit) if run.window() == (window.start, window.end)
    ]


def duplicate_runs_error(flow_id: str, window: RunWindow, ids: list[str]) -> FlowServiceDuplicateRunsError:
    """The error of a window with more than one run, naming every run and how to prevent it."""
    return FlowServiceDuplicateRunsError(
        f"flow {flow_id} has {len(ids)} runs for window {window.start}..{window.end}: {', '.join(ids)}. Two "
        "tasks started this window concurrently (Flow Service cannot cancel a run); check which data was "
        "ingested twice. To prevent it, run every task that starts this flow's runs in one Airflow pool of one "
        "slot (docs/runs.md)",
        run_ids=ids,
    )


def check_single_run(
    hook: FlowServiceHook, flow_id: str, window: RunWindow, run_id: str, *, limit: int = RUNS_PAGE_SIZE
) -> None:
    """Raise :class:`FlowServiceDuplicateRunsError` when ``window`` has another run than ``run_id``.

    Reads the flow's newest ``limit`` runs (one page, :func:`window_runs`). Of two tasks that both posted,
    the later one always sees both runs here; the earlier one learns it while it waits in the worker
    (:func:`~airflow_flowservice.runs.poll.poll_in_worker` reads the window's runs).
    """
    ids = [run.id for run in window_runs(hook, flow_id, window, limit=limit)]
    if run_id not in ids:
        ids.append(run_id)
    if len(ids) > 1:
        raise duplicate_runs_error(flow_id, window, ids)
