"""What stands in front of every route, as Adobe's gateway does: fault injection and the request log.

``GatewayMiddleware`` wraps the FastAPI app: it logs each API and IMS request, applies the fault rules
of the shared state (latency, answers without running the route, a response dropped after the route
ran), adds ``x-request-id``, and hands the routes this emulator's stores. Admin routes (``/_emulator``)
get their stores and pass through otherwise untouched.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .dependencies import error_response, reply
from .errors import FlowServiceError, new_request_id
from .faults import FaultRule
from .paths import ADMIN_PREFIX, API_PREFIX, IMS_PATH, relative_path
from .requestlog import RequestRecord
from .state import EmulatorState

_SECRET_FIELDS = {"client_secret"}


class ConnectionDropped(Exception):
    """Raised by the fault middleware to abort a response after the handler ran (``drop_after_apply``)."""


class _DropFilter(logging.Filter):
    """Keep uvicorn's error log free of the tracebacks of deliberately dropped connections."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


logging.getLogger("uvicorn.error").addFilter(_DropFilter())


def _fault_response(rule: FaultRule, request_id: str, rel: str) -> Response:
    if rule.kind == "rate_limit":
        headers = {} if rule.retry_after is None else {"Retry-After": str(rule.retry_after)}
        body = rule.body if rule.body is not None else {"error_code": "429050", "message": "Too many requests"}
        return reply(body, 429, request_id, headers)
    if rule.kind == "token_expired":
        body = rule.body if rule.body is not None else {"error_code": "401013", "message": "Oauth token is not valid"}
        return reply(body, 401, request_id)
    status = int(rule.status)
    if rule.body is not None:
        return reply(rule.body, status, request_id)
    if rel == IMS_PATH:
        return reply({"error": "server_error", "error_description": f"emulated status {status}"}, status, request_id)
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


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return body


class GatewayMiddleware:
    """Fault injection and request logging around the app (admin routes pass through untouched)."""

    def __init__(self, app: ASGIApp, state: EmulatorState, stores: object) -> None:
        self.app = app
        self.state = state
        #: what the routes find as ``request.state.stores`` (``app.Stores``)
        self.stores = stores

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request_id = new_request_id()
        scope_state = scope.setdefault("state", {})
        scope_state["request_id"] = request_id
        scope_state["stores"] = self.stores
        if path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        rel = relative_path(path) or path
        if path.startswith(API_PREFIX) and path.endswith("/") and rel != "/":
            # The spec writes some paths with a trailing slash (``/connections/{id}/``): every API path
            # answers with and without one, so the routes are declared once, without.
            scope = {**scope, "path": path[:-1]}
            scope_state["path"] = path
        method: str = scope["method"]
        query = scope.get("query_string", b"").decode("latin-1")
        body = await _read_body(receive)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = self.state.clock.now()
        wall = time.monotonic()
        delay, rule = self.state.faults.pick(method, rel)
        if delay > 0:
            await asyncio.sleep(delay)
        status: int | str
        if rule is not None and rule.kind in ("status", "rate_limit", "token_expired"):
            response = _fault_response(rule, request_id, rel)
            status = response.status_code
            await response(scope, replay, send)
        elif rule is not None and rule.kind == "drop_after_apply":
            dropping = _Dropping()
            await self.app(scope, replay, dropping.capture)
            self._log(method, rel, query, "dropped", started, wall, body, rule.kind)
            await dropping.send_half(send)
            raise ConnectionDropped(f"{method} {rel}: response dropped after the request was applied (fault)")
        else:
            status = await self._forward(scope, replay, send, request_id)
        fault = rule.kind if rule else ("latency" if delay else None)
        self._log(method, rel, query, status, started, wall, body, fault)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> int:
        """Run the app, adding ``x-request-id`` to its answer; returns the status sent."""
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)
        return status

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
        self.state.requests.append(
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


class _Dropping:
    """Captures the app's whole answer; then the client gets its headers and half of its body only."""

    def __init__(self) -> None:
        self._start: Message | None = None
        self._payload = b""

    async def capture(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
        elif message["type"] == "http.response.body":
            self._payload += message.get("body", b"")

    async def send_half(self, send: Send) -> None:
        if self._start is None:
            return
        payload = self._payload
        headers = [(k, v) for k, v in self._start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(max(len(payload), 1) + 64).encode()))
        await send({"type": "http.response.start", "status": self._start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True})
