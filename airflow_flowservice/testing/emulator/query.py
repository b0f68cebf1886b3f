"""List queries of the Flow Service: ``property=`` filters, ``orderby``, ``limit``, continuation tokens."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from .errors import FlowServiceError, invalid_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 100

_OPERATORS = ("==", "!=", ">=", "<=", ">", "<")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\[\])?(\.[A-Za-z_][A-Za-z0-9_\-]*(\[\])?)*$")
_MISSING = object()
T = TypeVar("T")


@dataclass(frozen=True)
class PropertyFilter:
    """One ``property=`` clause: ``field op value[,value...]`` (values are OR-ed)."""

    field: str
    op: str
    values: tuple[str, ...]

    def as_query(self) -> str:
        return f"{self.field}{self.op}{','.join(self.values)}"


def _strip_quotes(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_property(raw: str) -> PropertyFilter:
    """Parse ``name=="CloudStorageToAEP"``, ``flowId==a,b``, ``createdAt>=1690000000000``."""
    for bad in ("~", "!>", "!<", "=~"):
        if bad in raw:
            raise invalid_request(
                "1440-400" if bad == "~" else "1450-400",
                f"Operator '{bad}' not implemented." if bad == "~" else f"Invalid operator {bad} in filter params.",
            )
    best: tuple[int, str] | None = None
    for op in _OPERATORS:
        idx = raw.find(op)
        if idx > 0 and (best is None or idx < best[0] or (idx == best[0] and len(op) > len(best[1]))):
            best = (idx, op)
    if best is None:
        if raw and _FIELD_RE.match(raw.lstrip("!")):
            # ``property=name`` (existence) -- the docs do not show it; treat it as "field exists".
            negate = raw.startswith("!")
            return PropertyFilter(raw.lstrip("!"), "!exists" if negate else "exists", ())
        raise invalid_request("1453-400", f"Invalid query value {raw} provided in query param.")
    idx, op = best
    name = raw[:idx].strip()
    value = raw[idx + len(op) :]
    if not _FIELD_RE.match(name):
        raise invalid_request("1449-400", f"Invalid field {name} in filter params.")
    if value.strip() == "":
        raise invalid_request("1453-400", f"Invalid query value {raw} provided in query param.")
    values = tuple(_strip_quotes(v) for v in _split_values(value))
    if op not in ("==", "!=") and len(values) > 1:
        raise invalid_request("1443-400", f"Operator '{op}' is not allowed for multiple values.")
    if op not in ("==", "!=") and name == "id":
        raise invalid_request("1448-400", f"Operator {op} not supported for field id.")
    return PropertyFilter(name, op, values)


def _split_values(value: str) -> list[str]:
    """Split on commas outside double quotes."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def resolve(item: Any, path: str) -> list[Any]:
    """All values at a dotted path; arrays are traversed (``a[].b`` or implicitly)."""
    current: list[Any] = [item]
    for part in path.split("."):
        key = part[:-2] if part.endswith("[]") else part
        nxt: list[Any] = []
        for node in current:
            if isinstance(node, dict) and key in node:
                val = node[key]
                if isinstance(val, list):
                    nxt.extend(val)
                else:
                    nxt.append(val)
            elif isinstance(node, list):
                for el in node:
                    if isinstance(el, dict) and key in el:
                        val = el[key]
                        nxt.extend(val if isinstance(val, list) else [val])
        current = nxt
    return current


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(actual: Any, op: str, expected: str) -> bool:
    a_num = _as_number(actual)
    e_num = _as_number(expected)
    if a_num is not None and e_num is not None:
        a: Any = a_num
        e: Any = e_num
    else:
        if isinstance(actual, bool):
            actual = "true" if actual else "false"
        if isinstance(actual, dict | list) or actual is None:
            return False
        a = str(actual).lower()
        e = expected.lower()
    if op == "==":
        return bool(a == e)
    if op == "!=":
        return bool(a != e)
    try:
        if op == ">":
            return bool(a > e)
        if op == "<":
            return bool(a < e)
        if op == ">=":
            return bool(a >= e)
        if op == "<=":
            return bool(a <= e)
    except TypeError:
        return False
    return False


def matches(item: dict[str, Any], flt: PropertyFilter, aliases: dict[str, str] | None = None) -> bool:
    """Whether ``item`` satisfies ``flt``.

    String comparison is case-insensitive (``Failed`` == ``failed``).
    """
    path = (aliases or {}).get(flt.field, flt.field)
    values = resolve(item, path)
    if flt.op == "exists":
        return bool(values)
    if flt.op == "!exists":
        return not values
    if flt.op == "!=":
        return all(not _compare(v, "==", e) for v in values for e in flt.values)
    return any(_compare(v, flt.op, e) for v in values for e in flt.values)


@dataclass
class ListQuery:
    """The parsed query of a list call."""

    filters: list[PropertyFilter] = field(default_factory=list)
    limit: int = DEFAULT_LIMIT
    limit_given: bool = False
    orderby: str | None = None
    offset: int = 0
    count: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid_request(
            "1451-400", f"Invalid params continuationToken={token} provided in query params."
        ) from exc
    if not isinstance(data, dict):
        raise invalid_request("1451-400", f"Invalid params continuationToken={token} provided in query params.")
    return data


_PAGING_KEYS = frozenset({"property", "limit", "orderby", "count"})


