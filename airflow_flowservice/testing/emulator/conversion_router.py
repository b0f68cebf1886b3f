"""HTTP routes of the Conversion Service (Data Prep) under ``/data/foundation/conversion``: paths, parameters
and status codes, each one call of :class:`~.conversion_store.ConversionStore`.

The gateway's checks (token, API key, org, sandbox, JSON body) are the Flow Service routes' own:
``gateway(request, request_id)`` runs them and returns the caller and the body. The admin routes
``/_emulator/schemas`` list and add the XDM schemas mapping sets map into.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .conversion_store import ConversionStore
from .errors import EmulatorHTTPError, new_request_id

CONVERSION_PREFIX = "/data/foundation/conversion"

Gateway = Callable[[Request, str], Awaitable[Any]]
"""The gateway's checks of an API request; returns an object with ``caller`` (org, sandbox, client id),
``body`` (parsed JSON) and ``query`` (pairs)."""


def _rid(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return str(rid) if rid else new_request_id()


def _json(payload: Any, status: int, request_id: str) -> Response:
    return JSONResponse(payload, status_code=status, headers={"x-request-id": request_id})


def conversion_router(store: ConversionStore, gateway: Gateway) -> APIRouter:
    """The Conversion Service's routes and the schema admin routes, over ``store``."""
    router = APIRouter()

    def route(path: str, method: str, handler: Callable[[Any, Request], Any], status: int = 200) -> None:
        async def endpoint(request: Request) -> Response:
            rid = _rid(request)
            try:
                ctx = await gateway(request, rid)
                return _json(handler(ctx, request), status, rid)
            except EmulatorHTTPError as exc:
                return JSONResponse(
                    exc.body(rid), status_code=exc.status, headers={"x-request-id": rid, **exc.headers()}
                )

        router.add_api_route(CONVERSION_PREFIX + path, endpoint, methods=[method])

    def set_id(request: Request) -> str:
        return str(request.path_params["mapping_set_id"])

    route("/mappingSets", "GET", lambda ctx, r: store.list_sets(ctx.caller, dict(ctx.query)))
    route("/mappingSets", "POST", lambda ctx, r: store.create(ctx.caller, ctx.body))
    route("/mappingSets/validate", "POST", lambda ctx, r: store.validate(ctx.caller, ctx.body))
    route("/mappingSets/preview", "POST", lambda ctx, r: store.preview(ctx.caller, ctx.body))
    route(
        "/mappingSets/{mapping_set_id}",
        "GET",
        lambda ctx, r: store.get(ctx.caller, set_id(r), ctx.q("version"), ctx.q("expandSchema") == "true"),
    )
    route("/mappingSets/{mapping_set_id}", "PUT", lambda ctx, r: store.put(ctx.caller, set_id(r), ctx.body))
    route("/mappingSets/{mapping_set_id}/mappings", "GET", lambda ctx, r: store.mappings(ctx.caller, set_id(r)))
    route(
        "/mappingSets/{mapping_set_id}/mappings/{mapping_id}",
        "GET",
        lambda ctx, r: store.mappings(ctx.caller, set_id(r), str(r.path_params["mapping_id"])),
    )
    route("/languages/el/validate", "POST", lambda ctx, r: store.validate_expression(ctx.body))
    route("/languages/el/functions", "GET", lambda ctx, r: store.functions())
    route("/languages/el/operators", "GET", lambda ctx, r: store.operators())
    _schema_admin(router, store)
    return router


def _schema_admin(router: APIRouter, store: ConversionStore) -> None:
    async def schemas_get(request: Request) -> Response:
        found = [store.schemas.get(i) for i in store.schemas.ids()]
        listed = [{"id": s.id, "title": s.title, "fields": s.fields, "datasets": s.datasets} for s in found if s]
        return JSONResponse({"schemas": listed})

    async def schemas_post(request: Request) -> Response:
        raw = await request.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
            store.schemas.add(str(data["id"]), dict(data["fields"]), str(data.get("title") or ""), data.get("datasets"))
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"need {{id, fields: {{path: type}}, title?, datasets?}}: {exc}"}, 400)
        return Response(status_code=204)

    router.add_api_route("/_emulator/schemas", schemas_get, methods=["GET"])
    router.add_api_route("/_emulator/schemas", schemas_post, methods=["POST"])
