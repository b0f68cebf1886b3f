"""What every resource store shares: the clock, one lock, the request log, the fault rules, ids and etags.

Each store keeps its own tables per (org, sandbox) in a :class:`PerSandbox`; a store reads another
resource only through that store's methods.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .clock import Clock
from .faults import FaultInjector
from .requestlog import RequestLog

#: ``(org id, sandbox name)``: where an entity lives.
SandboxKey = tuple[str, str]
T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """Who makes the request (from the token) and where (org, sandbox)."""

    client_id: str
    org_id: str
    sandbox: str

    @property
    def key(self) -> SandboxKey:
        return (self.org_id, self.sandbox)


@dataclass(frozen=True)
class Sandbox:
    """A sandbox the emulator has seen, with the stable id its entities carry as ``sandboxId``."""

    org_id: str
    name: str
    id: str


def new_etag() -> str:
    """A fresh quoted etag, e.g. ``"1a0037e4-0000-0200-0000-602e06f60000"``."""
    h = uuid.uuid4().hex
    return f'"{h[:8]}-0000-0200-0000-{h[8:20]}"'


class EmulatorState:
    """The state the resource stores share. Every store method that reads or writes holds ``lock``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.requests = RequestLog()
        self.faults = FaultInjector()
        self._seq = 0
        self._sandboxes: dict[SandboxKey, Sandbox] = {}

    def next_seq(self) -> int:
        """A number that grows with every entity or run created (ties of ``createdAt`` keep creation order)."""
        with self.lock:
            self._seq += 1
            return self._seq

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    new_etag = staticmethod(new_etag)

    def sandbox(self, key: SandboxKey) -> Sandbox:
        """The sandbox of ``key``, registered on first use."""
        with self.lock:
            found = self._sandboxes.get(key)
            if found is None:
                org_id, name = key
                sandbox_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"aep-sandbox:{org_id}:{name}"))
                found = self._sandboxes[key] = Sandbox(org_id, name, sandbox_id)
            return found

    def sandboxes(self) -> list[Sandbox]:
        with self.lock:
            return list(self._sandboxes.values())

    def audit_fields(self, caller: Caller, entity_id: str) -> dict[str, Any]:
        """The fields a new entity starts with (``_seq`` and ``_etag`` are private: never rendered)."""
        now = self.clock.now_ms()
        user = f"{caller.client_id}@AdobeID"
        sandbox = self.sandbox(caller.key)
        return {
            "id": entity_id,
            "createdAt": now,
            "updatedAt": now,
            "createdBy": user,
            "updatedBy": user,
            "createdClient": caller.client_id,
            "updatedClient": caller.client_id,
            "sandboxId": sandbox.id,
            "sandboxName": sandbox.name,
            "imsOrgId": sandbox.org_id,
            "_seq": self.next_seq(),
            "_etag": new_etag(),
        }

    def touch(self, entity: dict[str, Any], caller: Caller, operation: str = "update") -> str:
        """Record an update of ``entity`` by ``caller``; returns its new etag."""
        now_ms = self.clock.now_ms()
        etag = new_etag()
        entity["_etag"] = etag
        entity["updatedAt"] = now_ms
        entity["updatedBy"] = f"{caller.client_id}@AdobeID"
        entity["updatedClient"] = caller.client_id
        entity["_lastOperation"] = {"started": now_ms, "updated": now_ms, "operation": operation}
        return etag

    def reset(self) -> None:
        """Forget the sandboxes, the fault rules and the request log (the clock keeps its time)."""
        with self.lock:
            self._seq = 0
            self._sandboxes.clear()
            self.faults.clear()
            self.requests.clear()


class PerSandbox(Generic[T]):
    """One store's tables for each sandbox, made on first use (which registers the sandbox in the state)."""

    def __init__(self, state: EmulatorState, factory: Callable[[], T]) -> None:
        self._state = state
        self._factory = factory
        self._tables: dict[SandboxKey, T] = {}

    def __getitem__(self, key: SandboxKey) -> T:
        tables = self._tables.get(key)
        if tables is None:
            self._state.sandbox(key)
            tables = self._tables[key] = self._factory()
        return tables

    def get(self, key: SandboxKey) -> T | None:
        return self._tables.get(key)

    def __iter__(self) -> Iterator[SandboxKey]:
        return iter(list(self._tables))

    def clear(self) -> None:
        self._tables.clear()
