"""The emulator's app, and the one place its resources are registered.

A resource is a router (``routers/<name>.py``, the HTTP side) over a store (``stores/<name>.py``, the
state and rules). To add one: write both, then add the store to :class:`Stores` and
:func:`build_stores`, and the router to ``ROUTERS``, below. The routes reach their store through
``dependencies.store_of("<name>")``. One FastAPI app serves every emulator of the process; each
emulator's gateway hands a request its own stores.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from .dependencies import error_response, request_id
from .errors import EmulatorHTTPError, FlowServiceError
from .gateway import GatewayMiddleware
from .routers import auth, catalog, connections, control, conversion, events, explore, flows, runs
from .state import EmulatorState
from .stores.auth import TokenAuthority
from .stores.catalog import CatalogStore
from .stores.connections import ConnectionStore
from .stores.control import ControlStore
from .stores.conversion import ConversionStore
from .stores.events import EventStore
from .stores.explore import ExploreStore
from .stores.flows import FlowStore
from .stores.runs import RunStore


@dataclass
class Stores:
    """One store per resource, all over one shared state."""

    state: EmulatorState
    auth: TokenAuthority
    catalog: CatalogStore
    connections: ConnectionStore
    explore: ExploreStore
    flows: FlowStore
    runs: RunStore
    conversion: ConversionStore
    events: EventStore
    control: ControlStore


def build_stores(
    state: EmulatorState,
    *,
    client_id: str,
    client_secret: str,
    org_id: str,
    sandbox: str,
    token_ttl: float,
    run_timeline: tuple[float, float],
) -> Stores:
    """Every store, wired: connections <- flows <- runs <- events, conversion (and the ways back, through small
    protocols)."""
    auth_store = TokenAuthority(client_id, client_secret, org_id, token_ttl, state.clock)
    catalog_store = CatalogStore(state)
    connection_store = ConnectionStore(state, catalog_store)
    flow_store = FlowStore(state, catalog_store, connection_store)
    run_store = RunStore(state, flow_store, run_timeline)
    conversion_store = ConversionStore(state, catalog_store)
    connection_store.users = flow_store  # which flows use a connection (delete is refused)
    flow_store.runs = run_store  # a flow's scheduled runs and lastRunDetails
    event_store = EventStore(state, run_store)  # the journals read the runs finished since they last asked
    flow_store.mappings = conversion_store  # a flow's Mapping transformation names an existing set version
    return Stores(
        state=state,
        auth=auth_store,
        catalog=catalog_store,
        connections=connection_store,
        explore=ExploreStore(catalog_store, connection_store),
        flows=flow_store,
        runs=run_store,
        conversion=conversion_store,
        events=event_store,
        control=ControlStore(
            state,
            auth=auth_store,
            catalog=catalog_store,
            connections=connection_store,
            flows=flow_store,
            runs=run_store,
            conversion=conversion_store,
            events=event_store,
            sandbox=sandbox,
        ),
    )


#: Every resource's router. Starlette tries routes in order and no two routes match the same method and
#: path, so the order only sets speed: the runs a waiting client polls and the journal come first.
ROUTERS = (
    runs.router,
    events.router,
    flows.router,
    connections.router,
    explore.router,
    catalog.router,
    conversion.router,
    auth.router,
    control.router,
)


async def _emulator_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EmulatorHTTPError)
    return error_response(exc, request_id(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer Flow Service errors too (``1003-404``, ``1000-405``)."""
    assert isinstance(exc, StarletteHTTPException)
    path = getattr(request.state, "path", None) or request.url.path  # as sent (with its trailing slash)
    if exc.status_code == 405:
        err = FlowServiceError("1000-405", "Method Not Allowed", f"{request.method} is not allowed on {path}.")
    else:
        err = FlowServiceError(
            "1003-404",
            "Resource not found",
            f"The requested resource {path} is not found. Please check the provided request and try again.",
        )
    return error_response(err, request_id(request))


@functools.cache
def _routes_app() -> FastAPI:
    """The FastAPI app of every router: built once per process and shared by every emulator.

    It holds no state: each emulator's gateway hands the request its stores (``request.state.stores``).
    """
    app = FastAPI(
        title="Flow Service emulator",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.add_exception_handler(EmulatorHTTPError, _emulator_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for router in ROUTERS:
        app.include_router(router)
    app.middleware_stack = app.build_middleware_stack()  # now, not on a first request of some thread
    return app


def build_app(stores: Stores) -> ASGIApp:
    """An emulator's ASGI app: the routes, behind its gateway middleware (faults, request log, its stores)."""
    return GatewayMiddleware(_routes_app(), stores.state, stores)
