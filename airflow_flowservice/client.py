"""The HTTP core of the provider: headers, token use, retries, paging and error mapping.

Requests are described once (:class:`ApiRequest`), built once (:func:`build_request`) and their
responses interpreted once (:func:`parse_response`); :class:`FlowServiceClient` and
:class:`AsyncFlowServiceClient` only differ in how they send and sleep. Retries use tenacity
with the same policy on both paths.

Retry rules:

* connect errors (the request never left) and 429 are retried for every call;
* 5xx and broken connections after the request was sent are retried only for safe calls
  (GET, or a call marked ``retry_safe``): a create is never blindly re-sent, the caller looks the
  entity up instead (see ``FlowServiceHook.create_run``);
* the wait is capped exponential backoff with jitter, or the server's ``Retry-After``;
* a 401 refreshes the token once and re-sends; a second 401 is an auth error.

This module knows nothing of Airflow.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import random
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import tenacity

from airflow_flowservice.auth import TOKEN_CACHE, FlowServiceCredentials, TokenCache, build_token_request
from airflow_flowservice.exceptions import (
    FlowServiceAuthError,
    FlowServiceBadRequestError,
    FlowServiceConfigError,
    FlowServiceConflictError,
    FlowServiceError,
    FlowServiceGoneError,
    FlowServiceNotFoundError,
    FlowServicePermissionError,
    FlowServiceRateLimitError,
    FlowServiceServerError,
    FlowServiceTransportError,
)

log = logging.getLogger(__name__)

QueryParams = Sequence[tuple[str, str]]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CODE_IN_TYPE = re.compile(r"(\d{3,5}-\d{3})$")


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry.

    :param max_attempts: attempts in all, the first included.
    :param initial_delay: first backoff delay in seconds; doubled each attempt.
    :param max_delay: cap of one backoff delay.
    :param jitter: up to this many random seconds added to each backoff delay.
    :param max_retry_after: cap on a server ``Retry-After`` (a longer one fails the call).
    """

    max_attempts: int = 5
    initial_delay: float = 1.0
    max_delay: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 300.0


@dataclass(frozen=True)
class ApiRequest:
    """One Flow Service call, independent of how it is sent.

    ``path`` is relative to the API base URL (``/runs``) or an absolute URL on the same host.
    ``retry_safe`` overrides the default (safe = GET/HEAD/OPTIONS).
    """

    method: str
    path: str
    params: QueryParams = ()
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_safe: bool | None = None

    @property
    def is_retry_safe(self) -> bool:
        return self.method.upper() in _SAFE_METHODS if self.retry_safe is None else self.retry_safe

    def describe(self) -> str:
        return f"{self.method.upper()} {self.path}"


# RFC 3986 "unreserved" characters: a value made of them is one path segment and one filter value as it is.
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,256}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEGMENT_RULE = (
    "letters, digits, '-', '_', '.' or '~' only, at most 256 (no '/', '..', ',', spaces or control characters)"
)


def path_segment(value: Any, name: str) -> str:
    """``value`` as one URL path segment, or a :class:`FlowServiceConfigError` naming the argument ``name``.

    An id such as ``../flows/<id>`` would otherwise be normalised onto another collection's path.
    """
    if not isinstance(value, str) or not _SEGMENT.fullmatch(value) or value in (".", ".."):
        raise FlowServiceConfigError(f"{name}: {value!r} is not an id that fits in a URL path: use {_SEGMENT_RULE}")
    return value


def api_path(template: str, **ids: Any) -> str:
    """``template`` (``"/flows/{flow_id}"``) with each id checked by :func:`path_segment` (named by its key)."""
    return template.format(**{name: path_segment(value, name) for name, value in ids.items()})


def property_filter(field_name: str, op: str, value: Any, name: str) -> tuple[str, str]:
    """One ``property=<field><op><value>`` query parameter; ``value`` is checked like a path segment
    (a ``,`` would turn the filter into an OR of two filters)."""
    return ("property", f"{field_name}{op}{path_segment(str(value) if isinstance(value, int) else value, name)}")


