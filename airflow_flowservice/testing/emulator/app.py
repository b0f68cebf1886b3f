"""The ASGI application: IMS token endpoint, Flow Service routes, admin routes, faults and request log."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import TokenAuthority
from .clock import Clock
from .errors import EmulatorHTTPError, FlowServiceError, new_request_id
from .faults import FaultInjector, FaultRule
from .requestlog import RequestLog, RequestRecord
from .store import Caller, Store

API_PREFIX = "/data/foundation/flowservice"
IMS_PATH = "/ims/token/v3"
ADMIN_PREFIX = "/_emulator"

_SECRET_FIELDS = {"client_secret"}


class ConnectionDropped(Exception):
    """Raised by the fault middleware to abort a response after the handler ran (``drop_after_apply``)."""


class _DropFilter(logging.Filter):
    """Keep uvicorn's error log free of the tracebacks of deliberately dropped connections."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


logging.getLogger("uvicorn.error").addFilter(_DropFilter())


@dataclass
class EmulatorCore:
    """Everything the app needs; shared with :class:`FlowServiceEmulator` (the control handle)."""

    store: Store
    auth: TokenAuthority
    faults: FaultInjector
    requests: RequestLog
    clock: Clock
    org_id: str
    client_id: str
    extra: dict[str, Any] = field(default_factory=dict)
    #: set by the control handle: callbacks for admin endpoints that are not plain state (reset etc.)
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    #: how ``POST /runs`` answers: ``"bare"`` ``{id, etag}`` (the OpenAPI spec) or ``"items"``
    #: ``{"items": [{id, etag}]}`` (Adobe's on-demand ingestion guide)
    run_create_envelope: str = "bare"
    #: the Conversion Service (Data Prep): a router and a store of its own (conversion_router.py, conversion_store.py)
    conversion: Any = None


