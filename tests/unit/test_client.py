"""The HTTP core against a scripted transport: auth, headers, retries, paging, error mapping."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from airflow_flowservice.auth import TokenCache
from airflow_flowservice.client import (
    AsyncFlowServiceClient,
    FlowServiceClient,
    RetryPolicy,
    parse_retry_after,
)
from airflow_flowservice.exceptions import (
    FlowServiceAuthError,
    FlowServiceBadRequestError,
    FlowServiceConflictError,
    FlowServiceNotFoundError,
    FlowServicePermissionError,
    FlowServiceServerError,
    FlowServiceTransportError,
)
from tests.unit.fake_service import CREDS, FakeService, reply

FAST = RetryPolicy(max_attempts=4, initial_delay=0.5, max_delay=4, jitter=0)


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(service: FakeService, sleeps: list[float]) -> FlowServiceClient:
    return FlowServiceClient(
        CREDS, transport=service.transport, retry_policy=FAST, sleep=sleeps.append, token_cache=TokenCache()
    )


def test_every_call_carries_the_required_headers(client: FlowServiceClient, service: FakeService) -> None:
    client.request("GET", "/flows")
    client.request("POST", "/flows", json={"name": "x"}, retry_safe=False)
    client.request("PATCH", "/flows/1", json=[], headers={"If-Match": '"e1"'})
    assert len(service.api_requests) == 3
    for request in service.api_requests:
        assert request.headers["Authorization"] == "Bearer tok-1"
        assert request.headers["x-api-key"] == "cid-123"
        assert request.headers["x-gw-ims-org-id"] == "ORG123@AdobeOrg"
        assert request.headers["x-sandbox-name"] == "dev"
        assert str(request.url).startswith("https://api.test/data/foundation/flowservice/flows")
    assert "Content-Type" not in service.api_requests[0].headers
    assert service.api_requests[1].headers["Content-Type"] == "application/json"
    assert service.api_requests[2].headers["If-Match"] == '"e1"'


def test_many_calls_use_one_token(client: FlowServiceClient, service: FakeService) -> None:
    for _ in range(25):
        client.request("GET", "/runs")
    assert service.token_calls == 1
    assert len(service.api_requests) == 25


def test_token_is_shared_across_clients_with_the_same_credentials(service: FakeService) -> None:
    cache = TokenCache()
    for _ in range(3):
        FlowServiceClient(CREDS, transport=service.transport, token_cache=cache).request("GET", "/flows")
    assert service.token_calls == 1


def test_token_refreshed_before_expiry(service: FakeService) -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    service.token_ttl = 100
    client = FlowServiceClient(CREDS, transport=service.transport, token_cache=cache)
    client.request("GET", "/flows")
    now[0] += 89  # inside the 10% safety margin: still the same token
    client.request("GET", "/flows")
    assert service.token_calls == 1
    now[0] += 2  # 91 s: past expires_in minus margin
    client.request("GET", "/flows")
    assert service.token_calls == 2


def test_401_refreshes_the_token_once_then_succeeds(client: FlowServiceClient, service: FakeService) -> None:
    client.request("GET", "/flows")
    service.valid_tokens.clear()  # the service revokes the token
    body = client.request("GET", "/flows/abc")
    assert body == {"items": []}
    assert service.token_calls == 2
    assert [r.headers["Authorization"] for r in service.api_requests[-2:]] == ["Bearer tok-1", "Bearer tok-2"]


def test_401_twice_is_a_clear_auth_error(client: FlowServiceClient, service: FakeService) -> None:
    service.queue(reply(401, {"error_code": "401013", "message": "Oauth token is not valid"}))
    service.queue(reply(401, {"error_code": "401013", "message": "Oauth token is not valid"}))
    with pytest.raises(FlowServiceAuthError) as info:
        client.request("GET", "/flows")
    assert "rejected a freshly issued token" in str(info.value)
    assert info.value.status == 401 and info.value.code == "401013"
    assert service.token_calls == 2
    assert len(service.api_requests) == 2


def test_bad_client_secret_names_the_fix(sleeps: list[float]) -> None:
    def ims(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error": "invalid_client", "error_description": "invalid client_secret parameter"}
        )

    client = FlowServiceClient(CREDS, transport=httpx.MockTransport(ims), token_cache=TokenCache(), sleep=sleeps.append)
    with pytest.raises(FlowServiceAuthError) as info:
        client.request("GET", "/flows")
    message = str(info.value)
    assert "invalid_client" in message and "client secret" in message
    assert CREDS.client_secret not in message
    assert sleeps == []  # a 401 from IMS is final


def test_429_honours_integer_retry_after(client: FlowServiceClient, service: FakeService, sleeps: list[float]) -> None:
    service.queue(reply(429, {"error_code": "429050", "message": "Too many requests"}, {"Retry-After": "7"}))
    assert client.request("GET", "/runs") == {"items": []}
    assert sleeps == [7.0]
    assert len(service.api_requests) == 2


def test_429_honours_http_date_retry_after(
    client: FlowServiceClient, service: FakeService, sleeps: list[float]
) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    service.queue(reply(429, None, {"Retry-After": when}))
    client.request("GET", "/runs")
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30


def test_429_on_post_is_retried_because_it_was_not_applied(
    client: FlowServiceClient, service: FakeService, sleeps: list[float]
) -> None:
    service.queue(reply(429, None, {"Retry-After": "1"}), reply(201, {"id": "r1", "etag": '"e"'}))
    assert client.request("POST", "/runs", json={"flowId": "f"}) == {"id": "r1", "etag": '"e"'}
    assert sleeps == [1.0]


def test_5xx_retried_for_get_with_capped_exponential_backoff(
    client: FlowServiceClient, service: FakeService, sleeps: list[float]
) -> None:
    service.queue(reply(503), reply(502), reply(500))
    assert client.request("GET", "/runs/x") == {"items": []}
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(service.api_requests) == 4


def test_5xx_gives_up_after_max_attempts(client: FlowServiceClient, service: FakeService, sleeps: list[float]) -> None:
    service.queue(*[reply(503)] * 10)
    with pytest.raises(FlowServiceServerError):
        client.request("GET", "/runs/x")
    assert len(service.api_requests) == FAST.max_attempts


def test_5xx_is_not_retried_for_post_runs(client: FlowServiceClient, service: FakeService, sleeps: list[float]) -> None:
    service.queue(reply(503, {"error_code": "503", "message": "unavailable"}))
    with pytest.raises(FlowServiceServerError):
        client.request("POST", "/runs", json={"flowId": "f"})
    assert len(service.api_requests) == 1
    assert sleeps == []


def test_dropped_response_on_post_is_not_resent(sleeps: list[float]) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ims.test":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 100})
        calls.append(request.method)
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    client = FlowServiceClient(
        CREDS,
        transport=httpx.MockTransport(handler),
        token_cache=TokenCache(),
        retry_policy=FAST,
        sleep=sleeps.append,
    )
    with pytest.raises(FlowServiceTransportError) as info:
        client.request("POST", "/runs", json={})
    assert info.value.request_sent is True
    assert calls == ["POST"]
    with pytest.raises(FlowServiceTransportError):
        client.request("GET", "/runs")
    assert calls.count("GET") == FAST.max_attempts


def test_connect_errors_are_retried_even_for_post(sleeps: list[float]) -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ims.test":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 100})
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={"id": "r", "etag": '"e"'})

    client = FlowServiceClient(
        CREDS,
        transport=httpx.MockTransport(handler),
        token_cache=TokenCache(),
        retry_policy=FAST,
        sleep=sleeps.append,
    )
    assert client.request("POST", "/runs", json={})["id"] == "r"
    assert len(attempts) == 3


def test_gateway_error_shape_is_mapped(client: FlowServiceClient, service: FakeService) -> None:
    service.queue(reply(403, {"error_code": "403000", "message": "Api Key is required"}, {"x-request-id": "req-9"}))
    with pytest.raises(FlowServicePermissionError) as info:
        client.request("GET", "/flows")
    err = info.value
    assert (err.status, err.code, err.message, err.request_id) == (
        403,
        "403000",
        "Api Key is required",
        "req-9",
    )
    assert str(err) == "GET /flows HTTP 403 [403000]: Api Key is required (request id req-9)"


def test_flow_service_error_shape_is_mapped(client: FlowServiceClient, service: FakeService) -> None:
    service.queue(
        reply(
            400,
            {
                "type": "https://ns.adobe.com/aep/errors/FLOW-1386-400",
                "title": "Bad Request",
                "status": 400,
                "report": {
                    "detailed-message": "The flowId=f1 with scheduleParams frequency=day is not supported",
                    "request-id": "rid-1",
                },
                "errorMessage": "ignored when report has a message",
            },
        )
    )
    with pytest.raises(FlowServiceBadRequestError) as info:
        client.request("POST", "/runs", json={})
    err = info.value
    assert (err.status, err.code, err.request_id) == (400, "1386-400", "rid-1")
    assert "frequency=day" in err.message


@pytest.mark.parametrize(
    ("status", "body", "exc_type", "code"),
    [
        (
            404,
            {
                "type": "https://ns.adobe.com/aep/errors/FLOW-1439-404",
                "title": "Resource not found",
                "status": 404,
                "report": {"detailed-message": "not found"},
            },
            FlowServiceNotFoundError,
            "1439-404",
        ),
        (
            412,
            {"errorMessage": "Supplied version=[a] does not match the current version on entity=[b]"},
            FlowServiceConflictError,
            None,
        ),
        (401, {"error_code": 401013, "message": "Oauth token is not valid"}, FlowServiceAuthError, "401013"),
    ],
)
def test_other_error_bodies(
    client: FlowServiceClient,
    service: FakeService,
    status: int,
    body: dict[str, object],
    exc_type: type,
    code: str | None,
) -> None:
    service.queue(reply(status, body), reply(status, body))
    with pytest.raises(exc_type) as info:
        client.request("PATCH", "/flows/f", json=[], headers={"If-Match": '"x"'})
    assert info.value.code == code


def test_paging_through_three_pages_keeps_filters(client: FlowServiceClient, service: FakeService) -> None:
    service.queue(
        reply(
            200,
            {"items": [{"id": "1"}, {"id": "2"}], "_links": {"next": {"href": "/runs?continuationToken=p2"}}},
        ),
        reply(
            200,
            {
                "items": [{"id": "3"}],
                "_links": {
                    "next": {"href": "https://api.test/data/foundation/flowservice/runs?continuationToken=p%3D3"}
                },
            },
        ),
        reply(200, {"items": [{"id": "4"}], "_links": {}}),
    )
    ids = [item["id"] for item in client.iter_items("/runs", [("property", "flowId==f1")])]
    assert ids == ["1", "2", "3", "4"]
    assert len(service.api_requests) == 3
    queries = [dict(r.url.params.multi_items()) for r in service.api_requests]
    assert queries[0] == {"property": "flowId==f1"}
    assert queries[1] == {"property": "flowId==f1", "continuationToken": "p2"}
    assert queries[2] == {"property": "flowId==f1", "continuationToken": "p=3"}
    assert all(r.url.path == "/data/foundation/flowservice/runs" for r in service.api_requests)


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", now) == 5.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


def test_twenty_threads_first_call_one_token(service: FakeService) -> None:
    cache = TokenCache()
    client = FlowServiceClient(CREDS, transport=service.transport, token_cache=cache)
    barrier = threading.Barrier(20)

    def call() -> None:
        barrier.wait()
        client.request("GET", "/flows")

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert service.token_calls == 1
    assert len(service.api_requests) == 20


async def test_twenty_asyncio_tasks_first_call_one_token() -> None:
    token_calls = 0
    api_calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal token_calls, api_calls
        if request.url.host == "ims.test":
            token_calls += 1
            await asyncio.sleep(0.01)  # slow IMS: every task arrives while the fetch is in flight
            return httpx.Response(200, json={"access_token": f"tok-{token_calls}", "expires_in": 3600})
        api_calls += 1
        assert request.headers["Authorization"] == "Bearer tok-1"
        return httpx.Response(200, json={"items": [{"id": "r1"}]})

    client = AsyncFlowServiceClient(CREDS, transport=httpx.MockTransport(handler), token_cache=TokenCache())
    results = await asyncio.gather(*(client.request("GET", "/runs/r1") for _ in range(20)))
    await client.aclose()
    assert token_calls == 1
    assert api_calls == 20
    assert all(r == {"items": [{"id": "r1"}]} for r in results)


async def test_async_retries_honour_retry_after() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(503),
        httpx.Response(200, json={}),
    ]
    slept: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ims.test":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return answers.pop(0)

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    client = AsyncFlowServiceClient(
        CREDS,
        transport=httpx.MockTransport(handler),
        token_cache=TokenCache(),
        retry_policy=FAST,
        sleep=fake_sleep,
    )
    assert await client.request("GET", "/runs/x") == {}
    assert slept == [3.0, 1.0]


def test_secrets_never_in_logs_or_errors(
    client: FlowServiceClient, service: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service.queue(reply(503), reply(400, {"error_code": "400003", "message": "Missing header"}))
    with pytest.raises(FlowServiceBadRequestError) as info:
        client.request("GET", "/flows")
    text = caplog.text + str(info.value) + repr(info.value) + repr(CREDS)
    assert "tok-1" not in text
    assert CREDS.client_secret not in text


def test_every_client_shares_one_tls_context() -> None:
    """Building a TLS context loads the CA bundle (~15-30 ms): the process builds it once, not per hook."""
    from airflow_flowservice.auth import FlowServiceCredentials
    from airflow_flowservice.client import ssl_context

    creds = FlowServiceCredentials("id", "secret", "ORG@AdobeOrg", "dev")
    pools = [FlowServiceClient(creds)._http._transport, AsyncFlowServiceClient(creds)._http._transport]
    assert all(isinstance(t, (httpx.HTTPTransport, httpx.AsyncHTTPTransport)) for t in pools)
    assert [t._pool._ssl_context for t in pools] == [ssl_context(), ssl_context()]


def test_an_absolute_url_keeps_its_own_query() -> None:
    """A journal's next link (``...?since=<position>``) is sent as it is: httpx drops a URL's query when given
    an empty parameter list, which read the journal from its oldest event at every call."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ims.test":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    client = FlowServiceClient(CREDS, transport=httpx.MockTransport(handler), token_cache=TokenCache())
    client.request("GET", "https://events.test/events/organizations/o/integrations/i/r?since=42.0001.ab")
    client.request("GET", "https://events.test/journal?latest=true", params={"limit": "5"})
    assert seen == [
        "https://events.test/events/organizations/o/integrations/i/r?since=42.0001.ab",
        "https://events.test/journal?latest=true&limit=5",
    ]
