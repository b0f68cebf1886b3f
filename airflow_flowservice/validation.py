"""Checks of single operator arguments, and pydantic errors turned into one readable line.

Every operator validates its rendered arguments before any API call; a problem becomes a
:class:`~airflow_flowservice.exceptions.FlowServiceConfigError` whose message names the field and
the fix, e.g. ``schedule_params.interval: must be at least 15 when frequency is 'minute' (got 5)``.
The pydantic input models themselves are in :mod:`airflow_flowservice.inputs`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.kinds import EntityKind

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

#: Above this an epoch value is taken for milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
MS_THRESHOLD = 100_000_000_000
IfExists = Literal["reuse", "fail"]
IF_EXISTS_VALUES: tuple[str, ...] = ("reuse", "fail")
_EXAMPLE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
M = TypeVar("M", bound="BaseModel")


class FieldError(ValueError):
    """A cross-field check that blames one field of the model it runs in (``field`` is its name)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# -- turning pydantic errors into one readable line -----------------------------------------------


_SOURCE_SCHEDULE, _EXPORT_SCHEDULE = "source schedule", "export schedule"
_UNION_TAGS = frozenset({_SOURCE_SCHEDULE, _EXPORT_SCHEDULE})
"""Tags of the ``schedule_params`` union members (not field names: left out of error locations)."""


def _loc(parts: tuple[int | str, ...], rename: Mapping[str, str]) -> str:
    text = ""
    for part in parts:
        if part in _UNION_TAGS:  # a union member's tag is not a field name
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = rename.get(part, part) if not text else part
            text += f".{name}" if text else name
    return text


_PLAIN_MESSAGES = {
    "dict_type": "must be a dict (a JSON object)",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "too_short": "must not be empty",
}


def _describe(error: Any, rename: Mapping[str, str]) -> str:
    loc = _loc(tuple(error["loc"]), rename)
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, FieldError):
        loc = f"{loc}.{cause.field}" if loc else cause.field
        return f"{loc}: {cause}"
    kind = error["type"]
    if kind == "missing":
        return f"{loc}: is required"
    if kind == "extra_forbidden":
        return f"{loc}: unknown field; check the spelling (fields are snake_case, e.g. connection_spec_id)"
    message = _PLAIN_MESSAGES.get(kind) or str(error["msg"]).removeprefix("Value error, ")
    if kind != "value_error" and "auth_params" not in loc:
        value = error.get("input")
        if isinstance(value, (str, int, float, bool)) or value is None:
            message += f" (got {value!r})"
    return f"{loc}: {message}" if loc else message


def config_error(
    exc: ValidationError, prefix: str = "", rename: Mapping[str, str] | None = None, separator: str = "."
) -> FlowServiceConfigError:
    """One :class:`FlowServiceConfigError` listing every problem of ``exc``, each as ``field: fix``.

    :param prefix: prepended to every field name, joined with ``separator`` (``target`` + ``.`` ->
        ``target.path``; ``/scheduleParams`` + ``/`` -> ``/scheduleParams/interval``).
    """
    problems = [_describe(err, rename or {}) for err in exc.errors()]
    if prefix:
        problems = [f"{prefix}{separator}{p}" for p in problems]
    return FlowServiceConfigError("; ".join(problems))


def validate_input(
    model: type[M],
    data: Any,
    *,
    prefix: str = "",
    rename: Mapping[str, str] | None = None,
    context: dict[str, Any] | None = None,
) -> M:
    """``model.model_validate(data)`` with errors turned into a :class:`FlowServiceConfigError`.

    :param prefix: prepended to every field name (``config`` -> ``config.flow.name``).
    :param rename: top-level field name -> operator argument name (``params`` -> ``connection_params``).
    """
    from pydantic import ValidationError

    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise config_error(exc, prefix, rename) from None


# -- scalar checks ------------------------------------------------------------------------------------