@dataclass
class Ctx:
    """One API request, after the gateway checks."""

    request: Request
    caller: Caller
    body: Any
    query: list[tuple[str, str]]
    request_id: str

    def q(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    def qdict(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def if_match(self) -> str | None:
        return self.request.headers.get("if-match")

    @property
    def draft(self) -> bool:
        mode = self.q("mode")
        if mode is None:
            return False
        if mode.strip().lower() != "draft":
            raise FlowServiceError(
                "1000-400",
                "Bad Request",
                f"The query param mode={mode} is invalid; the only supported mode is draft.",
            )
        return True


Handler = Callable[[Ctx], Awaitable[Response]]


def _json(payload: Any, status: int = 200, request_id: str = "", headers: dict[str, str] | None = None) -> Response:
    h = {"x-request-id": request_id} if request_id else {}
    h.update(headers or {})
    return JSONResponse(payload, status_code=status, headers=h)


def error_response(exc: EmulatorHTTPError, request_id: str) -> Response:
    return _json(exc.body(request_id), exc.status, request_id, exc.headers())


def _relative(path: str) -> str | None:
    if path.startswith(API_PREFIX):
        rest = path[len(API_PREFIX) :]
        return rest or "/"
    if path.rstrip("/") == IMS_PATH:
        return IMS_PATH
    return None


def _fault_response(rule: FaultRule, request_id: str, rel: str) -> Response:
    if rule.kind == "rate_limit":
        headers = {} if rule.retry_after is None else {"Retry-After": str(rule.retry_after)}
        body = rule.body if rule.body is not None else {"error_code": "429050", "message": "Too many requests"}
        return _json(body, 429, request_id, headers)
    if rule.kind == "token_expired":
        body = rule.body if rule.body is not None else {"error_code": "401013", "message": "Oauth token is not valid"}
        return _json(body, 401, request_id)
    status = int(rule.status)
    if rule.body is not None:
        return _json(rule.body, status, request_id)
    if rel == IMS_PATH:
        return _json({"error": "server_error", "error_description": f"emulated status {status}"}, status, request_id)
    titles = {
        500: ("1005", "Internal Error"),
        502: ("1011", "Bad Gateway"),
        503: ("1011", "Service Unavailable"),
        504: ("1012", "Gateway Timeout"),
    }
    num, title = titles.get(status, ("1005", "Error"))
    err = FlowServiceError(
        f"{num}-{status}",
        title,
        "The service is temporarily unavailable. Please try again and contact customer support if the "
        "problem "
        "persists. (emulated fault)",
    )
    return error_response(err, request_id)


class EmulatorMiddleware:
    """Fault injection and request logging around the app (admin routes pass through untouched)."""

    def __init__(self, app: ASGIApp, core: EmulatorCore) -> None:
        self.app = app
        self.core = core

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        if path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        rel = _relative(path) or path
        method: str = scope["method"]
        query = scope.get("query_string", b"").decode("latin-1")
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = self.core.clock.now()
        wall = time.monotonic()
        delay, rule = self.core.faults.pick(method, rel)
        if delay > 0:
            await asyncio.sleep(delay)
        status: int | str = 0
        if rule is not None and rule.kind in ("status", "rate_limit", "token_expired"):
            response = _fault_response(rule, request_id, rel)
            status = response.status_code
            await response(scope, replay, send)
        elif rule is not None and rule.kind == "drop_after_apply":
            captured: list[Message] = []

            async def capture(message: Message) -> None:
                captured.append(message)

            await self.app(scope, replay, capture)
            status = "dropped"
            start = next((m for m in captured if m["type"] == "http.response.start"), None)
            payload = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
            self._log(method, rel, query, status, started, wall, body, rule.kind)
            if start is not None:
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(max(len(payload), 1) + 64).encode()))
                await send({"type": "http.response.start", "status": start["status"], "headers": headers})
                await send({"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True})
            raise ConnectionDropped(f"{method} {rel}: response dropped after the request was applied (fault)")
        else:

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    headers = list(message.get("headers", []))
                    if not any(k.lower() == b"x-request-id" for k, _ in headers):
                        headers.append((b"x-request-id", request_id.encode()))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, replay, send_wrapper)
        fault = rule.kind if rule else ("latency" if delay else None)
        self._log(method, rel, query, status, started, wall, body, fault)

    def _log(
        self,
        method: str,
        rel: str,
        query: str,
        status: int | str,
        started: float,
        wall: float,
        body: bytes,
        fault: str | None,
    ) -> None:
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                if rel == IMS_PATH:
                    form = dict(parse_qsl(body.decode("utf-8", "replace")))
                    parsed = {k: ("****" if k in _SECRET_FIELDS else v) for k, v in form.items()}
                else:
                    parsed = body.decode("utf-8", "replace")
        if rel == IMS_PATH and query:
            query = "&".join(
                f"{k}=****" if k in _SECRET_FIELDS else f"{k}={v}" for k, v in parse_qsl(query, keep_blank_values=True)
            )
        self.core.requests.append(
            RequestRecord(
                method=method,
                path=rel,
                query=query,
                status=status,
                time=started,
                body=parsed,
                duration=time.monotonic() - wall,
                fault=fault,
            )
        )


# ---------------------------------------------------------------------------------------------------


def build_app(core: EmulatorCore) -> ASGIApp:
    """The emulator's ASGI app (FastAPI wrapped by the fault/log middleware)."""
    app = FastAPI(
        title="Flow Service emulator",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    store = core.store

    @app.exception_handler(EmulatorHTTPError)
    async def _emu_error(request: Request, exc: EmulatorHTTPError) -> Response:
        return error_response(exc, _rid(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        rid = _rid(request)
        if exc.status_code == 405:
            err = FlowServiceError(
                "1000-405", "Method Not Allowed", f"{request.method} is not allowed on {request.url.path}."
            )
        else:
            err = FlowServiceError(
                "1003-404",
                "Resource not found",
                f"The requested resource {request.url.path} is not found. Please check the provided request "
                "and "
                "try again.",
            )
        return error_response(err, rid)

    # ---- IMS -------------------------------------------------------------------------------------

    async def ims_token(request: Request) -> Response:
        rid = _rid(request)
        form = dict(parse_qsl(request.url.query, keep_blank_values=True))
        raw = await request.body()
        if raw:
            form.update(dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
        try:
            return _json(core.auth.issue(form), 200, rid)
        except EmulatorHTTPError as exc:
            return error_response(exc, rid)

    app.add_api_route(IMS_PATH, ims_token, methods=["POST"])

    # ---- API plumbing ----------------------------------------------------------------------------

    def api(path: str, methods: list[str], handler: Handler) -> None:
        async def endpoint(request: Request) -> Response:
            rid = _rid(request)
            try:
                ctx = await _context(core, request, rid)
                return await handler(ctx)
            except EmulatorHTTPError as exc:
                return error_response(exc, rid)

        for p in {API_PREFIX + path, API_PREFIX + path.rstrip("/") + "/"}:
            app.add_api_route(p, endpoint, methods=methods)

    def pid(ctx: Ctx, name: str = "entity_id") -> str:
        return str(ctx.request.path_params[name])

    # ---- specs -----------------------------------------------------------------------------------

    async def list_conn_specs(ctx: Ctx) -> Response:
        return _json(store.list_specs("connectionSpecs", ctx.query), 200, ctx.request_id)

    async def get_conn_spec(ctx: Ctx) -> Response:
        return _json(store.retrieve_spec("connectionSpecs", pid(ctx)), 200, ctx.request_id)

    async def conn_spec_configs(ctx: Ctx) -> Response:
        return _json(store.spec_configs(pid(ctx), ctx.qdict()), 200, ctx.request_id)

    async def list_flow_specs(ctx: Ctx) -> Response:
        return _json(store.list_specs("flowSpecs", ctx.query), 200, ctx.request_id)

    async def get_flow_spec(ctx: Ctx) -> Response:
        return _json(store.retrieve_spec("flowSpecs", pid(ctx)), 200, ctx.request_id)

    api("/connectionSpecs", ["GET"], list_conn_specs)
    api("/connectionSpecs/{entity_id}", ["GET"], get_conn_spec)
    api("/connectionSpecs/{entity_id}/configs", ["GET"], conn_spec_configs)
    api("/flowSpecs", ["GET"], list_flow_specs)
    api("/flowSpecs/{entity_id}", ["GET"], get_flow_spec)

    # ---- entities --------------------------------------------------------------------------------

    def collection_routes(collection: str) -> None:
        async def list_(ctx: Ctx) -> Response:
            return _json(store.list_entities(ctx.caller, collection, ctx.query), 200, ctx.request_id)

        async def create(ctx: Ctx) -> Response:
            if collection == "connections":
                result = store.create_connection(ctx.caller, ctx.body, ctx.draft)
            elif collection == "flows":
                result = store.create_flow(ctx.caller, ctx.body, ctx.draft)
            else:
                result = store.create_source_or_target(ctx.caller, collection, ctx.body, ctx.draft)
            location = f"{API_PREFIX}/{collection}/{result['id']}"
            return _json(result, 201, ctx.request_id, {"Location": location})

        async def get(ctx: Ctx) -> Response:
            return _json(store.retrieve(ctx.caller, collection, pid(ctx)), 200, ctx.request_id)

        async def patch(ctx: Ctx) -> Response:
            return _json(store.patch(ctx.caller, collection, pid(ctx), ctx.body, ctx.if_match), 200, ctx.request_id)

        async def delete(ctx: Ctx) -> Response:
            store.delete(ctx.caller, collection, pid(ctx))
            return Response(status_code=204, headers={"x-request-id": ctx.request_id})

        async def action(ctx: Ctx) -> Response:
            result = store.action(ctx.caller, collection, pid(ctx), ctx.q("op"), ctx.if_match)
            return _json(result, 200, ctx.request_id)

        api(f"/{collection}", ["GET"], list_)
        api(f"/{collection}", ["POST"], create)
        api(f"/{collection}/{{entity_id}}", ["GET"], get)
        api(f"/{collection}/{{entity_id}}", ["PATCH"], patch)
        api(f"/{collection}/{{entity_id}}", ["DELETE"], delete)
        api(f"/{collection}/{{entity_id}}/action", ["POST"], action)

    for name in ("connections", "sourceConnections", "targetConnections", "flows"):
        collection_routes(name)

    async def conn_test(ctx: Ctx) -> Response:
        return _json(store.test_connection(ctx.caller, pid(ctx)), 200, ctx.request_id)

    async def conn_explore(ctx: Ctx) -> Response:
        return _json(store.explore(ctx.caller, pid(ctx), ctx.qdict()), 200, ctx.request_id)

    async def conn_configs(ctx: Ctx) -> Response:
        return _json(store.connection_configs(ctx.caller, pid(ctx), ctx.qdict()), 200, ctx.request_id)

    api("/connections/{entity_id}/test", ["GET"], conn_test)
    api("/connections/{entity_id}/explore", ["GET"], conn_explore)
    api("/connections/{entity_id}/configs", ["GET"], conn_configs)

    # ---- runs ------------------------------------------------------------------------------------

    async def list_runs(ctx: Ctx) -> Response:
        return _json(store.list_entities(ctx.caller, "runs", ctx.query), 200, ctx.request_id)

    async def create_run(ctx: Ctx) -> Response:
        # The official spec (CreateFlowRunResponse) answers a bare {id, etag} with 201; Adobe's on-demand
        # ingestion guide shows the same pair wrapped in {"items": [...]}. The spec's by default; the guide's
        # with run_create_envelope="items". Clients accept both.
        created = store.create_run(ctx.caller, ctx.body)
        if core.run_create_envelope == "items":
            created = {"items": [created]}
        return _json(created, 201, ctx.request_id)

    async def get_run(ctx: Ctx) -> Response:
        return _json(store.retrieve(ctx.caller, "runs", pid(ctx)), 200, ctx.request_id)

    async def run_action(ctx: Ctx) -> Response:
        return _json(store.run_action(ctx.caller, pid(ctx), ctx.q("op"), ctx.if_match), 200, ctx.request_id)

    api("/runs", ["GET"], list_runs)
    api("/runs", ["POST"], create_run)
    api("/runs/{entity_id}", ["GET"], get_run)
    api("/runs/{entity_id}/action", ["POST"], run_action)

    # ---- operations of the spec the emulator does not implement ---------------------------------

    def not_implemented(what: str, why: str) -> Handler:
        async def handler(ctx: Ctx) -> Response:
            err = FlowServiceError(
                "0000-501",
                "Not Implemented",
                f"{what} is not implemented by the Flow Service emulator: {why} See docs/emulator.md.",
            )
            return error_response(err, ctx.request_id)

        return handler

    provider_side = "it is a provider-side (connector authoring) operation; the catalog is fixed."
    api(
        "/connections/search",
        ["POST"],
        not_implemented("POST /connections/search", "use GET /connections?property=."),
    )
    api("/flows/search", ["POST"], not_implemented("POST /flows/search", "use GET /flows?property=."))
    api(
        "/flowSpecs/search",
        ["POST"],
        not_implemented("POST /flowSpecs/search", "use GET /flowSpecs?property=."),
    )
    api("/connectionSpecs", ["POST"], not_implemented("POST /connectionSpecs", provider_side))
    api("/connectionSpecs/{entity_id}", ["PUT"], not_implemented("PUT /connectionSpecs/{id}", provider_side))
    api("/flowSpecs", ["POST"], not_implemented("POST /flowSpecs", provider_side))
    api("/flowSpecs/{entity_id}", ["PUT"], not_implemented("PUT /flowSpecs/{id}", provider_side))
    api("/runs/{entity_id}", ["PUT"], not_implemented("PUT /runs/{id}", provider_side))

    async def conn_spec_explore(ctx: Ctx) -> Response:
        return _json(store.spec_explore(pid(ctx)), 200, ctx.request_id)

    api("/connectionSpecs/{entity_id}/explore", ["GET"], conn_spec_explore)

    _admin_routes(app, core)
    if core.conversion is not None:
        from .conversion_router import conversion_router

        app.include_router(conversion_router(core.conversion, lambda request, rid: _context(core, request, rid)))
    return EmulatorMiddleware(app, core)


def _rid(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return str(rid) if rid else new_request_id()


async def _context(core: EmulatorCore, request: Request, rid: str) -> Ctx:
    headers = {k.lower(): v for k, v in request.headers.items()}
    issued = core.auth.check_headers(headers)
    sandbox = headers.get("x-sandbox-name", "").strip()
    if not sandbox:
        raise FlowServiceError(
            "2105-400",
            "Header is missing",
            "The header x-sandbox-name is missing in the request. Please add the header in the request and try again.",
        )
    raw = await request.body()
    body: Any = None
    if raw.strip():
        content_type = headers.get("content-type", "").lower()
        if "json" not in content_type:
            raise _BadContentType()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FlowServiceError(
                "1000-400",
                "Bad Request",
                f"The request body is not valid JSON: {exc}. Please check the request.",
            ) from exc
    query = parse_qsl(request.url.query, keep_blank_values=True)
    caller = Caller(client_id=issued.client_id, org_id=core.org_id, sandbox=sandbox)
    return Ctx(request=request, caller=caller, body=body, query=query, request_id=rid)


class _BadContentType(EmulatorHTTPError):
    """A body without ``Content-Type: application/json`` (the generic shape of Adobe's troubleshooting guide)."""

    status = 400

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "type": "/placeholder/type/uri",
            "status": 400,
            "title": "BadRequestError",
            "detail": "A valid content-type must be specified",
            "report": {"request-id": request_id},
        }


# ---- admin ---------------------------------------------------------------------------------------


def _admin_routes(app: FastAPI, core: EmulatorCore) -> None:
    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise FlowServiceError("1000-400", "Bad Request", "admin endpoints take a JSON object")
        return data

    async def faults_get(request: Request) -> Response:
        return _json({"faults": [r.as_dict() for r in core.faults.rules]})

    async def faults_post(request: Request) -> Response:
        data = await body_of(request)
        try:
            rule = core.faults.add(**data)
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(rule.as_dict(), 201)

    async def faults_delete(request: Request) -> Response:
        core.faults.clear()
        return Response(status_code=204)

    async def fault_delete(request: Request) -> Response:
        found = core.faults.remove(str(request.path_params["rule_id"]))
        return Response(status_code=204 if found else 404)

    async def requests_get(request: Request) -> Response:
        method = request.query_params.get("method")
        prefix = request.query_params.get("path_prefix")
        return _json({"requests": [r.as_dict() for r in core.requests.filter(method, prefix)]})

    async def requests_delete(request: Request) -> Response:
        core.requests.clear()
        return Response(status_code=204)

    async def clock_get(request: Request) -> Response:
        return _json({"now": core.clock.now(), "mode": core.clock.mode})

    async def clock_post(request: Request) -> Response:
        data = await body_of(request)
        if "set" in data:
            core.clock.set(float(data["set"]))
        if "advance" in data:
            core.clock.advance(float(data["advance"]))
        return _json({"now": core.clock.now(), "mode": core.clock.mode})

    async def reset_post(request: Request) -> Response:
        core.hooks["reset"]()
        return Response(status_code=204)

    async def outcome_post(request: Request) -> Response:
        data = await body_of(request)
        try:
            rule = core.store.outcomes.set(
                data.get("flow_id"),
                str(data.get("kind", "failed")),
                int(data.get("failed_records", 5)),
                data.get("times"),
            )
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(rule.as_dict(), 201)

    async def expire_post(request: Request) -> Response:
        core.auth.expire_all()
        return Response(status_code=204)

    async def datasets_post(request: Request) -> Response:
        raw = await request.body()
        data = json.loads(raw) if raw.strip() else []
        if isinstance(data, dict):
            data = data.get("datasets", [])
        core.store.seed_datasets(list(data))
        return Response(status_code=204)

    async def runs_seed_post(request: Request) -> Response:
        data = await body_of(request)
        try:
            ids = core.store.seed_runs(
                str(data.get("org_id") or core.org_id),
                str(data.get("sandbox") or "prod"),
                str(data["flow_id"]),
                [(int(w[0]), int(w[1])) for w in data["windows"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": f"need flow_id and windows [[start, end], ...]: {exc}"}, 400)
        return _json({"ids": ids}, 201)

    async def state_get(request: Request) -> Response:
        return _json(
            {
                "org_id": core.org_id,
                "client_id": core.client_id,
                "clock": {"now": core.clock.now(), "mode": core.clock.mode},
                "run_timeline": list(core.store.run_timeline),
                "scopes": core.store.snapshot(),
                "run_outcomes": [r.as_dict() for r in core.store.outcomes.rules],
                **core.extra,
            }
        )

    p = ADMIN_PREFIX
    app.add_api_route(f"{p}/faults", faults_get, methods=["GET"])
    app.add_api_route(f"{p}/faults", faults_post, methods=["POST"])
    app.add_api_route(f"{p}/faults", faults_delete, methods=["DELETE"])
    app.add_api_route(f"{p}/faults/{{rule_id}}", fault_delete, methods=["DELETE"])
    app.add_api_route(f"{p}/requests", requests_get, methods=["GET"])
    app.add_api_route(f"{p}/requests", requests_delete, methods=["DELETE"])
    app.add_api_route(f"{p}/clock", clock_get, methods=["GET"])
    app.add_api_route(f"{p}/clock", clock_post, methods=["POST"])
    app.add_api_route(f"{p}/reset", reset_post, methods=["POST"])
    app.add_api_route(f"{p}/run-outcome", outcome_post, methods=["POST"])
    app.add_api_route(f"{p}/expire-tokens", expire_post, methods=["POST"])
    app.add_api_route(f"{p}/datasets", datasets_post, methods=["POST"])
    app.add_api_route(f"{p}/state", state_get, methods=["GET"])
    app.add_api_route(f"{p}/runs", runs_seed_post, methods=["POST"])
