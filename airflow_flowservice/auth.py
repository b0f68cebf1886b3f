"""OAuth server-to-server (``client_credentials``) tokens, cached per process.

One cache entry per (IMS URL, client id, client secret, scopes): every hook, client and trigger
with the same credentials in a process shares one token. A token is refreshed shortly before
``expires_in`` and after a 401. Under concurrency one caller fetches and the others join its fetch:
threads share one fetch, and the tasks of one event loop share one. No lock is held while a token is
fetched, and an event loop never waits for a thread's fetch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import inspect
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from airflow_flowservice.exceptions import FlowServiceAuthError, FlowServiceConfigError

DEFAULT_SCOPES = "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com/ims/token/v3"
DEFAULT_API_URL = "https://platform.adobe.io/data/foundation/flowservice"


def conversion_url_for(api_url: str) -> str | None:
    """The Conversion Service (Data Prep) base URL beside a Flow Service one, ``None`` when it cannot be told.

    Adobe serves the Platform APIs side by side under one gateway: ``.../data/foundation/flowservice``
    and ``.../data/foundation/conversion``.
    """
    base = api_url.rstrip("/")
    head, sep, tail = base.rpartition("/")
    return f"{head}/conversion" if sep and tail == "flowservice" else None


@dataclass(frozen=True)
class FlowServiceCredentials:
    """Everything needed to call Flow Service for one org and sandbox.

    ``client_secret`` is excluded from ``repr`` so it cannot leak through logs of this object.
    ``ui_tenant`` is not sent to the API: it is the org's name in Experience Platform UI addresses
    (``https://experience.adobe.com/#/@<ui_tenant>/...``), used in run links; ``None`` means the org id.
    """

    client_id: str
    client_secret: str = field(repr=False)
    org_id: str
    sandbox: str
    scopes: str = DEFAULT_SCOPES
    ims_url: str = DEFAULT_IMS_URL
    api_url: str = DEFAULT_API_URL
    #: The Conversion Service (Data Prep) base URL; default :func:`conversion_url_for` ``api_url`` (``None``
    #: when ``api_url`` does not end with ``/flowservice``: the connection must then set it).
    conversion_url: str | None = None
    #: An Adobe I/O Events registration's journal URL (flow-run notifications), or ``None``.
    events_journal_url: str | None = None
    #: The Experience Platform UI tenant of the run links (``experience.adobe.com/#/@<tenant>``); default the org id.
    ui_tenant: str | None = None

    def __post_init__(self) -> None:
        for name in ("client_id", "client_secret", "org_id", "sandbox", "ims_url", "api_url"):
            if not str(getattr(self, name) or "").strip():
                raise FlowServiceConfigError(f"Flow Service credentials: '{name}' is empty.")
        if not (self.conversion_url or "").strip():
            object.__setattr__(self, "conversion_url", conversion_url_for(self.api_url))

    @property
    def cache_key(self) -> tuple[str, str, str, str]:
        """Key of the shared token; the secret only enters it hashed."""
        digest = hashlib.sha256(self.client_secret.encode()).hexdigest()
        return (self.ims_url, self.client_id, digest, self.scopes)

    @property
    def service_key(self) -> tuple[str, ...]:
        """Key of what calls with these credentials may share (a client, a poller): token, org, sandbox, API."""
        return (*self.cache_key, self.org_id, self.sandbox, self.api_url, self.conversion_url or "")


@dataclass
class AccessToken:
    """A bearer token and the monotonic time after which it must not be used."""

    value: str = field(repr=False)
    refresh_at: float


def build_token_request(http: httpx.Client | httpx.AsyncClient, creds: FlowServiceCredentials) -> httpx.Request:
    """The IMS ``client_credentials`` request; secrets go in the form body, never the query string."""
    return http.build_request(
        "POST",
        creds.ims_url,
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": creds.scopes,
        },
        headers={"Accept": "application/json"},
    )


def parse_token_response(response: httpx.Response, now: float) -> AccessToken:
    """Turn the IMS answer into a token, or raise an auth error that says what to fix."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        expires_in = float(body.get("expires_in") or 0) or 3600.0
        # Refresh 10% early (at most 5 minutes): never send a token that expires in flight.
        margin = min(300.0, expires_in / 10)
        return AccessToken(value=str(body["access_token"]), refresh_at=now + expires_in - margin)
    error = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description") if isinstance(body, dict) else None
    hint = {
        "invalid_client": "check the connection's login (client id) and password (client secret)",
        "invalid_scope": "check the connection's 'scopes' extra",
        "unauthorized_client": "the client may not use client_credentials; use an OAuth Server-to-Server credential",
    }.get(str(error), "check the connection's client id, client secret and ims_url")
    raise FlowServiceAuthError(
        f"IMS refused the token request ({error or 'no error code'}: {description or response.reason_phrase}); {hint}.",
        status=response.status_code,
        code=str(error) if error else None,
        method="POST",
        path=str(response.request.url.copy_with(query=None)),
    )


class _FetchAbandoned(Exception):
    """The task fetching a token was cancelled: the tasks that joined its fetch fetch again."""


class _TokenSlot:
    """The cached token of one set of credentials, and the fetches of it under way.

    ``lock`` guards these fields only and is never held while a token is fetched: a thread that needs
    a token joins the fetch another thread is making (a :class:`concurrent.futures.Future`), an event
    loop joins the fetch a task of the same loop is making (an :class:`asyncio.Future`), and an event
    loop never waits for a thread: it makes its own fetch instead.
    """

    def __init__(self) -> None:
        self.token: AccessToken | None = None
        self.lock = threading.Lock()
        self.thread_fetch: concurrent.futures.Future[AccessToken] | None = None
        self.loop_fetches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[AccessToken]] = (
            weakref.WeakKeyDictionary()
        )

    def valid(self, now: float) -> AccessToken | None:
        token = self.token
        return token if token is not None and now < token.refresh_at else None


