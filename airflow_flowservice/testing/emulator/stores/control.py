"""The control resource: what a test steers beyond the API (reset, run outcomes, seeded history, journals,
a summary).

Fault rules and the request log live in the shared state (the gateway applies and fills them);
everything else goes through the other stores' methods.
"""

from __future__ import annotations

from typing import Any

from ..state import EmulatorState, SandboxKey
from .auth import TokenAuthority
from .catalog import CatalogStore
from .connections import ConnectionStore
from .conversion import ConversionStore
from .events import EventStore
from .flows import FlowStore
from .runs import RunStore


class ControlStore:
    """The test controls over every other store."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        auth: TokenAuthority,
        catalog: CatalogStore,
        connections: ConnectionStore,
        flows: FlowStore,
        runs: RunStore,
        conversion: ConversionStore,
        events: EventStore,
        sandbox: str,
    ) -> None:
        self.state = state
        self.auth = auth
        self.catalog = catalog
        self.connections = connections
        self.flows = flows
        self.runs = runs
        self.conversion = conversion
        self.events = events
        #: the sandbox of the control calls that name none: the one of ``emu.connection_uri()``
        self.sandbox = sandbox

    def key(self, org_id: str | None = None, sandbox: str | None = None) -> SandboxKey:
        return (org_id or self.auth.org_id, sandbox or self.sandbox)

    def reset(self) -> None:
        """Drop every entity, run, mapping set, journal event and added registration, fault rule, run outcome,
        the request log, and the datasets and XDM schemas a test set; keep the catalog's own, clock, tokens."""
        with self.state.lock:
            for store in (self.catalog, self.connections, self.flows, self.runs, self.conversion, self.events):
                store.reset()
            self.state.reset()

    def scopes(self) -> dict[str, dict[str, int]]:
        """Entity counts per ``org/sandbox`` the emulator has seen."""
        with self.state.lock:
            return {
                f"{sb.org_id}/{sb.name}": {
                    **self.connections.counts((sb.org_id, sb.name)),
                    **self.flows.counts((sb.org_id, sb.name)),
                    **self.runs.counts((sb.org_id, sb.name)),
                }
                for sb in self.state.sandboxes()
            }

    def describe(self) -> dict[str, Any]:
        """``GET /_emulator/state``."""
        clock = self.state.clock
        return {
            "org_id": self.auth.org_id,
            "client_id": self.auth.client_id,
            "clock": {"now": clock.now(), "mode": clock.mode},
            "run_timeline": list(self.runs.run_timeline),
            "scopes": self.scopes(),
            "run_outcomes": [r.as_dict() for r in self.runs.outcomes.rules],
        }

    def seed_runs(
        self,
        flow_id: str,
        windows: list[tuple[int, int]],
        *,
        org_id: str | None = None,
        sandbox: str | None = None,
        created_from_ms: int | None = None,
    ) -> list[str]:
        return self.runs.seed(self.key(org_id, sandbox), flow_id, windows, created_from_ms=created_from_ms)

    def flow_runs(
        self, flow_id: str, *, org_id: str | None = None, sandbox: str | None = None
    ) -> list[dict[str, Any]] | None:
        """A flow's runs (``id``, ``window``, ``status``, ``created_at``), oldest first; ``None``: no such flow."""
        return self.runs.of_flow(self.key(org_id, sandbox), flow_id)
