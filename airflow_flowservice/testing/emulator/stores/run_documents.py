"""The public JSON of a run at a time: its status timeline, metrics and activities, computed on read.

A run is ``scheduled`` until ``_startMs``, ``inProgress`` until ``_endMs``, then ``success`` or
``failed`` (its outcome was fixed at creation). Metrics are a pure function of the window.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

COPY_ACTIVITY_ID = "4f008a00-3a04-11eb-adc1-0242ac120002"
PROMOTION_ACTIVITY_ID = "37b34f84-1ada-11eb-adc1-0242ac120002"


def etag_for(*parts: object) -> str:
    """A deterministic quoted etag in the service's format.

    Example: ``"1100c53e-0000-0200-0000-627138980000"`` (quotes included).
    """
    h = hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()
    return f'"{h[:8]}-0000-0200-0000-{h[8:20]}"'


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
    body = {k: v for k, v in run.items() if not k.startswith("_")}
    started = run["_startMs"]
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
    body["updatedAt"] = run["_endMs"]
    body["etag"] = etag_for(run["id"], run_status(run, now_ms))
    if run["_outcome"] == "failed":
        body["metrics"], body["activities"] = _failed(run)
    else:
        body["metrics"], body["activities"] = _succeeded(run)
    return body


def _window_extensions(run: dict[str, Any]) -> dict[str, Any]:
    win_start, win_end = run["_window"]
    return {"windowStart": win_start * 1000, "windowEnd": win_end * 1000}


def _failed(run: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics and activities of a failed run: nothing ingested, ``CONNECTOR-1001-500``."""
    started, ended = run["_startMs"], run["_endMs"]
    failed_info = [
        {
            "code": "2200",
            "message": "A connection attempt failed because the connected party did not properly respond "
            "after a period of time (emulated failure).",
        }
    ]
    errors = [{"code": "CONNECTOR-1001-500", "message": "Error in copying the data from Source."}]
    metrics = {
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
    copy_activity = _activity(
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
                "extensions": _window_extensions(run),
            },
            "statusSummary": {
                "status": "failed",
                "errors": errors,
                "extensions": {"errorDetail": "ErrorCode=EmulatedFailure", "errors": failed_info},
            },
        },
    )
    return metrics, [copy_activity]


def _partial_ingestion(failed: int, output: int) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """``(errors, recordSummary.failedInfo, promotion status)`` of a success with ``failed`` failed records."""
    errors = [{"code": "CONNECTOR-2001-500", "message": "Error occurred at promotion activity."}]
    failed_info = {
        "failedInfo": [
            {"code": "MAPPER-3700-400", "message": "Mapper Transform Error", "details": {"recordCount": failed}}
        ]
    }
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
    return errors, failed_info, promo_status


def _succeeded(run: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics and activities of a successful run (with failed records when its outcome says so)."""
    started, ended = run["_startMs"], run["_endMs"]
    records = record_count(*run["_window"])
    failed = min(int(run["_failedRecords"]), records) if run["_outcome"] == "failed_records" else 0
    output = records - failed
    in_bytes, out_bytes = records * 512, output * 384
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
        errors, failed_info, promo_status = _partial_ingestion(failed, output)
        status_summary["errors"] = errors
        status_summary["activityRefs"] = [PROMOTION_ACTIVITY_ID]
        record_summary.update(failed_info)
    metrics = {
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
    mid = started + (ended - started) * 3 // 5
    activities = [
        _activity(
            COPY_ACTIVITY_ID,
            "Copy Activity",
            started,
            mid,
            "success",
            {"inputBytes": in_bytes, "outputBytes": in_bytes},
            {"inputRecordCount": records, "outputRecordCount": records},
            {"inputFileCount": in_files, "outputFileCount": in_files},
            extra={
                "durationSummary": {
                    "startedAtUTC": started,
                    "completedAtUTC": mid,
                    "extensions": _window_extensions(run),
                }
            },
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
    return metrics, activities


def run_etag(run: dict[str, Any], now_ms: int) -> str:
    """The etag of the run's document at ``now_ms`` (it changes with the run's phase)."""
    return etag_for(run["id"], run_status(run, now_ms))
