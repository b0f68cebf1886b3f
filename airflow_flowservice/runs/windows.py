"""The time window of an on-demand run: from the task's data interval unless given, validated first.

Flow Service takes ``windowStartTime``/``windowEndTime`` in epoch **seconds**.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.validation import to_epoch_seconds

ZERO_LENGTH_FIX = (
    "the DAG's timetable gives runs a zero-length data interval (Airflow 3's default for cron schedules such as "
    "'@daily' is CronTriggerTimetable, whose data_interval_start == data_interval_end). Schedule the DAG with "
    "airflow.timetables.interval.CronDataIntervalTimetable('@daily', timezone='UTC') or "
    "DeltaDataIntervalTimetable(timedelta(days=1)), or pass window_start and window_end"
)


#: Why a DAG run has no data interval (also in the message of any operator templating one: operators/templating.py).
NO_INTERVAL_WHY = (
    "Airflow 3 gives none to a run triggered without a logical date (the UI's and the REST API's default for "
    "manual runs, logical_date: null) nor to the runs of a DAG with schedule=None"
)
NO_INTERVAL_FIX = (
    f"this DAG run has no data interval, so there is no window to ingest. {NO_INTERVAL_WHY}. "
    "Pass window_start and window_end (e.g. from the run's conf: "
    "window_start='{{ dag_run.conf[\"window_start\"] }}'), trigger the run with a logical date, or schedule the "
    "DAG with a data-interval timetable (CronDataIntervalTimetable or DeltaDataIntervalTimetable)"
)


@dataclass(frozen=True)
class RunWindow:
    """``[start, end)`` in epoch seconds."""

    start: int
    end: int

    def as_params(self) -> dict[str, str]:
        """``windowStartTime``/``windowEndTime`` as ``POST /runs`` takes them: strings of epoch seconds."""
        # The OpenAPI spec says milliseconds; Adobe's on-demand ingestion guide sends seconds, and so do we.
        return {"windowStartTime": str(self.start), "windowEndTime": str(self.end)}

    def describe(self) -> str:
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        start = datetime.fromtimestamp(self.start, tz=timezone.utc).strftime(fmt)
        end = datetime.fromtimestamp(self.end, tz=timezone.utc).strftime(fmt)
        return f"[{start}, {end}) ({self.start}..{self.end})"


def _seconds(value: Any, field: str) -> int:
    try:
        return to_epoch_seconds(value)
    except ValueError as exc:
        raise FlowServiceConfigError(f"{field}: {exc}") from None


def resolve_window(
    window_start: Any,
    window_end: Any,
    context: Mapping[str, Any],
    *,
    now: float | None = None,
) -> RunWindow:
    """The run window: explicit values win, else the task's ``data_interval_start``/``data_interval_end``.

    Raises :class:`FlowServiceConfigError` (before any API call) for a missing, empty, reversed or
    future window, naming the field and the fix.
    """
    if (window_start is None) != (window_end is None):
        raise FlowServiceConfigError("window_start/window_end: give both, or neither to use the data interval")
    if window_start is None:
        start_value, end_value = context.get("data_interval_start"), context.get("data_interval_end")
        if start_value is None or end_value is None:
            raise FlowServiceConfigError(f"window_start/window_end: {NO_INTERVAL_FIX}")
        where = "data interval"
        start, end = _seconds(start_value, "data_interval_start"), _seconds(end_value, "data_interval_end")
    else:
        where = "window"
        start, end = _seconds(window_start, "window_start"), _seconds(window_end, "window_end")
    if start == end:
        if where == "data interval":
            raise FlowServiceConfigError(f"window: empty data interval {start}..{end}: {ZERO_LENGTH_FIX}")
        raise FlowServiceConfigError(f"window_end: must be after window_start (both are {start}); widen the window")
    if end < start:
        raise FlowServiceConfigError(
            f"window_end: must be after window_start (got window_start={start}, window_end={end}); swap them"
        )
    current = time.time() if now is None else now
    if end > current:
        raise FlowServiceConfigError(
            f"window_end: {end} is in the future (now {int(current)}); a run can only ingest data that exists, "
            "so end the window at or before now (for scheduled DAGs the data interval ends before the run starts)"
        )
    return RunWindow(start=start, end=end)


def delta_column_body(delta_column: Any) -> dict[str, str] | None:
    """``deltaColumn`` as the API takes it: ``{"name", "dateFormat"?, "timezone"?}``."""
    if delta_column is None or delta_column == "":
        return None
    if isinstance(delta_column, str):
        if not delta_column.strip():
            raise FlowServiceConfigError(f"delta_column: must be a column name or a dict (got {delta_column!r})")
        return {"name": _delta_text(delta_column.strip(), "delta_column")}
    if isinstance(delta_column, Mapping):
        unknown = sorted(set(delta_column) - {"name", "dateFormat", "timezone"})
        if unknown or not str(delta_column.get("name") or "").strip():
            raise FlowServiceConfigError(
                "delta_column: must be a column name or {'name': ..., 'dateFormat'?: ..., 'timezone'?: ...} "
                f"(got {dict(delta_column)!r})"
            )
        return {str(k): _delta_text(v, f"delta_column.{k}") for k, v in delta_column.items()}
    raise FlowServiceConfigError(f"delta_column: must be a column name or a dict (got {delta_column!r})")


#: Longest column name (or date format, time zone) accepted in ``delta_column``.
DELTA_COLUMN_MAX = 256


def _delta_text(value: Any, field: str) -> str:
    """One value of ``deltaColumn``: a string of printable characters, at most :data:`DELTA_COLUMN_MAX` long.

    The first one sent stays on the flow for good, so it is checked before it is sent.
    """
    if not isinstance(value, str):
        raise FlowServiceConfigError(f"{field}: must be a string (got {type(value).__name__} {value!r})")
    text = value.strip()
    if not text:
        raise FlowServiceConfigError(f"{field}: must not be empty")
    if len(text) > DELTA_COLUMN_MAX:
        raise FlowServiceConfigError(
            f"{field}: is {len(text)} characters long; at most {DELTA_COLUMN_MAX} (got {text!r})"
        )
    if not text.isprintable():
        raise FlowServiceConfigError(
            f"{field}: holds a control character, line break or NUL; give the column name as it is (got {text!r})"
        )
    return text
