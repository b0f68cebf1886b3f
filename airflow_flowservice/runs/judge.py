"""Judging a finished run: the one place the operator, the sensor and ``execute_complete`` call.

Statuses are compared case-insensitively (the docs mix ``success``/``Success``, ``failed``/``Failed``).
Terminal: success, failed (and cancelled/canceled, never seen in Adobe's docs but harmless). Anything
else (scheduled, inProgress, processing, waiting, unknown) means keep waiting (Adobe's "Monitor
dataflows" guide lists no other terminal status).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_flowservice.exceptions import (
    FlowServiceConfigError,
    FlowServiceError,
    FlowServiceRunFailedError,
    FlowServiceTimeoutError,
)

if TYPE_CHECKING:  # the models are imported only when a run document is parsed
    from airflow_flowservice.models import Run

SUCCESS_STATUSES = frozenset({"success", "succeeded"})
FAILURE_STATUSES = frozenset({"failed", "failure", "cancelled", "canceled"})

RunState = Literal["success", "failed", "running"]


def run_state(status: str | None) -> RunState:
    """``success``, ``failed`` or ``running`` for a status string of any case."""
    value = (status or "").strip().lower()
    if value in SUCCESS_STATUSES:
        return "success"
    if value in FAILURE_STATUSES:
        return "failed"
    return "running"


@dataclass(frozen=True)
class RunPolicy:
    """When a *successful* run still fails the task because of failed records.

    :param max_failed_records: fail when more records than this failed (``None``: no limit).
    :param max_failed_ratio: fail when failed / read records exceeds this (0..1; ``None``: no limit).
    """

    max_failed_records: int | None = None
    max_failed_ratio: float | None = None

    def __post_init__(self) -> None:
        records, ratio = self.max_failed_records, self.max_failed_ratio
        if records is not None and (not isinstance(records, int) or isinstance(records, bool) or records < 0):
            raise FlowServiceConfigError(f"max_failed_records: must be an integer >= 0 (got {records!r})")
        if ratio is not None and (not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 <= ratio <= 1):
            raise FlowServiceConfigError(f"max_failed_ratio: must be a number between 0 and 1 (got {ratio!r})")


def _count(value: int | None) -> int | None:
    return None if value is None or value < 0 else value  # -1 means unknown in run metrics


def run_metrics(run: Run) -> dict[str, Any]:
    """The run's completion metrics as a flat, JSON-able dict (pushed to XCom)."""
    metrics = run.metrics
    duration = metrics.duration_summary
    seconds = None
    if duration.started_at_utc and duration.completed_at_utc:
        seconds = round((duration.completed_at_utc - duration.started_at_utc) / 1000, 3)
    window = run.window()
    return {
        "run_id": run.id,
        "flow_id": run.flow_id,
        "status": run.status,
        "window_start": window[0] if window else None,
        "window_end": window[1] if window else None,
        "records_read": _count(metrics.record_summary.input_record_count),
        "records_written": _count(metrics.record_summary.output_record_count),
        "records_failed": _count(metrics.record_summary.failed_record_count) or 0,
        "bytes_read": _count(metrics.size_summary.input_bytes),
        "bytes_written": _count(metrics.size_summary.output_bytes),
        "files_read": _count(metrics.file_summary.input_file_count),
        "files_written": _count(metrics.file_summary.output_file_count),
        "started_at_ms": duration.started_at_utc,
        "completed_at_ms": duration.completed_at_utc,
        "duration_seconds": seconds,
        "errors": [
            {"code": e.code, "message": e.message}
            for e in [*metrics.status_summary.errors, *metrics.record_summary.failed_info]
        ],
    }


def format_metrics(m: dict[str, Any]) -> str:
    """One readable line of the metrics."""
    return (
        f"run {m['run_id']} {m['status']}: read {m['records_read']}, written {m['records_written']}, "
        f"failed {m['records_failed']} records; {m['bytes_read']} -> {m['bytes_written']} bytes; "
        f"{m['files_read']} -> {m['files_written']} files; {m['duration_seconds']} s"
    )