def parse_list_query(params: Sequence[tuple[str, str]], max_limit: int = MAX_LIMIT) -> ListQuery:
    """Parse ``property``/``limit``/``orderby``/``continuationToken``/``count`` from query pairs.

    A continuation token carries the filters, order and limit of the first call, so following
    ``_links.next.href`` (``/runs?continuationToken=...``, as Adobe's docs show it) gives the next page
    of the same list. With a token, every other paging or filter parameter is ignored (clients such as
    aepp send the token with a bare ``property``).
    """
    q = ListQuery()
    token = next((value for key, value in params if key == "continuationToken" and value), None)
    if token:
        params = [(key, value) for key, value in params if key not in _PAGING_KEYS]
    raw_props: list[str] = []
    for key, value in params:
        if key == "property":
            raw_props.append(value)
        elif key == "limit":
            try:
                q.limit = int(value)
            except ValueError as exc:
                raise invalid_request("1452-400", f"Invalid value {value} for field limit.") from exc
            if q.limit < 1:
                raise invalid_request("1452-400", f"Invalid value {value} for field limit.")
            q.limit_given = True
        elif key == "orderby":
            q.orderby = value
        elif key == "continuationToken":
            pass
        elif key == "count":
            q.count = value.strip().lower() == "true"
        else:
            q.extra[key] = value
    if q.count and q.limit_given:
        raise invalid_request(
            "1401-400",
            "The limit and count parameters cannot be given together in the same request. Please provide "
            "either only the limit or the count parameter and try again.",
        )
    if token:
        state = _unb64(token)
        raw_props = [str(p) for p in state.get("p", [])]
        q.orderby = state.get("o")
        q.limit = int(state.get("l", q.limit))
        q.offset = int(state.get("s", 0))
    q.limit = min(q.limit, max_limit)
    q.filters = [parse_property(p) for p in raw_props]
    if q.orderby is not None:
        _parse_orderby(q.orderby)
    return q


def _parse_orderby(orderby: str) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for part in orderby.split(","):
        part = part.strip()
        if not part:
            continue
        desc = part.startswith("-")
        name = part[1:] if part[:1] in "+-" else part
        if not name or not _FIELD_RE.match(name):
            if part[:1] not in "+-" and not part[:1].isalpha():
                raise invalid_request(
                    "1432-400",
                    "Sort order specified is not correct, prepend + for ascending order and - for descending "
                    "order in the fieldName.",
                )
            raise invalid_request(
                "1433-400", f"Incorrect field= {name} passed in orderBy, example are +name, -name, name."
            )
        keys.append((name, desc))
    return keys


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is _MISSING or value is None:
        return (2, "")
    num = _as_number(value)
    if num is not None and not isinstance(value, str):
        return (0, num)
    return (1, str(value).lower())


def apply_query(
    items: list[dict[str, Any]],
    q: ListQuery,
    collection: str,
    *,
    default_order: str = "-createdAt",
    aliases: dict[str, str] | None = None,
    seq: Callable[[dict[str, Any]], int] | None = None,
) -> dict[str, Any]:
    """Filter, sort and page ``items``; returns the response envelope (or ``{"count": n}``)."""
    selected = [it for it in items if all(matches(it, f, aliases) for f in q.filters)]
    if q.count:
        return {"count": len(selected)}
    order = _parse_orderby(q.orderby or default_order)
    # Stable multi-key sort: ties keep insertion order (reversed for a descending primary key).
    indexed = list(enumerate(selected))
    primary_desc = order[0][1] if order else True
    indexed.sort(key=lambda p: seq(p[1]) if seq else p[0], reverse=primary_desc)
    for name, desc in reversed(order):
        path = (aliases or {}).get(name, name)

        def key(p: tuple[int, dict[str, Any]], path: str = path) -> tuple[int, Any]:
            vals = resolve(p[1], path)
            return _sort_key(vals[0] if vals else _MISSING)

        present = [p for p in indexed if resolve(p[1], path)]
        missing = [p for p in indexed if not resolve(p[1], path)]
        present.sort(key=key, reverse=desc)
        indexed = present + missing
    ordered = [p[1] for p in indexed]
    return page_body(page_of(ordered, q), q, collection, more=q.offset + q.limit < len(ordered))


def page_of(ordered: Sequence[T], q: ListQuery) -> Sequence[T]:
    """The slice of ``ordered`` that the query's page (offset, limit) covers."""
    return ordered[q.offset : q.offset + q.limit]


def page_body(
    page: Sequence[dict[str, Any]], q: ListQuery, collection: str, *, more: bool | None = None
) -> dict[str, Any]:
    """The list envelope of one page: ``items`` and ``_links.next`` (a continuation token) when ``more``.

    ``more`` defaults to "the page is full" (a last page that is exactly full then links to an empty one).
    """
    body: dict[str, Any] = {"items": list(page)}
    if more if more is not None else len(page) >= q.limit:
        next_offset = q.offset + q.limit
        state: dict[str, Any] = {"p": [f.as_query() for f in q.filters], "l": q.limit, "s": next_offset}
        if q.orderby:
            state["o"] = q.orderby
        # Only the token: it carries the filters, order and limit (Adobe's docs show the same href).
        body["_links"] = {"next": {"href": f"/{collection}?{urlencode([('continuationToken', _b64(state))])}"}}
    else:
        body["_links"] = {}
    return body


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "FlowServiceError",
    "ListQuery",
    "PropertyFilter",
    "apply_query",
    "matches",
    "page_body",
    "page_of",
    "parse_list_query",
    "parse_property",
    "resolve",
]