def name_filter(value: Any, name: str = "name") -> tuple[str, str]:
    """``property=name=="<value>"``; a name holding ``"``, ``,`` or a control character is refused."""
    if not isinstance(value, str) or '"' in value or "," in value or _CONTROL.search(value):
        raise FlowServiceConfigError(
            f"{name}: {value!r} cannot be matched by the API's name filter: no '\"', ',' or control characters"
        )
    return ("property", f'name=="{value}"')


def property_in(field_name: str, values: Sequence[Any], name: str) -> tuple[str, str]:
    """``property=<field>==a,b,c``: matches any of ``values`` (a comma ORs values); each is checked by
    :func:`path_segment`."""
    return ("property", f"{field_name}==" + ",".join(path_segment(value, name) for value in values))


_FILTER_HEAD = re.compile(r"[A-Za-z][A-Za-z0-9_.]*(==|!=|>=|<=|>|<|~)")


def _ok_filter(text: str) -> bool:
    """A ``property`` filter whose commas only separate plain values: ``id==a,b,c`` yes, ``flowId==a,flowId==b`` no."""
    if "," not in text:
        return True
    head = _FILTER_HEAD.match(text)
    return head is not None and all(_SEGMENT.fullmatch(v) for v in text[head.end() :].split(","))


def check_request(req: ApiRequest) -> None:
    """Refuse, before anything is sent, a path that is not made of single segments, and a ``property``
    filter that holds a ``,`` (an OR) or a control character: whatever layer built the request."""
    if "://" not in req.path:
        segments = req.path.strip("/").split("/")
        if not all(_SEGMENT.fullmatch(seg) and seg not in (".", "..") for seg in segments):
            raise FlowServiceConfigError(f"request path {req.path!r}: every path segment must use {_SEGMENT_RULE}")
    elif _CONTROL.search(req.path) or any(ord(ch) > 126 for ch in req.path):
        raise FlowServiceConfigError(f"request URL {req.path!r}: holds a control or non-ASCII character")
    for key, value in req.params:
        text = str(value)
        if _CONTROL.search(text) or (key == "property" and not _ok_filter(text)):
            raise FlowServiceConfigError(
                f"{key}: {value!r} holds a control character, or a ',' (which the API reads as OR) that does not "
                "separate plain values (id==a,b,c)"
            )


