"""What the API routes share: the checked request (a FastAPI dependency), their store, replies.

Every Flow Service route takes an :class:`ApiRequest` (``Depends(api_request)``): the gateway checks
(token, API key, org, sandbox) have passed and the JSON body is parsed. Its store comes from
``Depends(store_of("<resource>"))``. Errors are raised as ``EmulatorHTTPError``; the app turns
them into Flow Service error bodies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from .errors import EmulatorHTTPError, FlowServiceError, new_request_id, not_implemented
from .state import Caller
from .stores.auth import TokenAuthority

_PATH_PARAMETER = re.compile(r"{\w+}")


@dataclass
class ApiRequest:
    """One Flow Service API request, after the gateway checks."""

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
        """``?mode=draft`` (any case); any other mode is a 400."""
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


class BadContentType(EmulatorHTTPError):
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


def request_id(request: Request) -> str:
    """The request's id (set by the gateway middleware, echoed in ``x-request-id``)."""
    rid = getattr(request.state, "request_id", None)
    return str(rid) if rid else new_request_id()


def store_of(resource: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that gives a route the store of ``resource`` (a field of ``app.Stores``)."""

    async def store(request: Request) -> Any:
        return getattr(request.state.stores, resource)

    return store


async def api_request(request: Request) -> ApiRequest:
    """The gateway checks of every API call, in the gateway's order, then the JSON body."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    auth: TokenAuthority = request.state.stores.auth
    issued = auth.check_headers(headers)
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
        if "json" not in headers.get("content-type", "").lower():
            raise BadContentType()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FlowServiceError(
                "1000-400",
                "Bad Request",
                f"The request body is not valid JSON: {exc}. Please check the request.",
            ) from exc
    query = parse_qsl(request.url.query, keep_blank_values=True)
    caller = Caller(client_id=issued.client_id, org_id=auth.org_id, sandbox=sandbox)
    return ApiRequest(request=request, caller=caller, body=body, query=query, request_id=request_id(request))


def reply(payload: Any, status: int = 200, rid: str = "", headers: dict[str, str] | None = None) -> Response:
    """A JSON answer carrying ``x-request-id``."""
    h = {"x-request-id": rid} if rid else {}
    h.update(headers or {})
    return JSONResponse(payload, status_code=status, headers=h)


def error_response(exc: EmulatorHTTPError, rid: str) -> Response:
    return reply(exc.body(rid), exc.status, rid, exc.headers())


class ApiRouter(APIRouter):
    """A router of Flow Service paths (each also answers with a trailing slash: the gateway drops it)."""

    def not_implemented(self, method: str, path: str, why: str) -> None:
        """A route of the official spec the emulator answers with ``0000-501``, naming the alternative.

        The gateway checks still come first (a call without a valid token is a 401, as for any route).
        """
        what = f"{method} {_PATH_PARAMETER.sub('{id}', path)}"

        async def endpoint(ctx: ApiCall) -> Response:
            raise not_implemented(what, why)

        self.add_api_route(path, endpoint, methods=[method])


#: The parameter type of a route that takes the checked request: ``async def route(ctx: ApiCall)``.
ApiCall = Annotated[ApiRequest, Depends(api_request)]
