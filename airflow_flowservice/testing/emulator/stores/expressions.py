"""Data Prep expressions (``sourceType: EXPRESSION``): parsed to check them, evaluated for previews.

The syntax of Adobe's "Data Prep mapping functions" page: field names (``first_name``, ``name.firstName``,
``${First Name}``), string (``"..."``, ``'...'``), number, ``true``/``false``/``null`` and array (``[...]``)
literals, function calls (``concat(a, " ", b)``), the methods ``equals``, ``equalsIgnoreCase`` and ``get``,
and the operators ``! - not``, ``* / % div mod``, ``+ -``, ``< <= > >= lt le gt ge``, ``== != eq ne``,
``&& and``, ``|| or``. A function the page does not list is an error. Previews evaluate the common
functions (:data:`EVALUATED`); the others parse but preview to an error naming them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Every function of Adobe's "Data Prep mapping functions" page.
FUNCTIONS = frozenset(
    {
        "concat",
        "explode",
        "instr",
        "replacestr",
        "substr",
        "lower",
        "lcase",
        "upper",
        "ucase",
        "split",
        "join",
        "lpad",
        "rpad",
        "left",
        "right",
        "ltrim",
        "rtrim",
        "trim",
        "extract_regex",
        "matches_regex",
        "sha1",
        "sha256",
        "sha512",
        "md5",
        "crc32",
        "get_url_protocol",
        "get_url_host",
        "get_url_port",
        "get_url_path",
        "get_url_query_str",
        "get_url_encoded",
        "get_url_decoded",
        "now",
        "timestamp",
        "format",
        "dformat",
        "date",
        "date_part",
        "set_date_part",
        "make_date_time",
        "make_timestamp",
        "zone_date_to_utc",
        "zone_date_to_zone",
        "is_empty",
        "arrays_to_object",
        "to_object",
        "str_to_object",
        "contains_key",
        "nullify",
        "get_keys",
        "get_values",
        "coalesce",
        "first",
        "last",
        "add_to_array",
        "join_arrays",
        "to_array",
        "size_of",
        "upsert_array_append",
        "upsert_array_replace",
        "decode",
        "iif",
        "min",
        "max",
        "to_bigint",
        "to_decimal",
        "to_float",
        "to_integer",
        "json_to_object",
        "uuid",
        "guid",
        "fpid_to_ecid",
        "ua_os_name",
        "ua_os_version_major",
        "ua_os_version",
        "ua_agent_version",
        "ua_agent_version_major",
        "ua_agent_name",
        "ua_device_class",
    }
)
METHODS = frozenset({"equals", "equalsIgnoreCase", "get"})
_WORD_OPS = {"or": "||", "and": "&&", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_WORD_OPS.update({"div": "/", "mod": "%"})
_LEVELS: list[tuple[str, ...]] = [("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%")]
_TOKEN = re.compile(
    r"""\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<field>\$\{(?:[^}\\]|\\.)*\})"""
    r"""|(?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!()\[\],.]))"""
)


class ExpressionError(ValueError):
    """An expression that does not parse, or names an unknown function; ``position`` is where (0-based)."""

    def __init__(self, message: str, position: int) -> None:
        self.position = position
        super().__init__(f"{message} at position {position}")


@dataclass(frozen=True)
class Token:
    kind: str  # num, str, field, ident, op, end
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:]
            at = position + len(rest) - len(rest.lstrip())
            raise ExpressionError(f"unexpected character {text[at]!r}", at)
        kind = match.lastgroup or "op"
        start = match.start(kind)
        tokens.append(Token(kind, match.group(kind), start))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


class _Parser:
    """Recursive descent over :func:`tokenize`'s tokens; builds nested tuples (the AST)."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def op(self) -> str | None:
        t = self.tok
        if t.kind == "op":
            return t.text
        return _WORD_OPS.get(t.text) if t.kind == "ident" else None

    def expect(self, text: str) -> None:
        if self.tok.kind != "op" or self.tok.text != text:
            found = repr(self.tok.text) if self.tok.text else "the end of the expression"
            raise ExpressionError(f"expected {text!r}, found {found}", self.tok.position)
        self.i += 1

    def parse(self) -> Any:
        node = self.binary(0)
        if self.tok.kind != "end":
            raise ExpressionError(f"unexpected {self.tok.text!r}", self.tok.position)
        return node

    def binary(self, level: int) -> Any:
        if level == len(_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.op() in _LEVELS[level]:
            operator = str(self.op())
            self.i += 1
            node = ("bin", operator, node, self.binary(level + 1))
        return node

    def unary(self) -> Any:
        operator = self.op()
        if operator in ("!", "-"):
            self.i += 1
            return ("unary", operator, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Any) -> Any:
        while self.tok.kind == "op" and self.tok.text == ".":
            self.i += 1
            name = self.tok
            if name.kind != "ident":
                raise ExpressionError("expected a method name after '.'", name.position)
            if name.text not in METHODS:
                raise ExpressionError(f"unknown method {name.text!r} (use {', '.join(sorted(METHODS))})", name.position)
            self.i += 1
            node = ("method", node, name.text, self.arguments())
        return node

    def arguments(self, close: str = ")") -> list[Any]:
        if close == ")":
            self.expect("(")
        items: list[Any] = []
        if not (self.tok.kind == "op" and self.tok.text == close):
            items.append(self.binary(0))
            while self.tok.kind == "op" and self.tok.text == ",":
                self.i += 1
                items.append(self.binary(0))
        self.expect(close)
        return items

    def primary(self) -> Any:
        t = self.tok
        self.i += 1
        if t.kind == "num":
            return ("lit", float(t.text) if "." in t.text else int(t.text))
        if t.kind == "str":
            return ("lit", _unquote(t.text))
        if t.kind == "field":
            return ("field", [re.sub(r"\\(.)", r"\1", p) for p in re.split(r"(?<!\\)\.", t.text[2:-1])])
        if t.kind == "op" and t.text == "(":
            node = self.binary(0)
            self.expect(")")
            return node
        if t.kind == "op" and t.text == "[":
            return ("array", self.arguments("]"))
        if t.kind == "ident":
            return self.name(t)
        found = repr(t.text) if t.text else "the end of the expression"
        raise ExpressionError(f"expected a value, found {found}", t.position)

    def name(self, t: Token) -> Any:
        literals = {"true": True, "false": False, "null": None}
        if t.text in literals:
            return ("lit", literals[t.text])
        if self.tok.kind == "op" and self.tok.text == "(":
            if t.text not in FUNCTIONS:
                raise ExpressionError(f"unknown function {t.text!r}", t.position)
            return ("call", t.text, self.arguments())
        path = [t.text]
        while self.tok.text == "." and self.tokens[self.i + 1].kind == "ident":
            following = self.tokens[self.i + 2]
            if following.kind == "op" and following.text == "(":
                break  # a method call, not a path segment
            path.append(self.tokens[self.i + 1].text)
            self.i += 2
        return ("field", path)


def parse(text: str) -> Any:
    """The expression's tree; :class:`ExpressionError` when it does not parse."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty", 0)
    return _Parser(text).parse()


# ---- evaluation (previews) ------------------------------------------------------------------------


class NotEvaluated(Exception):
    """A known function the emulator does not evaluate."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = _text(value).strip()
    return float(text) if "." in text else int(text)


def _substr(value: Any, start: Any, length: Any = None) -> str:
    text = _text(value)
    return text[int(start) :] if length is None else text[int(start) : int(start) + int(length)]


def _decode(key: Any, *options: Any) -> Any:
    pairs = dict(zip(options[0::2], options[1::2], strict=False))
    default = options[-1] if len(options) % 2 else None
    return pairs.get(key, default)


def _hash(name: str) -> Callable[..., str]:
    return lambda value, charset="UTF-8": hashlib.new(name, _text(value).encode(str(charset))).hexdigest()


#: What previews evaluate; the other :data:`FUNCTIONS` parse but preview to an error.
EVALUATED: dict[str, Callable[..., Any]] = {
    "concat": lambda *args: "".join(_text(a) for a in args),
    "lower": lambda v: _text(v).lower(),
    "lcase": lambda v: _text(v).lower(),
    "upper": lambda v: _text(v).upper(),
    "ucase": lambda v: _text(v).upper(),
    "trim": lambda v: _text(v).strip(),
    "ltrim": lambda v: _text(v).lstrip(),
    "rtrim": lambda v: _text(v).rstrip(),
    "substr": _substr,
    "left": lambda v, n: _text(v)[: int(n)],
    "right": lambda v, n: _text(v)[-int(n) :] if int(n) else "",
    "replacestr": lambda v, old, new: _text(v).replace(_text(old), _text(new)),
    "split": lambda v, sep: _text(v).split(_text(sep)),
    "join": lambda sep, items: _text(sep).join(_text(i) for i in (items or [])),
    "iif": lambda cond, yes, no: yes if cond else no,
    "coalesce": lambda *args: next((a for a in args if a is not None), None),
    "first": lambda *args: args[0] if args else None,
    "last": lambda *args: args[-1] if args else None,
    "decode": _decode,
    "to_integer": lambda v: int(_number(v)),
    "to_bigint": _number,
    "to_float": lambda v: float(_number(v)),
    "to_decimal": lambda v: float(_number(v)),
    "to_array": lambda include_nulls, *values: [v for v in values if include_nulls or v is not None],
    "size_of": lambda v: len(v) if v is not None else 0,
    "is_empty": lambda v: not v,
    "min": lambda *args: min(args),
    "max": lambda *args: max(args),
    "matches_regex": lambda v, pattern: re.fullmatch(_text(pattern), _text(v)) is not None,
    "sha1": _hash("sha1"),
    "sha256": _hash("sha256"),
    "sha512": _hash("sha512"),
    "md5": _hash("md5"),
    "uuid": lambda: str(uuid.uuid4()),
    "guid": lambda: str(uuid.uuid4()),
    "nullify": lambda: None,
}


def field_value(row: Any, path: list[str]) -> Any:
    """The value at ``path`` in a source row (``None`` where absent)."""
    node = row
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _binary(operator: str, left: Any, right: Any) -> Any:
    if operator == "+":
        both_numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        return left + right if both_numbers else _text(left) + _text(right)
    table: dict[str, Callable[[Any, Any], Any]] = {
        "-": lambda a, b: _number(a) - _number(b),
        "*": lambda a, b: _number(a) * _number(b),
        "/": lambda a, b: _number(a) / _number(b),
        "%": lambda a, b: _number(a) % _number(b),
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return table[operator](left, right)


def evaluate(node: Any, row: Any) -> Any:
    """The value of a parsed expression for one source row; :class:`NotEvaluated` for a function previews skip."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "field":
        return field_value(row, node[1])
    if kind == "array":
        return [evaluate(item, row) for item in node[1]]
    if kind == "unary":
        value = evaluate(node[2], row)
        return (not value) if node[1] == "!" else -_number(value)
    if kind == "bin":
        if node[1] in ("&&", "||"):
            left = evaluate(node[2], row)
            if (node[1] == "&&") != bool(left):
                return left
            return evaluate(node[3], row)
        return _binary(node[1], evaluate(node[2], row), evaluate(node[3], row))
    if kind == "method":
        target, args = evaluate(node[1], row), [evaluate(a, row) for a in node[3]]
        if node[2] == "get":
            return target.get(args[0]) if isinstance(target, dict) else None
        if node[2] == "equalsIgnoreCase":
            return _text(target).lower() == _text(args[0]).lower()
        return _text(target) == _text(args[0])
    function = EVALUATED.get(node[1])
    if function is None:
        raise NotEvaluated(node[1])
    return function(*[evaluate(a, row) for a in node[2]])
