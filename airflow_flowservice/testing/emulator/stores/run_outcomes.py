"""How runs end: the ``run_outcome`` rules a test sets (success, failed, success with failed records)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

RUN_KINDS = ("success", "failed", "failed_records")


@dataclass
class OutcomeRule:
    """How the next run(s) end: ``kind`` in success / failed / failed_records."""

    flow_id: str | None
    kind: str
    failed_records: int = 5
    times: int | None = None
    used: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "kind": self.kind,
            "failed_records": self.failed_records,
            "times": self.times,
            "used": self.used,
        }


class OutcomePlan:
    """The ``run_outcome`` rules; a rule for a flow wins over a rule for any flow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[OutcomeRule] = []

    def set(self, flow_id: str | None, kind: str, failed_records: int = 5, times: int | None = None) -> OutcomeRule:
        if kind not in RUN_KINDS:
            raise ValueError(f"kind must be one of {RUN_KINDS}, got {kind!r}")
        rule = OutcomeRule(flow_id, kind, max(0, int(failed_records)), times)
        with self._lock:
            self._rules = [r for r in self._rules if r.flow_id != flow_id]
            if kind != "success" or times is not None:
                self._rules.append(rule)
        return rule

    def take(self, flow_id: str) -> tuple[str, int]:
        """The outcome of a run of ``flow_id`` created now: ``(kind, failed_records)``."""
        with self._lock:
            for wanted in (flow_id, None):
                for rule in self._rules:
                    if rule.flow_id == wanted and (rule.times is None or rule.used < rule.times):
                        rule.used += 1
                        return rule.kind, rule.failed_records
        return "success", 0

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[OutcomeRule]:
        with self._lock:
            return list(self._rules)
