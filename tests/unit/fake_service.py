"""A scripted Flow Service for MockTransport tests: counts calls, replays queued answers."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from airflow_flowservice.auth import FlowServiceCredentials

CREDS = FlowServiceCredentials(
    client_id="cid-123",
    client_secret="s3cr3t-value-xyz",
    org_id="ORG123@AdobeOrg",
    sandbox="dev",
    ims_url="https://ims.test/ims/token/v3",
    api_url="https://api.test/data/foundation/flowservice",
)

Responder = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeService:
    """Answers IMS with numbered tokens and the API from a queue (default: 200 {"items": []})."""

    token_ttl: int = 86399
    token_calls: int = 0
    api_requests: list[httpx.Request] = field(default_factory=list)
    queued: deque[Responder] = field(default_factory=deque)
    valid_tokens: set[str] = field(default_factory=set)
    check_token: bool = True

    def queue(self, *responders: Responder) -> None:
        self.queued.extend(responders)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "ims.test":
            self.token_calls += 1
            token = f"tok-{self.token_calls}"
            self.valid_tokens.add(token)
            return httpx.Response(
                200, json={"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl}
            )
        self.api_requests.append(request)
        if (
            self.check_token
            and request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid_tokens
        ):
            return httpx.Response(401, json={"error_code": "401013", "message": "Oauth token is not valid"})
        if self.queued:
            return self.queued.popleft()(request)
        return httpx.Response(200, json={"items": []})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Responder:
    def respond(request: httpx.Request) -> httpx.Response:
        content = b"" if body is None else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers={"content-type": "application/json", **(headers or {})})

    return respond
