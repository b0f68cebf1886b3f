"""Flow runs: status timeline on the emulator clock, deterministic metrics, schedules, outcomes."""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from typing import Any

RUN_KINDS = ("success", "failed", "failed_records")

#: Seconds per scheduling unit (``frequency`` of source flows, ``timeUnit`` of dataset exports).
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
#: At most this many scheduled runs are materialised per flow and read; older missed windows are skipped.
MAX_SCHEDULED_PER_READ = 100

COPY_ACTIVITY_ID = "4f008a00-3a04-11eb-adc1-0242ac120002"
PROMOTION_ACTIVITY_ID = "37b34f84-1ada-11eb-adc1-0242ac120002"


def etag_for(*parts: object) -> str:
    """A deterministic quoted etag in the service's format.

    Example: ``"1100c53e-0000-0200-0000-627138980000"`` (quotes included).
    """
    h = hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()
    return f'"{h[:8]}-0000-0200-0000-{h[8:20]}"'


@dataclass
class OutcomeRule:
    """How the next run(s) end: ``kind`` in success / failed / failed_records."""

    flow_id: str | None
    kind: str
    failed_records: int = 5
    times: int | None = None
    used: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "kind": self.kind,
            "failed_records": self.failed_records,
            "times": self.times,
            "used": self.used,
        }