def build_request(
    http: httpx.Client | httpx.AsyncClient, creds: FlowServiceCredentials, token: str, req: ApiRequest
) -> httpx.Request:
    """Build the HTTP request with every header the Platform gateway requires (checked by
    :func:`check_request` first)."""
    check_request(req)
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": creds.client_id,
        "x-gw-ims-org-id": creds.org_id,
        "x-sandbox-name": creds.sandbox,
        "Accept": "application/json",
    }
    if req.json is not None:
        headers["Content-Type"] = "application/json"
    headers.update(req.headers)
    url = req.path if "://" in req.path else creds.api_url.rstrip("/") + "/" + req.path.lstrip("/")
    # httpx replaces a URL's own query with the params it is given (even none): keep it (a journal's ?since=).
    url, _, query = url.partition("?")
    params = (*parse_qsl(query, keep_blank_values=True), *req.params)  # a tuple: httpx types it covariantly
    return http.build_request(req.method.upper(), url, params=params or None, json=req.json, headers=headers)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: an integer, or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def error_from_response(response: httpx.Response, req: ApiRequest) -> FlowServiceError:
    """Map both error body shapes (gateway ``{error_code, message}`` and Flow Service
    ``{type, title, status, report}``) and the IMS shape to one exception."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    code: str | None = None
    message: str | None = None
    if isinstance(body, dict):
        raw_report = body.get("report")
        report: dict[str, Any] = raw_report if isinstance(raw_report, dict) else {}
        if "error_code" in body:
            code, message = str(body["error_code"]), body.get("message")
        elif "type" in body or "title" in body or report:
            match = _CODE_IN_TYPE.search(str(body.get("type") or ""))
            code = match.group(1) if match else None
            message = (
                report.get("detailed-message") or body.get("errorMessage") or body.get("detail") or body.get("title")
            )
            request_id = report.get("request-id") or request_id
        elif "errorMessage" in body:
            message = body["errorMessage"]
        elif "error" in body:
            code, message = str(body["error"]), body.get("error_description")
    elif isinstance(body, str):
        message = body
    message = str(message or response.reason_phrase or "no error message")
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "request_id": request_id,
        "method": req.method.upper(),
        "path": req.path,
    }
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 401:
        return FlowServiceAuthError(message, **kwargs)
    if status == 403:
        return FlowServicePermissionError(message, **kwargs)
    if status == 404:
        return FlowServiceNotFoundError(message, **kwargs)
    if status == 410:
        return FlowServiceGoneError(message, **kwargs)
    if status == 412:
        return FlowServiceConflictError(message, **kwargs)
    if status == 429:
        return FlowServiceRateLimitError(message, retry_after=retry_after, **kwargs)
    if status >= 500:
        return FlowServiceServerError(message, retry_after=retry_after, **kwargs)
    if 400 <= status < 500:
        return FlowServiceBadRequestError(message, **kwargs)
    return FlowServiceError(f"unexpected HTTP status {status}: {message}", **kwargs)


@dataclass(frozen=True)
class Answer:
    """A successful response as a caller that reads more than its JSON body needs it (status, headers, body)."""

    status: int
    headers: Mapping[str, str]
    content: bytes


def response_answer(response: httpx.Response, req: ApiRequest) -> Answer:
    """The :class:`Answer` of a successful response, else raise (the same errors as :func:`parse_response`)."""
    return Answer(response.status_code, dict(response.headers), response_content(response, req))


def response_content(response: httpx.Response, req: ApiRequest) -> bytes:
    """The undecoded body of a successful response, else raise (the caller decodes only what it needs)."""
    if response.status_code >= 400 or response.status_code < 200:
        raise error_from_response(response, req)
    return response.content


def parse_response(response: httpx.Response, req: ApiRequest) -> Any:
    """Return the decoded JSON body of a successful response (``None`` when empty), else raise."""
    if not response_content(response, req):
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise FlowServiceError(
            f"the service answered HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
            method=req.method.upper(),
            path=req.path,
        ) from exc


def unwrap_items(body: Any) -> list[dict[str, Any]]:
    """The entities of an ``{"items": [...]}`` envelope (a bare entity or list is accepted too)."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return [item for item in body["items"] if isinstance(item, dict)]
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if isinstance(body, dict) and body.get("id"):
        return [body]
    return []


def next_page_request(body: Any, req: ApiRequest, api_url: str) -> ApiRequest | None:
    """The request for the page after ``body``, from ``_links.next.href``; ``None`` on the last page.

    The href may be relative to the API base (``/runs?continuationToken=...``), carry the full API
    path, or be absolute. When it only carries the token, the original filters are kept.
    """
    links = body.get("_links") if isinstance(body, dict) else None
    href = ((links or {}).get("next") or {}).get("href") if isinstance(links, dict) else None
    if not href:
        return None
    parts = urlsplit(str(href))
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name == "continuationToken" for name, _ in query):
        return None
    base_path = urlsplit(api_url).path.rstrip("/")
    path = parts.path
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path) :]
    if parts.scheme and not path.startswith("/"):
        path = "/" + path
    if all(name == "continuationToken" for name, _ in query):
        kept = [(k, v) for k, v in req.params if k != "continuationToken"]
        query = kept + query
    return ApiRequest(method=req.method, path=path or req.path, params=query, headers=req.headers)


def _is_retryable(exc: BaseException, req: ApiRequest) -> bool:
    # A failed token fetch is safe to repeat, whatever the call it was for.
    safe = req.is_retry_safe or getattr(exc, "token_fetch", False)
    if isinstance(exc, FlowServiceRateLimitError):
        return True
    if isinstance(exc, FlowServiceTransportError):
        return not exc.request_sent or safe
    if isinstance(exc, FlowServiceServerError):
        return safe
    return False