class TokenCache:
    """Process-wide token cache shared by every client with the same credentials."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slots: dict[tuple[str, str, str, str], _TokenSlot] = {}
        self._lock = threading.Lock()

    def _slot(self, creds: FlowServiceCredentials) -> _TokenSlot:
        with self._lock:
            return self._slots.setdefault(creds.cache_key, _TokenSlot())

    def get(
        self,
        creds: FlowServiceCredentials,
        fetch: Callable[[], httpx.Response],
        on_new_token: Callable[[str], None] | None = None,
    ) -> str:
        """Return a valid token, fetching one if needed: threads asking at once share one fetch."""
        slot = self._slot(creds)
        with slot.lock:
            token = slot.valid(self._clock())
            if token is not None:
                return token.value
            joining = slot.thread_fetch
            if joining is None:
                mine: concurrent.futures.Future[AccessToken] = concurrent.futures.Future()
                slot.thread_fetch = mine
        if joining is not None:
            return joining.result().value  # raises the fetch's error, as the thread that made it saw it
        try:
            token = self._store(slot, parse_token_response(fetch(), self._clock()))
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        else:
            mine.set_result(token)
        finally:
            with slot.lock:
                slot.thread_fetch = None
        if on_new_token is not None:
            on_new_token(token.value)
        return token.value

    async def aget(
        self,
        creds: FlowServiceCredentials,
        fetch: Callable[[], Any],
        on_new_token: Callable[[str], Any] | None = None,
    ) -> str:
        """Async twin of :meth:`get`: the tasks of one event loop asking at once share one fetch."""
        slot = self._slot(creds)
        loop = asyncio.get_running_loop()
        while True:
            with slot.lock:
                token = slot.valid(self._clock())
                if token is not None:
                    return token.value
                joining = slot.loop_fetches.get(loop)
                if joining is None:
                    mine: asyncio.Future[AccessToken] = loop.create_future()
                    slot.loop_fetches[loop] = mine
            if joining is None:
                break
            try:
                return (await asyncio.shield(joining)).value
            except _FetchAbandoned:
                continue  # the task fetching was cancelled: fetch again (or join the next fetch)
        try:
            token = self._store(slot, parse_token_response(await fetch(), self._clock()))
        except BaseException as exc:
            mine.set_exception(_FetchAbandoned() if isinstance(exc, asyncio.CancelledError) else exc)
            mine.exception()  # retrieved: no "exception was never retrieved" when nobody joined
            raise
        else:
            mine.set_result(token)
        finally:
            with slot.lock:
                if slot.loop_fetches.get(loop) is mine:
                    del slot.loop_fetches[loop]
        if on_new_token is not None:
            outcome = on_new_token(token.value)
            if inspect.isawaitable(outcome):
                await outcome
        return token.value

    def _store(self, slot: _TokenSlot, token: AccessToken) -> AccessToken:
        with slot.lock:
            slot.token = token
        return token

    def invalidate(self, creds: FlowServiceCredentials, rejected: str) -> None:
        """Forget the token the service rejected (401), unless another caller already replaced it."""
        slot = self._slot(creds)
        with slot.lock:
            current = slot.token
            if current is not None and current.value == rejected:
                slot.token = None

    def clear(self) -> None:
        """Drop every cached token (tests, credential rotation)."""
        with self._lock:
            self._slots.clear()


#: The process-wide cache used by default by every client.
TOKEN_CACHE = TokenCache()
