"""JSON-Patch (add / replace / remove) as the Flow Service accepts it on PATCH."""

from __future__ import annotations

import copy
from typing import Any

from .errors import FlowServiceError, invalid_request

SUPPORTED_OPS = ("add", "replace", "remove")


def _pointer(path: str) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise FlowServiceError(
            "1365-400",
            "Bad Request",
            f"The path {path} provided in ops is invalid. Please provide valid path {path} and try again.",
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_patch(document: dict[str, Any], ops: Any, read_only: set[str]) -> dict[str, Any]:
    """Apply ``ops`` to a copy of ``document``; ``read_only`` are top-level keys that cannot change."""
    if not isinstance(ops, list) or not ops:
        raise invalid_request(
            "1405-400",
            "The request body cannot be null or empty. Please provide a request body and try again.",
        )
    doc = copy.deepcopy(document)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise invalid_request(
                "1455-400",
                'An error has occurred while validating patch instructions: Missing field "op" or "path".',
            )
        name = str(op["op"]).lower()
        if name not in SUPPORTED_OPS:
            raise invalid_request(
                "1434-400",
                f"Unsupported operation '{op['op']}' received. Please use one of the supported operation "
                "types "
                "and try again.",
            )
        parts = _pointer(op["path"])
        if parts[0] in read_only:
            raise FlowServiceError(
                "1365-400",
                "Bad Request",
                f"The path {op['path']} provided in ops is invalid. Please provide valid path {op['path']} "
                "and "
                "try again.",
            )
        if name in ("add", "replace") and "value" not in op:
            raise invalid_request(
                "1455-400",
                'An error has occurred while validating patch instructions: Missing field "value".',
            )
        _apply_one(doc, name, parts, op.get("value"), op["path"])
    return doc


def _apply_one(doc: Any, op: str, parts: list[str], value: Any, raw_path: str) -> None:
    parent = doc
    for part in parts[:-1]:
        if isinstance(parent, dict):
            if part not in parent:
                if op == "add":
                    parent[part] = {}
                else:
                    raise _missing(raw_path)
            parent = parent[part]
        elif isinstance(parent, list):
            idx = _index(part, len(parent), raw_path)
            parent = parent[idx]
        else:
            raise _missing(raw_path)
    last = parts[-1]
    if isinstance(parent, dict):
        if op == "remove":
            if last not in parent:
                raise _missing(raw_path)
            del parent[last]
        elif op == "replace" and last not in parent:
            # The Flow Service accepts replace on an absent key (the docs replace optional fields).
            parent[last] = copy.deepcopy(value)
        else:
            parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if op == "add":
            if last == "-":
                parent.append(copy.deepcopy(value))
            else:
                parent.insert(_index(last, len(parent) + 1, raw_path), copy.deepcopy(value))
        elif op == "replace":
            parent[_index(last, len(parent), raw_path)] = copy.deepcopy(value)
        else:
            del parent[_index(last, len(parent), raw_path)]
    else:
        raise _missing(raw_path)


def _index(part: str, size: int, raw_path: str) -> int:
    try:
        idx = int(part)
    except ValueError as exc:
        raise _missing(raw_path) from exc
    if not 0 <= idx < size:
        raise _missing(raw_path)
    return idx


def _missing(raw_path: str) -> FlowServiceError:
    return invalid_request(
        "1455-400", f'An error has occurred while validating patch instructions: Missing field "{raw_path}".'
    )
