"""The runs resource: flow runs (``/runs``), the per-flow run indexes, and the runs schedules create.

Runs are indexed per flow by creation time and by start time, so a page of one flow's runs and a
flow's ``lastRunDetails`` cost a slice or a bisection whatever the flow's history. The runs store
reads flows only as :class:`.flows.FlowFacts`; a first run's ``deltaColumn`` is written into the flow
through the flows store. Runs finish lazily (on read, by the emulator clock); :meth:`RunStore.take_finished`
hands the events store every run finished since its last call, in completion order.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from ..errors import FlowServiceError, invalid_request, not_found
from ..query import ListQuery, apply_query, page_body, page_of, parse_list_query
from ..state import Caller, EmulatorState, PerSandbox, SandboxKey
from .flows import FlowFacts, FlowStore
from .run_documents import record_count, render_run, run_etag, run_phase, run_status
from .run_outcomes import OutcomePlan
from .schedules import MAX_SCHEDULED_PER_READ, first_due, parse_epoch_seconds

#: ``(sort key ms, seq, run id)``: an entry of a flow's run index
IndexEntry = tuple[int, int, str]


@dataclass
class RunTables:
    """The runs of one sandbox, and their indexes."""

    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: flow id -> ``(createdAt, seq, run id)`` of its runs, ascending: a page of one flow's runs is a
    #: slice of this list, whatever the number of runs
    by_flow: dict[str, list[IndexEntry]] = field(default_factory=dict)
    #: flow id -> ``(start ms, seq, run id)`` of its runs, ascending: the flow's ``lastRunDetails`` is
    #: the last entry that has started, found by bisection, whatever the number of runs
    by_start: dict[str, list[IndexEntry]] = field(default_factory=dict)
    #: flow id -> next schedule boundary (epoch seconds) to materialise
    next_due: dict[str, int] = field(default_factory=dict)

    def add(self, run: dict[str, Any]) -> None:
        """Store a run and index it by flow and creation time."""
        self.runs[run["id"]] = run
        bisect.insort(self.by_flow.setdefault(run["flowId"], []), (run["createdAt"], run["_seq"], run["id"]))
        bisect.insort(self.by_start.setdefault(run["flowId"], []), (run["_startMs"], run["_seq"], run["id"]))

    def drop(self, run_id: str) -> None:
        """Forget a run (as if Flow Service had purged it)."""
        run = self.runs.pop(run_id)
        self.by_flow[run["flowId"]].remove((run["createdAt"], run["_seq"], run_id))
        self.by_start[run["flowId"]].remove((run["_startMs"], run["_seq"], run_id))

    def last_started(self, flow_id: str, now_ms: int) -> dict[str, Any] | None:
        """The flow's run with the latest start at or before ``now_ms`` (ties: the last created), if any."""
        index = self.by_start.get(flow_id)
        if not index:
            return None
        pos = bisect.bisect_right(index, (now_ms, math.inf))
        return self.runs[index[pos - 1][2]] if pos else None


class _NewestFirst(Sequence[str]):
    """Run ids of ``index[start:end]`` newest first, without copying the slice (a page reads 100 of them)."""

    def __init__(self, index: list[tuple[int, int, str]], start: int, end: int) -> None:
        self._index, self._start, self._end = index, start, end

    def __len__(self) -> int:
        return self._end - self._start

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._index[self._end - 1 - i][2]


