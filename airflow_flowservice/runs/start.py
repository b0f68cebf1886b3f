"""Starting a window's on-demand run exactly once.

Flow Service has no idempotency key for ``POST /runs``, so the run of a window is looked up before
it is created, and after a ``POST`` whose outcome is unknown (connection broken after sending, or
5xx) it is looked up again instead of being sent twice. See ``docs/runs.md`` for which cases adopt
an existing run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_flowservice.exceptions import FlowServiceError, FlowServiceServerError, FlowServiceTransportError

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


def find_run_for_window(hook: FlowServiceHook, flow_id: str, window: RunWindow) -> Run | None:
    """The run of ``flow_id`` created for exactly this window (newest if several), or ``None``.

    Pages are read only until it is found: a retried task finds its recent run on the first page.
    """
    for run in hook.iter_runs(flow_id):
        if run.window() == (window.start, window.end):
            return run
    return None


def start_window_run(
    hook: FlowServiceHook,
    flow_id: str,
    window: RunWindow,
    *,
    start_time: int,
    delta_column: dict[str, str] | None = None,
    lookup_attempts: int = 5,
    lookup_delay: float = 1.0,
    post_attempts: int = 5,
) -> StartedRun:
    """Start one on-demand run of ``flow_id`` for ``window``, exactly once.

    A run already created for this flow and window (by a previous try of the task, or a request
    whose response was lost) is adopted instead of starting a second one. When the ``POST /runs``
    outcome is unknown, the run is looked up again ``lookup_attempts`` times; only when no run exists
    is the request sent again (at most ``post_attempts`` sends in all, with backoff), so a task without
    retries survives transient 5xx. The request is never blindly re-sent.
    """
    existing = find_run_for_window(hook, flow_id, window)
    if existing is not None:
        return StartedRun(existing.id, adopted=True, run=existing)
    params: dict[str, Any] = {"startTime": str(start_time), **window.as_params()}
    if delta_column is not None:
        params["deltaColumn"] = delta_column
    for send in range(1, post_attempts + 1):
        try:
            body = hook.client.request("POST", "/runs", json={"flowId": flow_id, "params": params})
            break
        except (FlowServiceTransportError, FlowServiceServerError) as exc:
            if isinstance(exc, FlowServiceTransportError) and not exc.request_sent:
                raise
            log.warning("POST /runs outcome unknown (%s); looking the run up instead of re-sending", exc.message)
            for _ in range(lookup_attempts):
                found = find_run_for_window(hook, flow_id, window)
                if found is not None:
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
    from airflow_flowservice.client import unwrap_items

    # POST /runs is answered bare {id, etag} in the OpenAPI spec and wrapped in items in the on-demand
    # ingestion guide: accept both.
    items = unwrap_items(body)
    if not items or not items[0].get("id"):
        raise FlowServiceError(f"POST /runs answered without a run id: {body!r}")
    return StartedRun(str(items[0]["id"]), adopted=False)