def _mark_token_fetch(exc: FlowServiceError) -> FlowServiceError:
    exc.token_fetch = True  # type: ignore[attr-defined]
    return exc


class _BackoffWait:
    """tenacity wait: the server's ``Retry-After`` when it sent one, else capped exponential + jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, (int, float)):
            return float(retry_after)
        attempt = max(1, int(state.attempt_number))
        base: float = min(self.policy.max_delay, self.policy.initial_delay * 2 ** (attempt - 1))
        return base + random.uniform(0, self.policy.jitter)


def _stop_on_long_retry_after(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], bool]:
    def stop(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        too_long = retry_after is not None and retry_after > policy.max_retry_after
        return too_long or state.attempt_number >= policy.max_attempts

    return stop


def _log_retry(req: ApiRequest) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("Flow Service %s failed (%s); retry %d in %.1fs", req.describe(), exc, state.attempt_number, delay)

    return before_sleep


# Requests one async client sends at once (its pool holds 100 connections; see AsyncFlowServiceClient).
MAX_IN_FLIGHT = 20


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process and shared by every client.

    Building one loads the CA bundle, which every hook would otherwise pay for (BENCHMARKS.md section 3).
    """
    return httpx.create_ssl_context()


def _retry_args(policy: RetryPolicy, req: ApiRequest) -> dict[str, Any]:
    return {
        "retry": tenacity.retry_if_exception(lambda exc: _is_retryable(exc, req)),
        "wait": _BackoffWait(policy),
        "stop": _stop_on_long_retry_after(policy),
        "before_sleep": _log_retry(req),
        "reraise": True,
    }


# Raised by httpx before a byte leaves the process (a header it cannot encode, a bad URL): nothing was sent.
_LOCAL_ERRORS = (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL, UnicodeError)


def _local_error(exc: Exception, req: ApiRequest) -> FlowServiceConfigError:
    return FlowServiceConfigError(
        f"the request could not be built, nothing was sent: {type(exc).__name__}: {exc}; check the connection's "
        "header values (sandbox, org_id, client id) and URLs",
        method=req.method.upper(),
        path=req.path,
    )


def _transport_error(exc: httpx.HTTPError, req: ApiRequest) -> FlowServiceTransportError:
    sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
    what = "the connection broke after the request was sent (it may have been applied)" if sent else "could not connect"
    return FlowServiceTransportError(
        f"{what}: {type(exc).__name__}: {exc}", request_sent=sent, method=req.method.upper(), path=req.path
    )


def _raise_if_retryable(response: httpx.Response, req: ApiRequest) -> httpx.Response:
    """Turn a 429/5xx token answer into an exception tenacity retries; pass the rest through."""
    if response.status_code == 429 or response.status_code >= 500:
        raise error_from_response(response, req)
    return response


class _ClientBase:
    def __init__(
        self,
        credentials: FlowServiceCredentials,
        *,
        retry_policy: RetryPolicy | None = None,
        token_cache: TokenCache | None = None,
        on_new_token: Callable[[str], Any] | None = None,
    ) -> None:
        self.credentials = credentials
        self.retry_policy = retry_policy or RetryPolicy()
        self.tokens = token_cache or TOKEN_CACHE
        self.on_new_token = on_new_token

    def _token_request(self) -> ApiRequest:
        return ApiRequest("POST", self.credentials.ims_url, retry_safe=True)

    def _second_401(self, response: httpx.Response, req: ApiRequest) -> FlowServiceAuthError:
        error = error_from_response(response, req)
        return FlowServiceAuthError(
            f"the service rejected a freshly issued token ({error.message}); check that the connection's "
            "client id has access to Experience Platform in this org (org_id) and sandbox",
            status=401,
            code=error.code,
            request_id=error.request_id,
            method=req.method.upper(),
            path=req.path,
        )