class OutcomePlan:
    """The ``run_outcome`` rules; a rule for a flow wins over a rule for any flow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[OutcomeRule] = []

    def set(self, flow_id: str | None, kind: str, failed_records: int = 5, times: int | None = None) -> OutcomeRule:
        if kind not in RUN_KINDS:
            raise ValueError(f"kind must be one of {RUN_KINDS}, got {kind!r}")
        rule = OutcomeRule(flow_id, kind, max(0, int(failed_records)), times)
        with self._lock:
            self._rules = [r for r in self._rules if r.flow_id != flow_id]
            if kind != "success" or times is not None:
                self._rules.append(rule)
        return rule

    def take(self, flow_id: str) -> tuple[str, int]:
        with self._lock:
            for wanted in (flow_id, None):
                for rule in self._rules:
                    if rule.flow_id == wanted and (rule.times is None or rule.used < rule.times):
                        rule.used += 1
                        return rule.kind, rule.failed_records
        return "success", 0

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[OutcomeRule]:
        with self._lock:
            return list(self._rules)


def record_count(window_start: int, window_end: int) -> int:
    """Records of a run: one per minute of the window (a 1-day window gives 1440)."""
    return max(0, (window_end - window_start) // 60)


def run_phase(run: dict[str, Any], now_ms: int) -> str:
    """``scheduled``, ``inProgress`` or ``done`` at ``now_ms``."""
    if now_ms < run["_startMs"]:
        return "scheduled"
    if now_ms < run["_endMs"]:
        return "inProgress"
    return "done"


def run_status(run: dict[str, Any], now_ms: int) -> str:
    phase = run_phase(run, now_ms)
    if phase != "done":
        return phase
    return "failed" if run["_outcome"] == "failed" else "success"


def _activity(
    act_id: str,
    name: str,
    started: int,
    completed: int | None,
    status: str,
    size: dict[str, Any],
    records: dict[str, Any],
    files: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    duration: dict[str, Any] = {"startedAtUTC": started}
    if completed is not None:
        duration["completedAtUTC"] = completed
    act: dict[str, Any] = {
        "id": act_id,
        "name": name,
        "updatedAtUTC": completed if completed is not None else started,
        "durationSummary": duration,
        "sizeSummary": size,
        "recordSummary": records,
        "fileSummary": files,
        "statusSummary": {"status": status},
    }
    if extra:
        act.update(extra)
    return act


def render_run(run: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The public JSON of a run at ``now_ms`` (status, metrics and activities computed on read)."""
    phase = run_phase(run, now_ms)
    status = run_status(run, now_ms)
    body = {k: v for k, v in run.items() if not k.startswith("_")}
    started = run["_startMs"]
    ended = run["_endMs"]
    if phase == "scheduled":
        body["updatedAt"] = run["createdAt"]
        body["etag"] = etag_for(run["id"], "scheduled")
        body["metrics"] = {"statusSummary": {"status": "scheduled"}}
        body["activities"] = []
        return body
    if phase == "inProgress":
        body["updatedAt"] = started
        body["etag"] = etag_for(run["id"], "inProgress")
        body["metrics"] = {
            "durationSummary": {"startedAtUTC": started},
            "statusSummary": {"status": "inProgress"},
        }
        body["activities"] = [_activity(COPY_ACTIVITY_ID, "Copy Activity", started, None, "inProgress", {}, {}, {})]
        return body
    body["updatedAt"] = ended
    body["etag"] = etag_for(run["id"], status)
    win_start, win_end = run["_window"]
    records = record_count(win_start, win_end)
    window_ext = {"windowStart": win_start * 1000, "windowEnd": win_end * 1000}
    mid = started + (ended - started) * 3 // 5
    if run["_outcome"] == "failed":
        failed_info = [
            {
                "code": "2200",
                "message": "A connection attempt failed because the connected party did not properly respond "
                "after a period of time (emulated failure).",
            }
        ]
        errors = [{"code": "CONNECTOR-1001-500", "message": "Error in copying the data from Source."}]
        body["metrics"] = {
            "durationSummary": {"startedAtUTC": started, "completedAtUTC": ended},
            "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
            "recordSummary": {
                "inputRecordCount": 0,
                "outputRecordCount": 0,
                "failedRecordCount": 0,
                "failedInfo": failed_info,
            },
            "fileSummary": {"inputFileCount": 0, "outputFileCount": 0, "activityRefs": [COPY_ACTIVITY_ID]},
            "statusSummary": {"status": "failed", "errors": errors, "activityRefs": [COPY_ACTIVITY_ID]},
        }
        body["activities"] = [
            _activity(
                COPY_ACTIVITY_ID,
                "Copy Activity",
                started,
                ended,
                "failed",
                {},
                {"failedInfo": failed_info},
                {},
                extra={
                    "durationSummary": {
                        "startedAtUTC": started,
                        "completedAtUTC": ended,
                        "extensions": window_ext,
                    },
                    "statusSummary": {
                        "status": "failed",
                        "errors": errors,
                        "extensions": {"errorDetail": "ErrorCode=EmulatedFailure", "errors": failed_info},
                    },
                },
            )
        ]
        return body
    failed = min(int(run["_failedRecords"]), records) if run["_outcome"] == "failed_records" else 0
    output = records - failed
    in_bytes = records * 512
    out_bytes = output * 384
    in_files = math.ceil(records / 1000) if records else 0
    out_files = math.ceil(output / 5000) if output else 0
    record_summary: dict[str, Any] = {
        "inputRecordCount": records,
        "outputRecordCount": output,
        "failedRecordCount": failed,
    }
    status_summary: dict[str, Any] = {"status": "success"}
    promo_status: dict[str, Any] = {"status": "success"}
    if failed:
        errors = [{"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}]
        status_summary["errors"] = errors
        status_summary["activityRefs"] = [PROMOTION_ACTIVITY_ID]
        record_summary["failedInfo"] = [
            {
                "code": "MAPPER-3700-400",
                "message": "Mapper Transform Error",
                "details": {"recordCount": failed},
            }
        ]
        promo_status = {
            "status": "success",
            "errors": errors,
            "extensions": {
                "errors": [
                    {
                        "code": "INGEST-1212-400",
                        "message": f"Encountered {failed} errors in the data. Successfully ingested {output} "
                        "rows. "
                        "Review the associated diagnostic files for additional details.",
                    },
                    {"code": "MAPPER-3700-400", "recordCount": failed, "message": "Mapper Transform Error"},
                ]
            },
        }
    body["metrics"] = {
        "durationSummary": {"startedAtUTC": started, "completedAtUTC": ended},
        "sizeSummary": {"inputBytes": in_bytes, "outputBytes": out_bytes},
        "recordSummary": record_summary,
        "fileSummary": {
            "inputFileCount": in_files,
            "outputFileCount": out_files,
            "activityRefs": [PROMOTION_ACTIVITY_ID],
        },
        "statusSummary": status_summary,
    }
    body["activities"] = [
        _activity(
            COPY_ACTIVITY_ID,
            "Copy Activity",
            started,
            mid,
            "success",
            {"inputBytes": in_bytes, "outputBytes": in_bytes},
            {"inputRecordCount": records, "outputRecordCount": records},
            {"inputFileCount": in_files, "outputFileCount": in_files},
            extra={"durationSummary": {"startedAtUTC": started, "completedAtUTC": mid, "extensions": window_ext}},
        ),
        _activity(
            PROMOTION_ACTIVITY_ID,
            "Promotion Activity",
            mid,
            ended,
            "success",
            {"inputBytes": in_bytes, "outputBytes": out_bytes},
            dict(record_summary),
            {"inputFileCount": in_files, "outputFileCount": out_files},
            extra={"statusSummary": promo_status},
        ),
    ]
    return body


def schedule_of(flow: dict[str, Any]) -> tuple[int, int] | None:
    """``(startTime, interval_seconds)`` of a recurring flow, or ``None`` for ``once``/no schedule."""
    sp = flow.get("scheduleParams")
    if not isinstance(sp, dict):
        return None
    unit = str(sp.get("frequency") or sp.get("timeUnit") or "").lower()
    if unit not in UNIT_SECONDS:
        return None
    try:
        interval = int(sp.get("interval", 1))
        start = int(sp.get("startTime"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if interval < 1:
        return None
    return start, interval * UNIT_SECONDS[unit]


def first_due(start: int, interval: int, now: float) -> int:
    """First schedule boundary to materialise: the last boundary at or before ``now`` (one catch-up run),
    or ``start`` when it is in the future."""
    if start > now:
        return start
    k = int((now - start) // interval)
    return start + k * interval
