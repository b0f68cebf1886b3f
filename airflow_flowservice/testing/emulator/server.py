"""``FlowServiceEmulator``: build the emulator, serve it (uvicorn in a thread), steer it from Python."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

from .app import build_app, build_stores
from .clock import Clock
from .paths import API_PREFIX, IMS_PATH
from .requestlog import RequestRecord
from .state import EmulatorState

DEFAULT_CLIENT_ID = "emulator-client"
DEFAULT_CLIENT_SECRET = "emulator-secret"
DEFAULT_ORG_ID = "EMULATOR0000000000000000@AdobeOrg"
DEFAULT_SANDBOX = "dev"


class FlowServiceEmulator:
    """A local Adobe Flow Service + IMS token endpoint.

    >>> with FlowServiceEmulator(clock="manual", run_timeline=(1.0, 2.0)) as emu:  # doctest: +SKIP
    ...     base_url = emu.base_url           # http://127.0.0.1:<port>
    ...     emu.clock.advance(5)              # runs move on the emulator clock

    Any sandbox name works (data is kept per org and sandbox); ``sandbox`` only sets the one put in
    :meth:`connection_uri`. ``token_ttl`` is the ``expires_in`` returned by IMS, in seconds, and tokens
    stop working once it has passed on the emulator clock. ``run_timeline=(a, b)``: a run turns
    ``inProgress`` ``a`` seconds after creation and finishes ``b`` seconds after creation.
    """

    def __init__(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        org_id: str = DEFAULT_ORG_ID,
        sandbox: str = DEFAULT_SANDBOX,
        token_ttl: float = 86399,
        clock: str = "real",
        run_timeline: tuple[float, float] = (1.0, 2.0),
        host: str = "127.0.0.1",
        run_create_envelope: str = "bare",
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the emulator binds to the loopback interface only (127.0.0.1)")
        start, end = float(run_timeline[0]), float(run_timeline[1])
        if start < 0 or end < start:
            raise ValueError("run_timeline must be (t_in_progress, t_finished) with 0 <= t_in_progress <= t_finished")
        self.client_id = client_id
        self.client_secret = client_secret
        self.org_id = org_id
        self.sandbox = sandbox
        self.token_ttl = token_ttl
        self.host = "127.0.0.1" if host == "localhost" else host
        self.clock = Clock(clock)
        self.state = EmulatorState(self.clock)
        #: one store per resource (``stores.flows``, ``stores.runs``, ...); see docs/emulator.md
        self.stores = build_stores(
            self.state,
            client_id=client_id,
            client_secret=client_secret,
            org_id=org_id,
            sandbox=sandbox,
            token_ttl=token_ttl,
            run_timeline=(start, end),
        )
        self.faults = self.state.faults
        self.requests = self.state.requests
        self.catalog = self.stores.catalog
        self.conversion = self.stores.conversion
        self.auth = self.stores.auth
        self.run_create_envelope = run_create_envelope
        self.app = build_app(self.stores)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def run_create_envelope(self) -> str:
        """How ``POST /runs`` answers: ``"bare"`` ``{id, etag}`` (the OpenAPI spec, the default) or
        ``"items"`` ``{"items": [{id, etag}]}`` (Adobe's on-demand ingestion guide). Settable at any time."""
        return self.stores.runs.create_envelope

    @run_create_envelope.setter
    def run_create_envelope(self, value: str) -> None:
        if value not in ("bare", "items"):
            raise ValueError(f"run_create_envelope must be 'bare' or 'items' (got {value!r})")
        self.stores.runs.create_envelope = value

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self, port: int = 0, timeout: float = 10.0) -> str:
        """Serve on ``127.0.0.1:port`` (0 = a free port) in a background thread; returns the base URL."""
        import uvicorn

        if self._thread is not None:
            return self.base_url
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self._port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            timeout_keep_alive=5,
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            server.run(sockets=[sock])

        self._thread = threading.Thread(target=run, name=f"flowservice-emulator-{self._port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the Flow Service emulator failed to start")
            if time.monotonic() > deadline:
                raise RuntimeError("the Flow Service emulator did not start in time")
            time.sleep(0.01)
        self._sock = sock
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._server = None

    def __enter__(self) -> FlowServiceEmulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not started; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ims_url(self) -> str:
        return self.base_url + IMS_PATH

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def journal_url(self) -> str:
        """The I/O Events journal of the default registration (absolute): the extra ``events_journal_url``."""
        return self.base_url + self.stores.events.journal().registration.path

    def connection_uri(
        self, conn_type: str = "adobe-flowservice", sandbox: str | None = None, journal: bool = False
    ) -> str:
        """An Airflow connection URI pointing at this emulator.

        ``adobe-flowservice://<client_id>:<secret>@/?org_id=...&sandbox=...&ims_url=...&api_url=...``
        (Airflow turns ``-`` in the scheme into ``_``: conn type ``adobe_flowservice``). ``journal=True``
        adds ``events_journal_url`` (:attr:`journal_url`): the provider then reads the journal.
        """
        params = {
            "org_id": self.org_id,
            "sandbox": sandbox or self.sandbox,
            "ims_url": self.ims_url,
            "api_url": self.api_url,
        }
        if journal:
            params["events_journal_url"] = self.journal_url
        query = urlencode(params, quote_via=quote, safe="")
        return f"{conn_type}://{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}@/?{query}"

    def connection_env(
        self, conn_id: str = "flowservice_default", sandbox: str | None = None, journal: bool = False
    ) -> dict[str, str]:
        """``{"AIRFLOW_CONN_FLOWSERVICE_DEFAULT": uri}`` (for ``monkeypatch.setenv`` or a subprocess env).

        ``journal=True``: the connection has the extra ``events_journal_url`` (the default registration's journal).
        """
        return {f"AIRFLOW_CONN_{conn_id.upper()}": self.connection_uri(sandbox=sandbox, journal=journal)}

    # ---- control --------------------------------------------------------------------------------

    def calls(self, method: str | None = None, path_prefix: str | None = None) -> list[RequestRecord]:
        """Logged requests, optionally filtered by method and path prefix (``/runs``, ``/flows``)."""
        return self.requests.filter(method, path_prefix)

    def issued_tokens(self) -> list[str]:
        """Every access token issued so far, expired ones included (e.g. to prove no output shows one)."""
        return self.auth.issued()

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far (next API call: 401 ``401013``)."""
        self.auth.expire_all()

    def run_outcome(
        self,
        flow_id: str | None = None,
        kind: str = "failed",
        failed_records: int = 5,
        times: int | None = None,
    ) -> None:
        """Decide how runs created from now on end.

        ``kind``: ``"failed"`` (status failed, ``CONNECTOR-1001-500``), ``"failed_records"`` (status success
        with ``failed_records`` failed records and errors) or ``"success"`` (clears the rule). ``flow_id``
        limits the rule to one flow (it wins over a rule for any flow). ``times``: how many runs it
        applies to (``None`` = every run until changed). The outcome is fixed when a run is created.
        """
        self.stores.runs.outcomes.set(flow_id, kind, failed_records, times)

    def seed_datasets(self, datasets: list[dict[str, Any]]) -> None:
        """Replace the datasets listed by the ``activationDatasets`` configs of the data lake source spec."""
        self.stores.catalog.seed_datasets(datasets)

    def seed_runs(
        self,
        flow_id: str,
        windows: list[tuple[int, int]],
        sandbox: str | None = None,
        created_from_ms: int | None = None,
    ) -> list[str]:
        """Give a flow a history: one run per window, created a minute after the window ended.

        ``created_from_ms``: create the k-th run at ``created_from_ms + k`` ms instead (runs created
        in a burst, e.g. by a backfill).
        """
        return self.stores.control.seed_runs(flow_id, windows, sandbox=sandbox, created_from_ms=created_from_ms)

    def flow_runs(self, flow_id: str, sandbox: str | None = None) -> list[dict[str, Any]]:
        """A flow's runs as the emulator knows them, oldest first (``GET /_emulator/runs?flow_id=``).

        Each is ``{"id", "window": [start, end], "status", "created_at"}``: the window in epoch seconds,
        the status now (``scheduled``, ``inProgress``, ``success``, ``failed``), the creation time in epoch
        seconds on the emulator clock. Scheduled runs that are due are created first, as a read of
        ``GET /runs`` would. Raises ``KeyError`` for a flow the sandbox never had.
        """
        runs = self.stores.control.flow_runs(flow_id, sandbox=sandbox)
        if runs is None:
            raise KeyError(f"no flow {flow_id} in {self.org_id}/{sandbox or self.sandbox}")
        return runs

    # ---- I/O Events journals --------------------------------------------------------------------

    def add_registration(
        self,
        registration_id: str | None = None,
        *,
        integration_id: str | None = None,
        consumer_org_id: str | None = None,
        event_codes: Iterable[str] | None = None,
    ) -> str:
        """Another I/O Events registration with its own, empty journal; returns the journal's URL.

        It gets the notifications of runs finishing from now on. ``registration_id`` defaults to a new
        UUID, the other ids to the default registration's; ``event_codes``: a subset of
        ``("sources_flow_run_success", "sources_flow_run_failure")`` (default both).
        """
        found = self.stores.events.add_registration(
            registration_id, integration_id=integration_id, consumer_org_id=consumer_org_id, event_codes=event_codes
        )
        return self.base_url + found.path

    def registrations(self) -> list[dict[str, Any]]:
        """Every registration: ``{"consumer_org_id", "integration_id", "registration_id", "event_codes", "path"}``."""
        return [r.as_dict() for r in self.stores.events.registrations()]

    def drop_events(self, n: int = 1, flow_id: str | None = None, registration_id: str | None = None) -> None:
        """The next ``n`` events (of ``flow_id``, or of any flow) never reach the journal (lost)."""
        self.stores.events.add_rule("drop", n, flow_id, registration_id)

    def duplicate_events(self, n: int = 1, flow_id: str | None = None, registration_id: str | None = None) -> None:
        """Each of the next ``n`` events is written twice, one after the other (same event, two positions)."""
        self.stores.events.add_rule("duplicate", n, flow_id, registration_id)

    def reorder_events(self, n: int = 2, flow_id: str | None = None, registration_id: str | None = None) -> None:
        """The next ``n`` events (n >= 2) are held until the n-th arrives, then written in reverse order."""
        self.stores.events.add_rule("reorder", n, flow_id, registration_id)

    def clear_journal_rules(self, registration_id: str | None = None) -> None:
        """Forget the drop / duplicate / reorder rules; events held for a reorder are written as they came."""
        self.stores.events.clear_rules(registration_id)

    def expire_positions(self, registration_id: str | None = None) -> None:
        """Every position handed out so far is past the retention: reading from it answers ``410 Gone``.

        The events written so far expire with them; ``?latest=true`` and a read without a query go on.
        """
        self.stores.events.expire(registration_id)

    def set_journal_retry_after(self, seconds: float) -> None:
        """The ``retry-after`` of a ``204`` at the end of a journal (seconds, default 1)."""
        self.stores.events.set_retry_after(seconds)

    def journal_events(self, registration_id: str | None = None) -> list[dict[str, Any]]:
        """The events a journal keeps now, oldest first: ``[{"position", "event"}, ...]`` (runs finished by
        now included, read or not)."""
        return self.stores.events.events(registration_id)

    # ---- Data Prep: the XDM schemas mapping sets map into ---------------------------------------

    def add_xdm_schema(
        self, schema_id: str, fields: dict[str, str], title: str = "", datasets: list[str] | None = None
    ) -> None:
        """Add an XDM schema that mapping sets may map into: ``fields`` maps each field path to its JSON type,
        e.g. ``{"person.name.firstName": "string"}`` (also ``POST /_emulator/schemas``). :meth:`reset` drops it."""
        self.catalog.add_xdm_schema(schema_id, fields, title, datasets)

    def xdm_fields(self, schema_id: str) -> dict[str, str]:
        """The field paths (and JSON types) of an XDM schema the emulator knows; ``{}`` for an unknown one."""
        schema = self.catalog.xdm_schema(schema_id)
        return dict(schema.fields) if schema is not None else {}

    def reset(self) -> None:
        """Drop all entities, runs, mapping sets, journal events and added registrations, fault and delivery
        rules, run outcomes and the request log (and the datasets and XDM schemas a test set).

        Keeps the catalog, the clock and the tokens already issued (clients keep their cached token).
        """
        self.stores.control.reset()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return f"FlowServiceEmulator({where}, org_id={self.org_id!r}, clock={self.clock.mode!r})"