def iso_utc(seconds: int | float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the second: ``2026-12-07T09:26:48Z``."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_instant(seconds: int | float) -> str:
    """An instant as a person reads it, with the epoch seconds code needs: ``2026-12-07T09:26:48Z (1796635608)``."""
    return f"{iso_utc(seconds)} ({int(seconds)})"


def to_epoch_seconds(value: Any) -> int:
    """Epoch **seconds** from an int, a digit string, an aware datetime/pendulum or an ISO 8601 string.

    >>> to_epoch_seconds("1700000000")
    1700000000
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"must be epoch seconds, e.g. 1700000000 (got {value!r})")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"the datetime {value.isoformat()} has no time zone; give an aware datetime "
                "(pendulum.datetime(..., tz='UTC')) or epoch seconds"
            )
        return int(value.timestamp())
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            seconds = int(text)
        else:
            return to_epoch_seconds(_parse_iso(text))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"must be epoch seconds, a finite number (got {value!r})")
        seconds = int(value)
    elif isinstance(value, int):
        seconds = value
    else:
        raise ValueError(f"must be epoch seconds, e.g. 1700000000 (got {value!r})")
    if seconds < 0:
        raise ValueError(f"must be epoch seconds, not negative (got {seconds})")
    if seconds > MS_THRESHOLD:
        raise ValueError(
            f"{seconds} looks like milliseconds; Flow Service wants epoch seconds here (use {seconds // 1000})"
        )
    return seconds


def check_seconds(value: Any, field: str) -> float:
    """A wait setting (``poll_interval``, ``timeout``, ``end_time``): a positive, finite number of seconds.

    A ``timedelta`` is taken in seconds. Anything else is a config error naming ``field``.
    """
    from datetime import timedelta

    if isinstance(value, timedelta):
        value = value.total_seconds()
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise FlowServiceConfigError(f"{field}: must be a positive, finite number of seconds (got {value!r})")
    return float(value)


def _parse_iso(text: str) -> datetime:
    import pendulum

    try:
        parsed = pendulum.parse(text, exact=True, tz=None)
    except (ValueError, TypeError):
        parsed = None
    if not isinstance(parsed, datetime):
        raise ValueError(
            f"must be epoch seconds (e.g. 1700000000) or an ISO 8601 date-time with a time zone (got {text!r})"
        )
    if parsed.tzinfo is None:
        raise ValueError(
            f"{text!r} has no time zone; give epoch seconds or an ISO 8601 date-time with an offset "
            "(e.g. '2024-05-01T00:00:00+00:00')"
        )
    return parsed


def _uuid(value: Any, what: str) -> str:
    text = str(value).strip() if isinstance(value, str) else None
    try:
        if text is None:
            raise ValueError
        parsed = uuid.UUID(text)
    except ValueError:
        raise ValueError(f"{value!r} is not {what}: give its UUID, e.g. {_EXAMPLE_SPEC_ID!r}") from None
    if str(parsed) != text.lower():
        raise ValueError(f"{value!r} is not {what}: give its UUID in the 8-4-4-4-12 form, e.g. {_EXAMPLE_SPEC_ID!r}")
    return text.lower()


def parse_spec_id(value: Any) -> str:
    """A connection-spec or flow-spec id (a UUID, lower case); ``ValueError`` otherwise."""
    return _uuid(value, "a spec id")


def parse_entity_id(value: Any) -> str:
    """A base/source/target connection, flow or run id (a UUID, lower case); ``ValueError`` otherwise."""
    return _uuid(value, "a Flow Service entity id")


def parse_name(value: Any) -> str:
    """A non-empty entity name the API's name filter can match; ``ValueError`` otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string (got {type(value).__name__})")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty; give the entity a name unique in the sandbox")
    if '"' in text:
        raise ValueError(f"{value!r} contains '\"', which the API's name filter cannot match; remove it")
    if "," in text:
        raise ValueError(f"{value!r} contains ',', which the API's name filter reads as OR; remove it")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError(f"{value!r} contains a control character; remove it")
    return text


def check_if_exists(value: Any) -> IfExists:
    """``if_exists`` is ``"reuse"`` or ``"fail"``."""
    if value == "reuse" or value == "fail":
        return value  # type: ignore[no-any-return]
    raise FlowServiceConfigError(f"if_exists: must be 'reuse' or 'fail' (got {value!r})")


def check_entity_id(value: Any, field: str) -> str:
    """An entity id argument (a UUID), or a config error naming ``field``."""
    try:
        return parse_entity_id(value)
    except ValueError as exc:
        raise FlowServiceConfigError(f"{field}: {exc}") from None


_KIND_NAMES: dict[str, EntityKind] = {
    **{k.value.lower(): k for k in EntityKind},
    "base_connection": EntityKind.BASE_CONNECTION,
    "connection": EntityKind.BASE_CONNECTION,
    "source_connection": EntityKind.SOURCE_CONNECTION,
    "target_connection": EntityKind.TARGET_CONNECTION,
    "flow": EntityKind.FLOW,
}


def parse_kind(value: Any, field: str = "kind") -> EntityKind:
    """An :class:`EntityKind` from itself, its collection name (``sourceConnections``) or ``source_connection``."""
    if isinstance(value, EntityKind):
        return value
    kind = _KIND_NAMES.get(str(value).strip().lower()) if isinstance(value, str) else None
    if kind is None:
        raise FlowServiceConfigError(
            f"{field}: must be one of flows, connections, sourceConnections, targetConnections (got {value!r})"
        )
    return kind


# The parts of a dataflow, in dependency (publish) order: the keys FlowServiceCreateDataflowOperator returns.
DATAFLOW_KINDS: dict[str, EntityKind] = {
    "base_connection_id": EntityKind.BASE_CONNECTION,
    "source_connection_id": EntityKind.SOURCE_CONNECTION,
    "target_connection_id": EntityKind.TARGET_CONNECTION,
    "flow_id": EntityKind.FLOW,
}


#: Keys of a dataflow's ids that name its mapping set (Data Prep): neither published nor deleted (the API
#: has no DELETE for mapping sets), so the operators taking ``dataflow_ids`` pass over them.
MAPPING_KEYS = frozenset({"mapping_id", "mapping_version"})


def check_dataflow_ids(value: Any, field: str = "dataflow_ids") -> dict[str, str]:
    """The ids of a dataflow (``None`` parts dropped), or a config error naming ``field`` and the keys."""
    keys = ", ".join(DATAFLOW_KINDS)
    if not isinstance(value, Mapping):
        raise FlowServiceConfigError(
            f"{field}: must be a dict with keys {keys}, e.g. create_dataflow.output (got {type(value).__name__})"
        )
    unknown = sorted(str(k) for k in set(value) - set(DATAFLOW_KINDS) - MAPPING_KEYS)
    if unknown:
        raise FlowServiceConfigError(f"{field}: unknown key(s) {', '.join(unknown)}; use {keys}")
    return {k: check_entity_id(value[k], f"{field}.{k}") for k in DATAFLOW_KINDS if value.get(k)}


# -- paths inside an export destination -----------------------------------------------------------

_BAD_PATH = re.compile(r"(^|/)\.\.(/|$)|\\|//|[\x00-\x1f]")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9\-]{1,61}[a-z0-9]$")


def check_folder_path(value: str, *, field_name: str, absolute: bool = False) -> str:
    """A folder path inside the destination: ``folder/subfolder`` (SFTP: ``/folder/subfolder``)."""
    text = value.strip()
    if not text:
        raise ValueError(f"{field_name} is empty; give a folder such as 'exports/aep'")
    if _BAD_PATH.search(text):
        raise ValueError(
            f"{field_name} {value!r} is not a valid folder path: no '..' segments, backslashes, '//' or "
            "control characters"
        )
    if text.startswith("/") and not absolute:
        raise ValueError(f"{field_name} {value!r} must be relative to the bucket/container: drop the leading '/'")
    return text.rstrip("/") or "/"
