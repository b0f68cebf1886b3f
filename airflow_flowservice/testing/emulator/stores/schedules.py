"""A flow's ``scheduleParams``: their validation, and the boundaries at which a recurring flow runs.

Used by the flows store (validation, normalisation) and the runs store (the runs a schedule creates).
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import FlowServiceError

#: Seconds per scheduling unit (``frequency`` of source flows, ``timeUnit`` of dataset exports).
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
#: At most this many scheduled runs are materialised per flow and read; older missed windows are skipped.
MAX_SCHEDULED_PER_READ = 100


def parse_epoch_seconds(value: Any) -> int | None:
    """An integer, an integral float or a numeric string as epoch seconds; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _bad(code: str, message: str) -> FlowServiceError:
    return FlowServiceError(code, "Bad Request", message)


def validate_schedule(flow_spec: dict[str, Any], sp: Any, required: bool) -> dict[str, Any] | None:
    """Check ``scheduleParams`` against the flow spec; returns them normalised (``None`` when absent).

    Normalised as the spec's ``ScheduleSpecDTO`` types: ``startTime`` an integer, ``interval`` a string,
    ``backfill`` a boolean.
    """
    if sp is None or sp == {}:
        if required:
            raise _bad(
                "1317-400",
                "The provided schedule params are empty but should not be empty. Please provide valid "
                "schedule "
                "params and try again.",
            )
        return None
    if not isinstance(sp, dict):
        raise _bad("1317-400", "The provided schedule params are invalid.")
    props = ((flow_spec.get("scheduleSpec") or {}).get("spec") or {}).get("properties") or {}
    out = copy.deepcopy(sp)
    out["startTime"] = _start_time(sp)
    if "timeUnit" in props:  # dataset export flows (Adobe's dataset-export guide)
        return _export_schedule(sp, out)
    return _source_schedule(sp, props, out)


def _start_time(sp: dict[str, Any]) -> int:
    start = sp.get("startTime")
    if start is None:
        raise _bad(
            "1359-400",
            "The param scheduleParams.startTime is missing in the request. Please "
            "provide a valid scheduleParams.startTime and try again.",
        )
    start_s = parse_epoch_seconds(start)
    if start_s is None:
        raise _bad(
            "1340-400",
            f"An error occurred while parsing startTime={start!r}. Please check the "
            "time format provided in the request and try again (epoch seconds).",
        )
    return start_s


def _export_schedule(sp: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """``{startTime, timeUnit: hour|day, interval}``: 3, 6, 9, 12 or 24 hours, or 1 day."""
    unit = str(sp.get("timeUnit") or sp.get("frequency") or "").lower()
    if not unit:
        raise _bad("1359-400", "The param scheduleParams.timeUnit is missing in the request.")
    if unit not in ("hour", "day"):
        raise _bad("1397-400", f"The provided frequency : {unit} is invalid. Use timeUnit hour or day.")
    interval = parse_epoch_seconds(sp.get("interval"))
    if interval is None:
        raise _bad("1359-400", "The param scheduleParams.interval is missing in the request.")
    allowed = (3, 6, 9, 12, 24) if unit == "hour" else (1,)
    if interval not in allowed:
        raise _bad(
            "1363-400",
            f"Interval {interval} is not allowed with frequency: {unit}. Allowed intervals: {list(allowed)}.",
        )
    out["timeUnit"] = unit
    out["interval"] = str(interval)
    return out


def _source_schedule(sp: dict[str, Any], props: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """``{startTime, frequency, interval?, backfill?}`` of source flows (``once`` takes neither of the last two)."""
    freq_raw = sp.get("frequency")
    if freq_raw is None or freq_raw == "":
        raise _bad("1359-400", "The param scheduleParams.frequency is missing in the request.")
    freq = str(freq_raw).lower()
    allowed_freq = (props.get("frequency") or {}).get("enum") or ["once", "minute", "hour", "day", "week"]
    if freq not in allowed_freq:
        raise _bad(
            "1397-400",
            f"The provided frequency : {freq_raw} is invalid. Please provide a valid frequency and try again.",
        )
    out["frequency"] = freq
    if freq == "once":
        if "interval" in sp:
            raise _bad(
                "1361-400",
                "Interval is not allowed with one time ingestion. Please remove interval or change "
                "frequency and "
                "then try again.",
            )
        if "backfill" in sp:
            raise _bad(
                "1364-400",
                "The backfill flag is not allowed when frequency is set to once. Please remove the "
                "backfill flag "
                "when frequency is set to once and try again.",
            )
        return out
    out["interval"] = str(_interval(sp, freq))
    if "backfill" in sp:
        backfill = _parse_bool(sp["backfill"])
        if backfill is None:
            raise _bad(
                "1312-400",
                f"The provided param value {sp['backfill']} is not a valid input for property=backfill.",
            )
        out["backfill"] = backfill
    return out


def _interval(sp: dict[str, Any], freq: str) -> int:
    if sp.get("interval") is None:
        raise _bad(
            "1393-400",
            "The provided parameter interval is null or empty. Please provide a valid interval and try again.",
        )
    interval = parse_epoch_seconds(sp.get("interval"))
    if interval is None:
        raise _bad(
            "1312-400",
            f"The provided param value {sp.get('interval')} is not a valid input for property=interval.",
        )
    minimum = 15 if freq == "minute" else 1
    if interval < minimum:
        raise _bad(
            "1362-400",
            f"Interval cannot be less than {minimum}. Please provide a valid interval value and try again.",
        )
    return interval


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