def indexed_run_ids(tables: RunTables, q: ListQuery) -> Sequence[str] | None:
    """Ids of the runs a list query selects, newest first, read from the flow index; ``None`` if it cannot.

    Serves the queries that select by ``flowId==`` or ``id==`` (values OR-ed), optionally narrowed by
    ``createdAt`` comparisons, in the default order (``-createdAt``): a page then costs a slice of
    one flow's index, not a filter and sort of every run. Any other query takes the general path.
    """
    if q.orderby not in (None, "-createdAt"):
        return None
    flows: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    lo, hi = -math.inf, math.inf  # createdAt in [lo, hi]
    for flt in q.filters:
        if flt.field == "flowId" and flt.op == "==" and flows is None:
            flows = flt.values
        elif flt.field == "id" and flt.op == "==" and ids is None:
            ids = flt.values
        elif flt.field == "createdAt" and flt.op in (">", ">=", "<", "<=") and len(flt.values) == 1:
            try:
                value = float(flt.values[0])
            except ValueError:
                return None
            if flt.op == ">=":
                lo = max(lo, math.ceil(value))
            elif flt.op == ">":
                lo = max(lo, math.floor(value) + 1)
            elif flt.op == "<=":
                hi = min(hi, math.floor(value))
            else:
                hi = min(hi, math.ceil(value) - 1)
        else:
            return None
    if ids is not None:
        wanted_flows = {f.lower() for f in flows} if flows is not None else None
        keys = [
            (run["createdAt"], run["_seq"], run["id"])
            for run in (tables.runs.get(i) for i in dict.fromkeys(ids))
            if run is not None and (wanted_flows is None or run["flowId"].lower() in wanted_flows)
        ]
        keys = [k for k in keys if lo <= k[0] <= hi]
    elif flows is not None:
        keys = []
        for flow_id in dict.fromkeys(flows):
            index = tables.by_flow.get(flow_id) or tables.by_flow.get(flow_id.lower()) or []
            start = 0 if lo == -math.inf else bisect.bisect_left(index, (int(lo),))
            end = len(index) if hi == math.inf else bisect.bisect_left(index, (int(hi) + 1,))
            if len(flows) == 1:
                return _NewestFirst(index, start, end)
            keys.extend(index[start:end])
    else:
        return None
    keys.sort(reverse=True)
    return [k[2] for k in keys]


def _flow_id_of(body: Any) -> str:
    if not isinstance(body, dict) or not body:
        raise invalid_request(
            "1405-400",
            "The request body cannot be null or empty. Please provide a request body and try again.",
        )
    flow_id = body.get("flowId")
    if not isinstance(flow_id, str) or not flow_id:
        raise invalid_request(
            "1446-400", "The flow ID cannot be null or empty. Please update the flow ID and try again."
        )
    return flow_id


def _check_runnable(flow: FlowFacts) -> None:
    """On-demand runs: only of an enabled flow scheduled ``once``."""
    if flow.state == "draft":
        raise FlowServiceError(
            "1380-400",
            "Bad Request",
            f"Failed to create flow run. Error message: the flow {flow.id} is in draft state; "
            "publish it "
            f"(POST /flows/{flow.id}/action?op=publish) before creating runs.",
        )
    if flow.state != "enabled":
        raise FlowServiceError(
            "1380-400",
            "Bad Request",
            f"Failed to create flow run. Error message: the flow {flow.id} is in state "
            f"{flow.state}; "
            "enable it before creating runs.",
        )
    if flow.frequency.lower() != "once":
        raise FlowServiceError(
            "1386-400",
            "Bad Request",
            f"The flowId={flow.id} with scheduleParams frequency={flow.frequency or None} is not "
            "supported for "
            "creating flow runs. Please provide a valid frequency and try again.",
        )


def _bad_params(params: Any) -> FlowServiceError:
    return FlowServiceError(
        "1384-400",
        "Bad Request",
        f"The params={params} provided for creating flow run are invalid or empty. Please provide valid "
        "params "
        "(windowStartTime, windowEndTime and startTime as epoch seconds) and try again.",
    )