def judge_run(run: Run, policy: RunPolicy) -> dict[str, Any]:
    """Return the metrics of a successful run; raise :class:`FlowServiceRunFailedError` otherwise.

    A run that has not finished is an error here: call only with a terminal run.
    """
    metrics = run_metrics(run)
    state = run_state(run.status)
    errors = "; ".join(f"{e['code']}: {e['message']}" for e in metrics["errors"]) or "no error details"
    if state == "running":
        raise FlowServiceRunFailedError(f"run {run.id} has not finished (status {run.status or 'unknown'!r})")
    if state == "failed":
        raise FlowServiceRunFailedError(f"run {run.id} of flow {run.flow_id} {run.status}: {errors}")
    failed = metrics["records_failed"]
    read = metrics["records_read"] or 0
    if policy.max_failed_records is not None and failed > policy.max_failed_records:
        raise FlowServiceRunFailedError(
            f"run {run.id} succeeded but {failed} records failed, more than max_failed_records="
            f"{policy.max_failed_records}: {errors}"
        )
    if policy.max_failed_ratio is not None and read and failed / read > policy.max_failed_ratio:
        raise FlowServiceRunFailedError(
            f"run {run.id} succeeded but {failed}/{read} records failed ({failed / read:.2%}), more than "
            f"max_failed_ratio={policy.max_failed_ratio}: {errors}"
        )
    return metrics


def run_of_summary(summary: Mapping[str, Any]) -> Run:
    """The run whose :func:`run_metrics` is ``summary``: what a trigger event carries, back as a run to judge."""
    from airflow_flowservice.models import Run

    window = (
        {"windowStartTime": summary["window_start"], "windowEndTime": summary["window_end"]}
        if summary.get("window_start") is not None and summary.get("window_end") is not None
        else None
    )
    return Run.model_validate(
        {
            "id": summary["run_id"],
            "flowId": summary.get("flow_id"),
            "params": window,
            "metrics": {
                "statusSummary": {"status": summary.get("status"), "errors": list(summary.get("errors") or [])},
                "recordSummary": {
                    "inputRecordCount": summary.get("records_read"),
                    "outputRecordCount": summary.get("records_written"),
                    "failedRecordCount": summary.get("records_failed"),
                },
                "sizeSummary": {"inputBytes": summary.get("bytes_read"), "outputBytes": summary.get("bytes_written")},
                "fileSummary": {
                    "inputFileCount": summary.get("files_read"),
                    "outputFileCount": summary.get("files_written"),
                },
                "durationSummary": {
                    "startedAtUTC": summary.get("started_at_ms"),
                    "completedAtUTC": summary.get("completed_at_ms"),
                },
            },
        }
    )


def run_from_event(event: Mapping[str, Any], fetch: Callable[[str], Run]) -> Run:
    """The finished run a :class:`~airflow_flowservice.triggers.FlowServiceRunTrigger` event reports on.

    ``timeout`` and ``error`` events raise with the trigger's message. A terminal event carries the
    run's ``summary`` (its :func:`run_metrics`), so resuming costs no call; an event of an older trigger
    carries the whole run document (``run``), and one with neither is answered by ``fetch(run_id)``.
    """
    run_id, status = event.get("run_id"), event.get("status")
    if status in ("timeout", "error") or not run_id:
        error = FlowServiceTimeoutError if status == "timeout" else FlowServiceError
        raise error(str(event.get("message") or f"waiting for the run failed: {dict(event)!r}"))
    summary = event.get("summary")
    if isinstance(summary, Mapping):
        return run_of_summary(summary)
    document = event.get("run")
    if not isinstance(document, Mapping):
        return fetch(str(run_id))
    from airflow_flowservice.models import Run

    return Run.model_validate(document)
