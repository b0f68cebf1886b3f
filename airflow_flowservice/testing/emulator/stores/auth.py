"""The auth resource: IMS access tokens (``POST /ims/token/v3``) and the gateway checks of every API call."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from ..clock import Clock
from ..errors import FlowServiceError, GatewayError, IMSError


@dataclass
class IssuedToken:
    """A token the emulator issued."""

    token: str
    client_id: str
    issued_at: float
    ttl: float


def _b64(data: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


class TokenAuthority:
    """Issues IMS access tokens (``POST /ims/token/v3``) and checks them on API calls."""

    def __init__(self, client_id: str, client_secret: str, org_id: str, ttl: float, clock: Clock) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.org_id = org_id
        self.ttl = float(ttl)
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, IssuedToken] = {}
        self._issued: list[str] = []  # every token ever issued, expired ones included

    def issue(self, form: dict[str, str]) -> dict[str, object]:
        """Check the ``client_credentials`` form and return the IMS token response."""
        grant_type = form.get("grant_type")
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        if not client_id:
            raise IMSError(400, "invalid_request", "missing client_id parameter")
        if client_id != self.client_id:
            raise IMSError(400, "invalid_client", "invalid client_id parameter")
        if not grant_type:
            raise IMSError(400, "invalid_request", "missing grant_type parameter")
        if grant_type != "client_credentials":
            raise IMSError(400, "unsupported_grant_type", f"unsupported grant_type {grant_type}")
        if not client_secret:
            raise IMSError(400, "invalid_request", "missing client_secret parameter")
        if not secrets.compare_digest(client_secret, self.client_secret):
            raise IMSError(401, "invalid_client", "invalid client_secret parameter")
        now = self.clock.now()
        header = {"alg": "RS256", "typ": "JWT", "x5u": "emulator.cer", "kid": "emulator"}
        payload = {
            "id": str(uuid.uuid4()),
            "type": "access_token",
            "client_id": client_id,
            "user_id": f"{client_id}@techacct.adobe.com",
            "as": "ims-na1",
            "org": self.org_id,
            "created_at": str(int(now * 1000)),
            "expires_in": str(int(self.ttl * 1000)),
            "scope": form.get("scope", ""),
        }
        token = f"{_b64(header)}.{_b64(payload)}.{secrets.token_urlsafe(32)}"
        with self._lock:
            self._tokens[token] = IssuedToken(token, client_id, now, self.ttl)
            self._issued.append(token)
        return {"access_token": token, "token_type": "bearer", "expires_in": int(self.ttl)}

    def issued(self) -> list[str]:
        """Every token issued so far, in order (expired and invalidated ones included)."""
        with self._lock:
            return list(self._issued)

    def expire_all(self) -> None:
        """Invalidate every token issued so far."""
        with self._lock:
            self._tokens.clear()

    def reset(self) -> None:
        self.expire_all()

    def check_journal_headers(self, headers: dict[str, str]) -> IssuedToken:
        """The checks of an I/O Events journal read (``headers`` lower-case): ``Authorization: Bearer``,
        ``x-api-key`` and the org in ``x-ims-org-id`` (the Journaling API's header, not ``x-gw-ims-org-id``).

        No token, or one that is unknown or expired: 401 (the journal is read with a token or not at all).
        """
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        with self._lock:
            issued = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if issued is None or self.clock.now() >= issued.issued_at + issued.ttl:
            raise GatewayError(401, "401013", "Oauth token is not valid")
        api_key = headers.get("x-api-key", "").strip()
        if not api_key:
            raise GatewayError(403, "403000", "Api Key is required")
        if api_key != issued.client_id:
            raise GatewayError(403, "403003", "Api Key is invalid")
        org = headers.get("x-ims-org-id", "").strip()
        if not org:
            raise GatewayError(400, "400003", "Missing header x-ims-org-id")
        if org != self.org_id:
            raise GatewayError(403, "403", f"The organization {org} is not the organization of this registration")
        return issued

    def check_headers(self, headers: dict[str, str]) -> IssuedToken:
        """The gateway checks, in the gateway's order. ``headers`` has lower-case keys."""
        authorization = headers.get("authorization", "").strip()
        if not authorization:
            raise GatewayError(403, "403010", "Oauth token is missing.")
        api_key = headers.get("x-api-key", "").strip()
        if not api_key:
            raise GatewayError(403, "403000", "Api Key is required")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GatewayError(401, "401013", "Oauth token is not valid")
        with self._lock:
            issued = self._tokens.get(token.strip())
        if issued is None or self.clock.now() >= issued.issued_at + issued.ttl:
            raise GatewayError(401, "401013", "Oauth token is not valid")
        if api_key != issued.client_id:
            raise GatewayError(403, "403003", "Api Key is invalid")
        org = headers.get("x-gw-ims-org-id", "").strip()
        if not org:
            raise GatewayError(400, "400003", "Missing header")
        if org != self.org_id:
            raise FlowServiceError(
                "2120-403",
                "Forbidden",
                "You do not have sufficient permissions to perform the operation. Please contact your "
                f"administrator to resolve permissions and try again. (organization {org} is not the "
                "organization of this credential)",
            )
        return issued
