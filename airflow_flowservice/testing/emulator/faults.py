"""Fault injection: latency, N x status, 429 with Retry-After, drop-after-apply, token expiry."""

from __future__ import annotations

import fnmatch
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

FAULT_KINDS = ("status", "rate_limit", "latency", "drop_after_apply", "token_expired")
#: The parameters each kind uses, beyond those of every rule (method, path, times, probability, seed):
#: a rule's JSON (``as_dict``, the admin endpoint's answer) shows only these.
KIND_PARAMETERS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "rate_limit": ("retry_after",),
    "latency": ("delay",),
    "drop_after_apply": (),
    "token_expired": (),
}


@dataclass
class FaultRule:
    """One fault rule.

    ``method`` is an HTTP method or ``*``; ``path`` a glob over the path relative to the API base
    (``/runs``, ``/runs/*``, ``/flows/*/action``) or ``/ims/token/v3``; ``times`` how many requests
    it hits (``None`` = forever); ``probability`` (with ``seed``) makes it hit a seeded-random share
    of the matching requests. Kinds:

    - ``status``: answer ``status`` (default 503) without running the handler.
    - ``rate_limit``: answer 429 with ``Retry-After: retry_after``.
    - ``latency``: sleep ``delay`` seconds, then handle normally (does not consume other rules).
    - ``drop_after_apply``: run the handler (the state change happens), then close the connection
      before the response is complete.
    - ``token_expired``: answer 401 ``{"error_code": "401013", ...}`` as for an expired token.
    """

    method: str = "*"
    path: str = "*"
    kind: str = "status"
    status: int = 503
    times: int | None = 1
    retry_after: str | int | None = "1"
    delay: float = 0.0
    probability: float = 1.0
    seed: int | None = None
    body: Any = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    hits: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {FAULT_KINDS}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0 or None")
        self.method = self.method.upper()
        self._rng = random.Random(self.seed)

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method.upper()):
            return False
        return fnmatch.fnmatchcase(path, self.path) or fnmatch.fnmatchcase(path.rstrip("/"), self.path)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def as_dict(self) -> dict[str, Any]:
        """The rule as JSON: what every rule has, and the parameters its kind uses (``KIND_PARAMETERS``)."""
        used = KIND_PARAMETERS[self.kind]
        out: dict[str, Any] = {"id": self.id, "method": self.method, "path": self.path, "kind": self.kind}
        if "status" in used:
            out["status"] = self.status
        out["times"] = self.times
        if "retry_after" in used:
            out["retry_after"] = self.retry_after
        if "delay" in used:
            out["delay"] = self.delay
        out.update(probability=self.probability, seed=self.seed, hits=self.hits)
        return out


class FaultInjector:
    """The set of active fault rules (``emu.faults``): ``add``, ``clear``, ``remove``, ``rules``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(
        self,
        method: str = "*",
        path: str = "*",
        kind: str = "status",
        *,
        status: int = 503,
        times: int | Literal["default"] | None = "default",
        retry_after: str | int | None = "1",
        delay: float = 0.0,
        probability: float = 1.0,
        seed: int | None = None,
        body: Any = None,
    ) -> FaultRule:
        """Add a rule and return it.

        ``times`` defaults to 1, except for ``kind="latency"`` where it defaults to ``None`` (forever).
        """
        if times == "default":
            times = None if kind == "latency" else 1
        if not path.startswith("/") and path != "*":
            path = "/" + path
        rule = FaultRule(
            method=method,
            path=path,
            kind=kind,
            status=status,
            times=times,
            retry_after=retry_after,
            delay=delay,
            probability=probability,
            seed=seed,
            body=body,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, method: str, path: str) -> tuple[float, FaultRule | None]:
        """For one request: total latency to add, and the first non-latency rule that fires.

        Consumes one hit of every rule that fires. Rules are checked in insertion order.
        """
        delay = 0.0
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(method, path):
                    continue
                if rule.kind != "latency" and chosen is not None:
                    continue
                if rule.probability < 1.0 and rule._rng.random() >= rule.probability:
                    continue
                rule.hits += 1
                if rule.kind == "latency":
                    delay += rule.delay
                else:
                    chosen = rule
        return delay, chosen
