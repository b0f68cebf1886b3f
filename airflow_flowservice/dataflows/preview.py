"""Turn an explore preview (``GET /connections/{id}/explore``) into rows and inferred columns."""

from __future__ import annotations

from typing import Any


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return "string"


def preview_rows(body: Any) -> list[dict[str, Any]]:
    """The records of a preview body.

    Seed 004 wraps them twice: ``{"data": [{"emails": [record, ...]}]}``; an item whose only value is
    a list of records is unwrapped, any other item is a record itself.
    """
    data = body.get("data", []) if isinstance(body, dict) else body
    rows: list[dict[str, Any]] = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict):
            continue
        values = list(item.values())
        if len(values) == 1 and isinstance(values[0], list) and all(isinstance(v, dict) for v in values[0]):
            rows.extend(values[0])
        else:
            rows.append(item)
    return rows


def infer_columns(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Columns in first-seen order with a JSON type; mixed types become ``string``."""
    types: dict[str, str] = {}
    for row in rows:
        for key, value in row.items():
            kind = _json_type(value)
            seen = types.get(key)
            if seen is None or seen == "null":
                types[key] = kind
            elif kind not in (seen, "null"):
                types[key] = "number" if {seen, kind} == {"integer", "number"} else "string"
    return [{"name": name, "type": kind} for name, kind in types.items()]