def _run_params(params: Any) -> tuple[tuple[int, int], int | None, dict[str, Any] | None]:
    """``(window, startTime, deltaColumn)`` of ``POST /runs`` params (epoch seconds, integers or strings)."""
    if not isinstance(params, dict) or not params:
        raise _bad_params(params)
    win_start = parse_epoch_seconds(params.get("windowStartTime"))
    win_end = parse_epoch_seconds(params.get("windowEndTime"))
    start_time = params.get("startTime")
    start_s = parse_epoch_seconds(start_time) if start_time is not None else None
    if win_start is None or win_end is None or (start_time is not None and start_s is None):
        raise _bad_params(params)
    if win_end < win_start:
        raise FlowServiceError(
            "1381-400",
            "Bad Request",
            f"WindowEndTime={win_end} cannot be before Window StartTime={win_start}. Please provide "
            "a valid "
            "end time and try again.",
        )
    delta = params.get("deltaColumn")
    if delta is not None and (not isinstance(delta, dict) or not delta.get("name")):
        raise _bad_params(params)
    return (win_start, win_end), start_s, delta


class RunStore:
    """Runs per sandbox. Every public method holds the shared lock."""

    def __init__(self, state: EmulatorState, flows: FlowStore, run_timeline: tuple[float, float] = (1.0, 2.0)) -> None:
        self.state = state
        self.flows = flows
        #: ``(a, b)``: a run turns ``inProgress`` ``a`` seconds after creation and finishes after ``b``
        self.run_timeline = run_timeline
        self.outcomes = OutcomePlan()
        #: how ``POST /runs`` answers: ``"bare"`` ``{id, etag}`` (the OpenAPI spec) or ``"items"``
        #: ``{"items": [{id, etag}]}`` (Adobe's on-demand ingestion guide)
        self.create_envelope = "bare"
        self._tables: PerSandbox[RunTables] = PerSandbox(state, RunTables)
        #: ``(noticed at ms, seq, sandbox, run id)`` of the runs not yet handed to :meth:`take_finished`
        self._finishing: list[tuple[int, int, SandboxKey, str]] = []

    def tables(self, key: SandboxKey) -> RunTables:
        """The runs of a sandbox and their indexes (tests look at them)."""
        with self.state.lock:
            return self._tables[key]

    # ---- what the flows store asks (FlowRuns) ----------------------------------------------------

    def catch_up(self, key: SandboxKey) -> None:
        """Create the runs of recurring flows that are due at the current emulator time."""
        with self.state.lock:
            tables = self._tables[key]
            now = self.state.clock.now()
            for flow_id, due in list(tables.next_due.items()):
                flow = self.flows.facts(key, flow_id)
                if flow is None or flow.state != "enabled" or flow.schedule is None:
                    tables.next_due.pop(flow_id, None)
                    continue
                _, interval = flow.schedule
                if due > now:
                    continue
                pending = int((now - due) // interval) + 1
                if pending > MAX_SCHEDULED_PER_READ:
                    due += (pending - MAX_SCHEDULED_PER_READ) * interval
                while due <= now:
                    self._new_run(
                        key,
                        flow,
                        created_ms=due * 1000,
                        window=(due - interval, due),
                        params={"windowStartTime": due - interval, "windowEndTime": due},
                        client_id="acp_foundation_connectors",
                        start_s=None,
                    )
                    due += interval
                tables.next_due[flow_id] = due

    def last_run_details(self, key: SandboxKey, flow_id: str) -> dict[str, Any] | None:
        with self.state.lock:
            now_ms = self.state.clock.now_ms()
            latest = self._tables[key].last_started(flow_id, now_ms)
            if latest is None:
                return None
            details: dict[str, Any] = {
                "id": latest["id"],
                "state": run_status(latest, now_ms),
                "startedAtUTC": latest["_startMs"],
            }
            if run_phase(latest, now_ms) == "done":
                details["completedAtUTC"] = latest["_endMs"]
            return details

    def reschedule(self, key: SandboxKey, flow_id: str) -> None:
        with self.state.lock:
            tables = self._tables[key]
            tables.next_due.pop(flow_id, None)
            flow = self.flows.facts(key, flow_id)
            if flow is None or flow.state != "enabled" or flow.schedule is None:
                return
            start, interval = flow.schedule
            tables.next_due[flow_id] = first_due(start, interval, self.state.clock.now())

    # ---- endpoints -------------------------------------------------------------------------------

    def retrieve(self, caller: Caller, run_id: str) -> dict[str, Any]:
        with self.state.lock:
            self.catch_up(caller.key)
            run = self._tables[caller.key].runs.get(run_id)
            if run is None:
                raise not_found("runs", run_id)
            return {"items": [self._document(run, self.state.clock.now_ms())]}

    def list_runs(self, caller: Caller, params: list[tuple[str, str]]) -> dict[str, Any]:
        q = parse_list_query(params)
        with self.state.lock:
            self.catch_up(caller.key)
            tables = self._tables[caller.key]
            now_ms = self.state.clock.now_ms()
            indexed = indexed_run_ids(tables, q)
            if indexed is not None:
                if q.count:
                    return {"count": len(indexed)}
                page = [self._document(tables.runs[i], now_ms) for i in page_of(indexed, q)]
                return page_body(page, q, "runs", more=q.offset + q.limit < len(indexed))
            runs: list[dict[str, Any]] = list(tables.runs.values())
            # Cheap pre-selection on flowId== (runs of one flow); the full filter runs after rendering.
            for flt in q.filters:
                if flt.field == "flowId" and flt.op == "==":
                    wanted = {v.lower() for v in flt.values}
                    runs = [r for r in runs if str(r.get("flowId", "")).lower() in wanted]
            items = [{**self._document(run, now_ms), "_seq": run["_seq"]} for run in runs]
        aliases = {"state": "metrics.statusSummary.status"}
        body = apply_query(items, q, "runs", aliases=aliases, seq=lambda it: int(it.get("_seq", 0)))
        for it in body.get("items", []):
            it.pop("_seq", None)
        return body

    def create(self, caller: Caller, body: Any) -> dict[str, Any]:
        """``POST /runs``: an on-demand run of a flow for a window."""
        flow_id = _flow_id_of(body)
        with self.state.lock:
            self.catch_up(caller.key)
            flow = self.flows.facts(caller.key, flow_id)
            if flow is None:
                raise not_found("flows", flow_id)
            _check_runnable(flow)
            params = body.get("params")
            window, start_s, delta = _run_params(params)
            self._check_delta_column(caller, flow, delta)
            now_ms = self.state.clock.now_ms()
            run = self._new_run(
                caller.key,
                flow,
                created_ms=now_ms,
                window=window,
                params=copy.deepcopy(params),
                client_id=caller.client_id,
                start_s=start_s,
            )
            created = {"id": run["id"], "etag": run_etag(run, now_ms)}
            return {"items": [created]} if self.create_envelope == "items" else created

    def _check_delta_column(self, caller: Caller, flow: FlowFacts, delta: dict[str, Any] | None) -> None:
        """Table-based sources: the first run names the ``deltaColumn`` (written into the flow), later ones match it."""
        if not self.flows.needs_delta_column(caller.key, flow.id):
            return
        current = flow.delta_column
        if current is None:
            if delta is None:
                raise FlowServiceError(
                    "1383-400",
                    "Bad Request",
                    "The delta column is missing in the params received for creating a flow run. "
                    "Please "
                    "provide delta column in params and try again.",
                )
            self.flows.record_delta_column(caller, flow.id, delta)
        elif delta is not None and str(delta.get("name")) != str(current.get("name")):
            raise FlowServiceError(
                "1382-400",
                "Bad Request",
                "The delta column should match the value present in the flow's Copy transformations. "
                "Please "
                f"provide a valid delta column and try again (flow has {current.get('name')!r}, "
                f"got {delta.get('name')!r}).",
            )

    def action(self, caller: Caller, run_id: str, op: str | None, if_match: str | None) -> dict[str, Any]:
        """``POST /runs/{id}/action?op=RE_TRIGGER``: a new run of the same window, if the run may be re-triggered."""
        op_norm = (op or "").strip().lower().replace("-", "_")
        with self.state.lock:
            self.catch_up(caller.key)
            run = self._tables[caller.key].runs.get(run_id)
            if run is None:
                raise not_found("runs", run_id)
            if op_norm != "re_trigger":
                raise invalid_request(
                    "1401-400",
                    f"The provided flow run action={op} is not supported. Please provide a valid flow run "
                    "action "
                    "(RE_TRIGGER) and try again.",
                )
            now_ms = self.state.clock.now_ms()
            self._check_run_etag(run, if_match, now_ms)
            flow = self._retriggerable_flow(caller.key, run, now_ms)
            new = self._new_run(
                caller.key,
                flow,
                created_ms=now_ms,
                window=run["_window"],
                params=copy.deepcopy(run.get("params") or {}),
                client_id=caller.client_id,
                start_s=None,
                parent=run_id,
            )
            return {"id": new["id"], "etag": run_etag(new, now_ms)}

    @staticmethod
    def _check_run_etag(run: dict[str, Any], if_match: str | None, now_ms: int) -> None:
        etag = run_etag(run, now_ms)
        if if_match and if_match.strip() not in (etag, "*"):
            raise FlowServiceError(
                "1404-412",
                "Version not matching",
                f"The supplied version {if_match} does not match the current version on entity {etag}.",
                error_message=(
                    f"Supplied version=[{if_match.strip()}] does not match the current version on entity=[{etag}]"
                ),
            )

    def _retriggerable_flow(self, key: SandboxKey, run: dict[str, Any], now_ms: int) -> FlowFacts:
        """The flow of a run that may be re-triggered: failed, or success with zero records; flow enabled."""
        status = run_status(run, now_ms)
        zero_records = status == "success" and record_count(*run["_window"]) == 0
        if status != "failed" and not zero_records:
            raise FlowServiceError(
                "1387-400",
                "Bad Request",
                f"The flowRunId={run['id']} is in an invalid state={status} for re-triggering. Only failed "
                "runs and "
                "successful runs that ingested zero records can be re-triggered.",
            )
        flow = self.flows.facts(key, run["flowId"])
        if flow is None or flow.state != "enabled":
            state = flow.state if flow is not None else "deleted"
            raise FlowServiceError(
                "1388-400",
                "Bad Request",
                f"The flow={run['flowId']} is in state={state} and cannot be re-triggered. The flow must "
                "be in "
                "enabled state for re-triggering.",
            )
        return flow

    # ---- control ---------------------------------------------------------------------------------

    def seed(
        self,
        key: SandboxKey,
        flow_id: str,
        windows: list[tuple[int, int]],
        *,
        lag_s: int = 60,
        created_from_ms: int | None = None,
    ) -> list[str]:
        """Past, finished runs of a flow, one per window, each created ``lag_s`` after its window ended.

        With ``created_from_ms``, the k-th run is created at ``created_from_ms + k`` instead.
        """
        with self.state.lock:
            flow = self.flows.facts(key, flow_id)
            if flow is None:
                raise not_found("flows", flow_id)
            ids = []
            for k, (start, end) in enumerate(windows):
                params = {"startTime": str(end + lag_s), "windowStartTime": str(start), "windowEndTime": str(end)}
                created = (end + lag_s) * 1000 if created_from_ms is None else created_from_ms + k
                run = self._new_run(
                    key,
                    flow,
                    created_ms=created,
                    window=(start, end),
                    params=params,
                    client_id="seed",
                    start_s=None,
                    noticed_ms=self.state.clock.now_ms(),
                )
                ids.append(run["id"])
            return ids

    def of_flow(self, key: SandboxKey, flow_id: str) -> list[dict[str, Any]] | None:
        """A flow's runs as the emulator knows them, oldest first; ``None`` for a flow it never knew.

        Each is ``{"id", "window": [start, end], "status", "created_at"}`` (epoch seconds, emulator clock).
        """
        with self.state.lock:
            self.catch_up(key)
            tables = self._tables[key]
            index = tables.by_flow.get(flow_id) or []
            if not index and self.flows.facts(key, flow_id) is None:
                return None
            now_ms = self.state.clock.now_ms()
            return [
                {
                    "id": run["id"],
                    "window": list(run["_window"]),
                    "status": run_status(run, now_ms),
                    "created_at": run["createdAt"] / 1000,
                }
                for run in (tables.runs[entry[2]] for entry in index)
            ]

    def take_finished(self) -> list[tuple[int, dict[str, Any]]]:
        """``(finished at ms, run document)`` of every run finished since the last call, in completion order.

        Due scheduled runs of every sandbox are created first (as any read would), so nothing finished
        by now is missed even if nobody read it. A run is handed over once (the events store is the one
        caller). A seeded run counts as finished no earlier than when it was seeded: a past history
        reaches the journal when the emulator learns of it. Runs dropped from their table are skipped.
        """
        with self.state.lock:
            for key in self._tables:
                self.catch_up(key)
            now_ms = self.state.clock.now_ms()
            finished: list[tuple[int, dict[str, Any]]] = []
            while self._finishing and self._finishing[0][0] <= now_ms:
                at_ms, _, key, run_id = heapq.heappop(self._finishing)
                tables = self._tables.get(key)
                run = tables.runs.get(run_id) if tables is not None else None
                if run is not None:
                    finished.append((at_ms, self._document(run, now_ms)))
            return finished

    def counts(self, key: SandboxKey) -> dict[str, int]:
        with self.state.lock:
            tables = self._tables.get(key)
            return {"runs": len(tables.runs) if tables else 0}

    def reset(self) -> None:
        with self.state.lock:
            self._tables.clear()
            self.outcomes.clear()
            self._finishing.clear()

    # ---- internals -------------------------------------------------------------------------------

    def _new_run(
        self,
        key: SandboxKey,
        flow: FlowFacts,
        *,
        created_ms: int,
        window: tuple[int, int],
        params: dict[str, Any],
        client_id: str,
        start_s: int | None,
        parent: str | None = None,
        noticed_ms: int = 0,
    ) -> dict[str, Any]:
        """A new run; ``noticed_ms``: it is handed to :meth:`take_finished` no earlier than this."""
        run_id = self.state.new_id()
        sandbox = self.state.sandbox(key)
        t1, t2 = self.run_timeline
        begin_ms = max(created_ms, start_s * 1000 if start_s is not None else created_ms)
        kind, failed_records = self.outcomes.take(flow.id)
        run: dict[str, Any] = {
            "id": run_id,
            "createdAt": created_ms,
            "updatedAt": created_ms,
            "createdBy": f"{client_id}@AdobeID",
            "updatedBy": "acp_foundation_connectors@AdobeID",
            "createdClient": client_id,
            "updatedClient": "acp_foundation_connectors",
            "sandboxId": sandbox.id,
            "sandboxName": sandbox.name,
            "imsOrgId": sandbox.org_id,
            "flowId": flow.id,
            "flowSpec": dict(flow.flow_spec),
            "providerRefId": f"M-{flow.id}-incremental-0:{run_id}",
            "params": params,
            "_seq": self.state.next_seq(),
            "_window": window,
            "_startMs": begin_ms + int(t1 * 1000),
            "_endMs": begin_ms + int(max(t2, t1) * 1000),
            "_outcome": kind,
            "_failedRecords": failed_records,
        }
        if parent:
            run["parentFlowRunId"] = parent
        self._tables[key].add(run)
        heapq.heappush(self._finishing, (max(run["_endMs"], noticed_ms), run["_seq"], key, run_id))
        return run

    @staticmethod
    def _document(run: dict[str, Any], now_ms: int) -> dict[str, Any]:
        """The run's public JSON at ``now_ms``; a finished run never changes, so its document is kept."""
        final = run.get("_final")
        if final is not None:
            return final  # type: ignore[no-any-return]
        doc = render_run(run, now_ms)
        if now_ms >= run["_endMs"]:
            run["_final"] = doc
        return doc
