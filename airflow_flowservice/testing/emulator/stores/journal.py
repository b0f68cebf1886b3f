"""One I/O Events journal: the events of one registration, their positions, retention, and delivery rules.

Adobe I/O Events, "Journaling API": a journal is an ordered list of events, each at a unique position;
a read answers the events after a position (``since``), from the oldest kept (no query), or none from
the end (``latest``); events are kept for 7 days after they were written, and a position whose next
events have expired answers ``410 Gone``. Delivery is at least once and unordered: the delivery rules
(drop, duplicate, reorder the next N events) let a test make it so.

Positions here are ``<seq>.<generation>.<check>`` (opaque to clients; zero-padded, so they sort in
journal order): ``seq`` counts the events written (a position is "after the seq-th event"),
``generation`` counts :meth:`Journal.expire` calls, and ``check`` ties the position to its journal.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import GatewayError
from ..paths import journal_path

#: How long a journal keeps an event after it was written (the Journaling API guide: 7 days).
RETENTION_S = 7 * 86400
DELIVERY_KINDS = ("drop", "duplicate", "reorder")


@dataclass(frozen=True)
class Registration:
    """An I/O Events registration with journal delivery: its ids and the event codes it subscribes to."""

    consumer_org_id: str
    integration_id: str
    registration_id: str
    event_codes: tuple[str, ...]

    @property
    def path(self) -> str:
        return journal_path(self.consumer_org_id, self.integration_id, self.registration_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "consumer_org_id": self.consumer_org_id,
            "integration_id": self.integration_id,
            "registration_id": self.registration_id,
            "event_codes": list(self.event_codes),
            "path": self.path,
        }


@dataclass(frozen=True)
class Notification:
    """An event to append: the payload, and what the delivery rules and subscriptions select on."""

    payload: Any
    code: str
    flow_id: str
    run_id: str
    written_ms: int


@dataclass
class Entry:
    """An event as written: its place (``seq``, the ``generation`` it was written in) and when."""

    seq: int
    generation: int
    written_ms: int
    notification: Notification


@dataclass
class DeliveryRule:
    """How the next ``n`` events (of ``flow_id``, or of any flow) are delivered: dropped, twice, or reordered."""

    kind: str
    n: int
    flow_id: str | None = None
    used: int = 0
    #: reorder: the events held until the n-th arrives, then written in reverse order (with their copies)
    held: list[tuple[Notification, int]] = field(default_factory=list)

    def matches(self, flow_id: str) -> bool:
        return self.used < self.n and (self.flow_id is None or self.flow_id == flow_id)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "flow_id": self.flow_id, "used": self.used, "held": len(self.held)}


@dataclass(frozen=True)
class JournalPage:
    """What a read found: ``events`` (``[{"position", "event"}]``, empty at the end) and the position to read on."""

    events: list[dict[str, Any]]
    next_since: str


def gone(position: str) -> GatewayError:
    """410: the message of the Journaling API guide ("Fetching expired events")."""
    return GatewayError(410, "410", f"Events at position {position} have expired.")


def bad_query(message: str) -> GatewayError:
    return GatewayError(400, "400", message)


class Journal:
    """The journal of one registration. The caller (the events store) holds the shared lock."""

    def __init__(self, registration: Registration, retention_s: float = RETENTION_S) -> None:
        self.registration = registration
        self.retention_ms = int(retention_s * 1000)
        self.rules: list[DeliveryRule] = []
        self._entries: list[Entry] = []
        self._last_seq = 0  # never reset: a position stays unique for the journal's whole life
        self._generation = 0
        self._removed_upto = 0  # events up to this seq are gone (retention or expire)
        self._last_written_ms = 0

    # ---- positions --------------------------------------------------------------------------------

    def position(self, seq: int, generation: int) -> str:
        check = hashlib.sha256(f"{self.registration.path}|{seq}|{generation}".encode()).hexdigest()[:10]
        return f"{seq:012d}.{generation:04d}.{check}"

    def _parse(self, text: str) -> tuple[int, int]:
        parts = text.strip().split(".")
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            seq, generation = int(parts[0]), int(parts[1])
            if self.position(seq, generation) == text.strip() and seq <= self._last_seq:
                return seq, generation
        raise bad_query(f"Invalid position {text}: not a position of this journal.")

    @property
    def end(self) -> str:
        """The position after the last event written (where ``latest=true`` puts a reader)."""
        return self.position(self._last_seq, self._generation)

    # ---- writing ----------------------------------------------------------------------------------

    def append(self, note: Notification) -> None:
        """Write ``note`` if the registration subscribes to its code, as the delivery rules say."""
        if note.code not in self.registration.event_codes:
            return
        if self._take("drop", note.flow_id) is not None:
            return
        copies = 2 if self._take("duplicate", note.flow_id) is not None else 1
        reorder = self._take("reorder", note.flow_id)
        if reorder is None:
            self._write(note, copies)
            return
        reorder.held.append((note, copies))
        if reorder.used >= reorder.n:
            self._release(reorder, reverse=True)

    def _take(self, kind: str, flow_id: str) -> DeliveryRule | None:
        """The first rule of ``kind`` for this flow that is not used up, counting this event against it."""
        rule = next((r for r in self.rules if r.kind == kind and r.matches(flow_id)), None)
        if rule is not None:
            rule.used += 1
            if rule.used >= rule.n and kind != "reorder":  # a reorder rule goes once it has released
                self.rules.remove(rule)
        return rule

    def _release(self, rule: DeliveryRule, *, reverse: bool) -> None:
        held, rule.held = rule.held, []
        for note, copies in reversed(held) if reverse else held:
            self._write(note, copies)
        self.rules = [r for r in self.rules if r is not rule]

    def _write(self, note: Notification, copies: int) -> None:
        # Written times never go back (the clock may): expiry removes events from the beginning only.
        written = max(note.written_ms, self._last_written_ms)
        self._last_written_ms = written
        for _ in range(copies):
            self._last_seq += 1
            self._entries.append(Entry(self._last_seq, self._generation, written, note))

    def add_rule(self, kind: str, n: int, flow_id: str | None = None) -> DeliveryRule:
        if kind not in DELIVERY_KINDS:
            raise ValueError(f"kind must be one of {DELIVERY_KINDS}, got {kind!r}")
        if int(n) < (2 if kind == "reorder" else 1):
            raise ValueError(f"{kind}: n must be at least {2 if kind == 'reorder' else 1} (got {n})")
        rule = DeliveryRule(kind, int(n), flow_id)
        self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Forget the delivery rules; events held for a reorder are written, in the order they came."""
        for rule in list(self.rules):
            self._release(rule, reverse=False)
        self.rules = []

    # ---- retention --------------------------------------------------------------------------------

    def trim(self, now_ms: int) -> None:
        """Remove the events written more than the retention ago (from the beginning)."""
        keep = 0
        while keep < len(self._entries) and self._entries[keep].written_ms + self.retention_ms <= now_ms:
            keep += 1
        if keep:
            self._removed_upto = self._entries[keep - 1].seq
            del self._entries[:keep]

    def expire(self) -> None:
        """Every position handed out so far is past the retention: reading from it answers 410.

        The events written so far go with them; the journal goes on from a fresh end position.
        """
        self._removed_upto = self._last_seq
        self._entries.clear()
        self._generation += 1

    # ---- reading ----------------------------------------------------------------------------------

    def read(self, since: str | None, latest: bool, limit: int, now_ms: int) -> JournalPage:
        """A read: ``latest`` (the end, no events), ``since`` a position, or neither (the oldest kept)."""
        self.trim(now_ms)
        if latest:
            return JournalPage([], self.end)
        after = self._removed_upto
        if since is not None:
            seq, generation = self._parse(since)
            if generation < self._generation or seq < self._removed_upto:
                raise gone(since)
            after = seq
        start = bisect.bisect_right(self._entries, after, key=lambda e: e.seq)
        chunk = self._entries[start : start + limit]
        if not chunk:
            return JournalPage([], since if since is not None else self.end)
        events = [self._item(e) for e in chunk]
        return JournalPage(events, events[-1]["position"])

    def _item(self, entry: Entry) -> dict[str, Any]:
        return {"position": self.position(entry.seq, entry.generation), "event": entry.notification.payload}

    def events(self, now_ms: int) -> list[dict[str, Any]]:
        """Every event the journal keeps now, oldest first (``{"position", "event"}``)."""
        self.trim(now_ms)
        return [self._item(e) for e in self._entries]

    def clear(self) -> None:
        """Drop the events and the delivery rules (a reset); positions keep counting, so they stay unique."""
        self._entries.clear()
        self.rules = []
        self._last_written_ms = 0