class FlowServiceClient(_ClientBase):
    """Synchronous Flow Service client (used by operators and sensors).

    :param credentials: org, sandbox, OAuth client and endpoints.
    :param retry_policy: retry limits; see :class:`RetryPolicy`.
    :param transport: an httpx transport (tests pass ``httpx.MockTransport``).
    :param timeout: per-request timeout in seconds.
    :param sleep: how to wait between retries (tests patch it).
    :param on_new_token: called with each newly issued token (the hook registers it with the masker).
    """

    def __init__(
        self,
        credentials: FlowServiceCredentials,
        *,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        token_cache: TokenCache | None = None,
        on_new_token: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(credentials, retry_policy=retry_policy, token_cache=token_cache, on_new_token=on_new_token)
        self._http = httpx.Client(transport=transport, timeout=timeout, verify=ssl_context())
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FlowServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _with_retries(self, req: ApiRequest, call: Callable[[], Any]) -> Any:
        return tenacity.Retrying(sleep=self._sleep, **_retry_args(self.retry_policy, req))(call)

    def _transmit(self, build: Callable[[], httpx.Request], req: ApiRequest) -> httpx.Response:
        try:
            request = build()
        except _LOCAL_ERRORS as exc:
            raise _local_error(exc, req) from None
        try:
            return self._http.send(request)
        except _LOCAL_ERRORS as exc:
            raise _local_error(exc, req) from None
        except httpx.HTTPError as exc:
            raise _transport_error(exc, req) from None

    def _fetch_token(self) -> httpx.Response:
        # One attempt: the call that needs the token retries it (one retry budget, not one inside another).
        req = self._token_request()
        try:
            response = self._transmit(lambda: build_token_request(self._http, self.credentials), req)
            return _raise_if_retryable(response, req)
        except FlowServiceError as exc:
            raise _mark_token_fetch(exc) from None

    def token(self) -> str:
        """A valid access token (cached per process)."""
        return self.tokens.get(self.credentials, self._fetch_token, self.on_new_token)

    def _attempt(self, req: ApiRequest, decode: Callable[[httpx.Response, ApiRequest], Any] = parse_response) -> Any:
        check_request(req)  # before the token: a bad path makes no call at all
        token = self.token()
        response = self._transmit(lambda: build_request(self._http, self.credentials, token, req), req)
        if response.status_code == 401:
            self.tokens.invalidate(self.credentials, token)
            fresh = self.token()
            response = self._transmit(lambda: build_request(self._http, self.credentials, fresh, req), req)
            if response.status_code == 401:
                raise self._second_401(response, req)
        return decode(response, req)

    def send(self, req: ApiRequest) -> Any:
        """Send one call with auth and retries; return its decoded JSON body (``None`` if empty)."""
        return self._with_retries(req, lambda: self._attempt(req))

    def send_raw(self, req: ApiRequest) -> bytes:
        """:meth:`send`, returning the body undecoded."""
        content: bytes = self._with_retries(req, lambda: self._attempt(req, response_content))
        return content

    def send_for_answer(self, req: ApiRequest) -> Answer:
        """:meth:`send`, returning the status, headers and undecoded body."""
        answer: Answer = self._with_retries(req, lambda: self._attempt(req, response_answer))
        return answer

    def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_safe: bool | None = None,
    ) -> Any:
        """Shorthand for :meth:`send` with the parts of an :class:`ApiRequest`."""
        return self.send(_api_request(method, path, params, json, headers, retry_safe))

    def iter_pages(self, req: ApiRequest) -> Iterator[Any]:
        """Yield each page body of a list call, following ``_links.next.href``."""
        current: ApiRequest | None = req
        while current is not None:
            body = self.send(current)
            yield body
            current = next_page_request(body, current, self.credentials.api_url)

    def iter_items(self, path: str, params: QueryParams | Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Yield every entity of a list endpoint across all pages."""
        for body in self.iter_pages(_api_request("GET", path, params, None, None, None)):
            yield from unwrap_items(body)


class AsyncFlowServiceClient(_ClientBase):
    """Asyncio twin of :class:`FlowServiceClient` (used by triggers); same parameters, plus:

    :param max_in_flight: requests sent at once; the others wait their turn. Default 20.
    """

    def __init__(
        self,
        credentials: FlowServiceCredentials,
        *,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        token_cache: TokenCache | None = None,
        on_new_token: Callable[[str], Any] | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        super().__init__(credentials, retry_policy=retry_policy, token_cache=token_cache, on_new_token=on_new_token)
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, verify=ssl_context())
        self._sleep = sleep
        # Thousands of triggers share this client: queueing them here, not in httpcore's pool (whose
        # bookkeeping grows with queued requests x connections), keeps the event loop responsive.
        self._in_flight = asyncio.Semaphore(max_in_flight)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncFlowServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _with_retries(self, req: ApiRequest, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        # Pass a coroutine function (not a lambda): tenacity would treat a lambda as sync.
        return await tenacity.AsyncRetrying(sleep=self._sleep, **_retry_args(self.retry_policy, req))(call, *args)

    async def _transmit(self, build: Callable[[], httpx.Request], req: ApiRequest) -> httpx.Response:
        try:
            request = build()
        except _LOCAL_ERRORS as exc:
            raise _local_error(exc, req) from None
        try:
            async with self._in_flight:
                return await self._http.send(request)
        except _LOCAL_ERRORS as exc:
            raise _local_error(exc, req) from None
        except httpx.HTTPError as exc:
            raise _transport_error(exc, req) from None

    async def _fetch_token(self) -> httpx.Response:
        # One attempt: the call that needs the token retries it (one retry budget, not one inside another).
        req = self._token_request()
        try:
            response = await self._transmit(lambda: build_token_request(self._http, self.credentials), req)
            return _raise_if_retryable(response, req)
        except FlowServiceError as exc:
            raise _mark_token_fetch(exc) from None

    async def token(self) -> str:
        """A valid access token (cached per process; one fetch per event loop at a time)."""
        return await self.tokens.aget(self.credentials, self._fetch_token, self.on_new_token)

    async def _attempt(
        self, req: ApiRequest, decode: Callable[[httpx.Response, ApiRequest], Any] = parse_response
    ) -> Any:
        check_request(req)  # before the token: a bad path makes no call at all
        token = await self.token()
        response = await self._transmit(lambda: build_request(self._http, self.credentials, token, req), req)
        if response.status_code == 401:
            self.tokens.invalidate(self.credentials, token)
            fresh = await self.token()
            response = await self._transmit(lambda: build_request(self._http, self.credentials, fresh, req), req)
            if response.status_code == 401:
                raise self._second_401(response, req)
        return decode(response, req)

    async def send(self, req: ApiRequest) -> Any:
        """Send one call with auth and retries; return its decoded JSON body (``None`` if empty)."""
        return await self._with_retries(req, self._attempt, req)

    async def send_raw(self, req: ApiRequest) -> bytes:
        """:meth:`send`, returning the body undecoded (the run poller decodes only the fields it needs)."""
        content: bytes = await self._with_retries(req, self._attempt, req, response_content)
        return content

    async def send_for_answer(self, req: ApiRequest) -> Answer:
        """:meth:`send`, returning the status, headers and undecoded body."""
        answer: Answer = await self._with_retries(req, self._attempt, req, response_answer)
        return answer

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_safe: bool | None = None,
    ) -> Any:
        """Shorthand for :meth:`send` with the parts of an :class:`ApiRequest`."""
        return await self.send(_api_request(method, path, params, json, headers, retry_safe))

    async def iter_items(
        self, path: str, params: QueryParams | Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every entity of a list endpoint across all pages."""
        current: ApiRequest | None = _api_request("GET", path, params, None, None, None)
        while current is not None:
            body = await self.send(current)
            for item in unwrap_items(body):
                yield item
            current = next_page_request(body, current, self.credentials.api_url)


def _api_request(
    method: str,
    path: str,
    params: QueryParams | Mapping[str, str] | None,
    json: Any,
    headers: Mapping[str, str] | None,
    retry_safe: bool | None,
) -> ApiRequest:
    pairs = tuple(params.items()) if isinstance(params, Mapping) else tuple(params or ())
    return ApiRequest(method, path, pairs, json, dict(headers or {}), retry_safe)
