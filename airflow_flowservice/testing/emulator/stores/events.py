"""The events resource: Adobe I/O Events journals of flow-run notifications, one per registration.

Each registration with journal delivery has its journal at
``/events/organizations/{consumerOrgId}/integrations/{integrationId}/{registrationId}`` on the emulator's
host. One registration exists from the start (:data:`DEFAULT_REGISTRATION`); tests add more. When a run
finishes (lazily, by the emulator clock) its notification is appended to every journal whose
registration subscribes to its code, in completion order. Before any read or control, the store asks
the runs store for every run finished by now (:meth:`.runs.RunStore.take_finished`), read or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from ..errors import GatewayError
from ..state import EmulatorState
from .journal import RETENTION_S, DeliveryRule, Journal, JournalPage, Notification, Registration, bad_query
from .notifications import EVENT_CODES, event_code, notification

#: The registration every emulator has: fixed, readable ids.
DEFAULT_REGISTRATION = Registration(
    consumer_org_id="emulator-consumer-org",
    integration_id="emulator-integration",
    registration_id="emulator-flow-runs",
    event_codes=EVENT_CODES,
)
#: The ``retry-after`` (seconds) of a ``204`` at the end of a journal (Adobe's guide shows 10; the emulator is quicker).
DEFAULT_RETRY_AFTER = 1.0
#: Events per read when the request sets no ``limit`` (the service sets no upper bound; the emulator does).
DEFAULT_LIMIT = 100


class FinishedRuns(Protocol):
    """What the events store reads of the runs store: the runs finished since it last asked."""

    def take_finished(self) -> list[tuple[int, dict[str, Any]]]: ...


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.strip().isdigit() or int(raw) < 1:
        raise bad_query(f"Invalid limit {raw}: the limit must be a positive integer.")
    return int(raw)


class EventStore:
    """The journals of the emulator's registrations. Every public method holds the shared lock."""

    def __init__(self, state: EmulatorState, runs: FinishedRuns, retention_s: float = RETENTION_S) -> None:
        self.state = state
        self.runs = runs
        self.retention_s = retention_s
        #: the ``retry-after`` of a ``204`` (seconds)
        self.retry_after = DEFAULT_RETRY_AFTER
        self._journals: dict[str, Journal] = {}
        self._add(DEFAULT_REGISTRATION)

    def _add(self, registration: Registration) -> Journal:
        journal = self._journals[registration.registration_id] = Journal(registration, self.retention_s)
        return journal

    def sync(self) -> None:
        """Append the notification of every run finished by now, in completion order."""
        with self.state.lock:
            for finished_ms, run in self.runs.take_finished():
                note = Notification(
                    payload=notification(run, finished_ms),
                    code=event_code(run),
                    flow_id=str(run.get("flowId", "")),
                    run_id=str(run.get("id", "")),
                    written_ms=finished_ms,
                )
                for journal in self._journals.values():
                    journal.append(note)

    def journal(self, registration_id: str | None = None) -> Journal:
        """The journal of a registration (``None``: the default one); ``KeyError`` for an unknown one."""
        wanted = registration_id or DEFAULT_REGISTRATION.registration_id
        found = self._journals.get(wanted)
        if found is None:
            raise KeyError(f"no registration {wanted} (registrations: {', '.join(self._journals)})")
        return found

    # ---- the Journaling API ------------------------------------------------------------------------

    def read(
        self,
        consumer_org_id: str,
        integration_id: str,
        registration_id: str,
        *,
        since: str | None,
        latest: str | None,
        limit: str | None,
    ) -> JournalPage:
        """``GET /events/organizations/{consumerOrgId}/integrations/{integrationId}/{registrationId}``."""
        count = _limit(limit)
        with self.state.lock:
            journal = self._journals.get(registration_id)
            owner = (journal.registration.consumer_org_id, journal.registration.integration_id) if journal else None
            if journal is None or owner != (consumer_org_id, integration_id):
                raise GatewayError(404, "404", f"No event registration {registration_id} in this integration.")
            self.sync()
            is_latest = (latest or "").strip().lower() == "true"
            return journal.read(since, is_latest, count, self.state.clock.now_ms())

    # ---- control -----------------------------------------------------------------------------------

    def add_registration(
        self,
        registration_id: str | None = None,
        *,
        integration_id: str | None = None,
        consumer_org_id: str | None = None,
        event_codes: Iterable[str] | None = None,
    ) -> Registration:
        """A new registration with an empty journal: it gets the notifications of runs finishing from now on."""
        codes = tuple(event_codes) if event_codes is not None else EVENT_CODES
        unknown = [c for c in codes if c not in EVENT_CODES]
        if unknown or not codes:
            raise ValueError(f"event_codes must be among {EVENT_CODES} (got {list(codes)})")
        with self.state.lock:
            self.sync()  # what finished before belongs to the journals that existed then
            registration = Registration(
                consumer_org_id or DEFAULT_REGISTRATION.consumer_org_id,
                integration_id or DEFAULT_REGISTRATION.integration_id,
                registration_id or self.state.new_id(),
                codes,
            )
            if registration.registration_id in self._journals:
                raise ValueError(f"registration {registration.registration_id} exists already")
            return self._add(registration).registration

    def registrations(self) -> list[Registration]:
        with self.state.lock:
            return [j.registration for j in self._journals.values()]

    def add_rule(
        self, kind: str, n: int, flow_id: str | None = None, registration_id: str | None = None
    ) -> DeliveryRule:
        """Drop, duplicate or reorder the next ``n`` events (of ``flow_id``) of a registration's journal."""
        with self.state.lock:
            journal = self.journal(registration_id)
            self.sync()  # the runs finished by now are in the journal already: the rule is for the next ones
            return journal.add_rule(kind, n, flow_id)

    def clear_rules(self, registration_id: str | None = None) -> None:
        with self.state.lock:
            journal = self.journal(registration_id)
            self.sync()
            journal.clear_rules()

    def expire(self, registration_id: str | None = None) -> None:
        """Every position of the journal handed out so far answers 410 from now on."""
        with self.state.lock:
            journal = self.journal(registration_id)
            self.sync()
            journal.expire()

    def events(self, registration_id: str | None = None) -> list[dict[str, Any]]:
        """The events a registration's journal keeps now, oldest first (``{"position", "event"}``)."""
        with self.state.lock:
            journal = self.journal(registration_id)
            self.sync()
            return journal.events(self.state.clock.now_ms())

    def set_retry_after(self, seconds: float) -> None:
        value = float(seconds)
        if value < 0:
            raise ValueError(f"retry-after must be >= 0 seconds (got {seconds})")
        with self.state.lock:
            self.retry_after = value

    def describe(self, registration_id: str | None = None) -> dict[str, Any]:
        """A registration, its journal's delivery rules and end position (``GET /_emulator/events``)."""
        with self.state.lock:
            journal = self.journal(registration_id)
            self.sync()
            return {
                **journal.registration.as_dict(),
                "rules": [r.as_dict() for r in journal.rules],
                "end": journal.end,
                "retry_after": self.retry_after,
            }

    def reset(self) -> None:
        """Back to the default registration, its journal emptied (positions keep counting); no rules."""
        with self.state.lock:
            default = self.journal()
            default.clear()
            self._journals = {DEFAULT_REGISTRATION.registration_id: default}
            self.retry_after = DEFAULT_RETRY_AFTER
