"""The token cache holds no lock across a token fetch: an event loop never waits for a thread's fetch."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from airflow_flowservice.auth import TokenCache
from airflow_flowservice.exceptions import FlowServiceAuthError
from tests.unit.fake_service import CREDS


def _token(value: str) -> httpx.Response:
    request = httpx.Request("POST", "https://ims.test/ims/token/v3")
    return httpx.Response(200, json={"access_token": value, "expires_in": 3600}, request=request)


def test_an_event_loops_token_is_not_delayed_by_a_slow_fetch_in_another_thread() -> None:
    cache = TokenCache()
    release = threading.Event()
    fetching = threading.Event()

    def slow_fetch() -> httpx.Response:  # a token request hanging on the network, in a worker thread
        fetching.set()
        assert release.wait(30), "the event loop's token never came: it waited for the thread"
        return _token("from-thread")

    thread = threading.Thread(target=lambda: cache.get(CREDS, slow_fetch))
    thread.start()
    assert fetching.wait(10)

    async def fast_fetch() -> httpx.Response:
        return _token("from-loop")

    async def on_the_loop() -> tuple[str, float]:
        started = time.monotonic()
        token = await asyncio.wait_for(cache.aget(CREDS, fast_fetch), timeout=10)
        return token, time.monotonic() - started

    try:
        token, _ = asyncio.run(on_the_loop())
    finally:
        release.set()
        thread.join(10)
    assert token == "from-loop"  # fetched by the loop itself while the thread's fetch was still under way
    assert not thread.is_alive()


def test_threads_asking_at_once_share_one_fetch_and_its_error() -> None:
    cache = TokenCache()
    calls: list[int] = []
    barrier = threading.Barrier(5)
    gate = threading.Event()

    def failing_fetch() -> httpx.Response:
        calls.append(1)
        gate.wait(5)  # the other threads arrive while this fetch is under way
        request = httpx.Request("POST", "https://ims.test/ims/token/v3")
        return httpx.Response(400, json={"error": "invalid_client"}, request=request)

    errors: list[BaseException] = []

    def ask() -> None:
        barrier.wait()
        try:
            cache.get(CREDS, failing_fetch)
        except FlowServiceAuthError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(10)
    assert 1 <= len(calls) < 5  # joined, not each its own (a late thread may start a second fetch)
    assert len(errors) == 5 and all("invalid_client" in str(e) for e in errors)


async def test_a_cancelled_fetch_does_not_cancel_the_tasks_that_joined_it() -> None:
    cache = TokenCache()
    started = asyncio.Event()
    fetches: list[str] = []

    async def hanging_fetch() -> httpx.Response:
        fetches.append("hanging")
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def quick_fetch() -> httpx.Response:
        fetches.append("quick")
        return _token("second")

    owner = asyncio.ensure_future(cache.aget(CREDS, hanging_fetch))
    await started.wait()
    joiner = asyncio.ensure_future(cache.aget(CREDS, quick_fetch))
    await asyncio.sleep(0)
    owner.cancel()  # e.g. the triggerer cancels the trigger that was fetching
    with pytest.raises(asyncio.CancelledError):
        await owner
    assert await asyncio.wait_for(joiner, 5) == "second"  # the joiner fetched again instead of failing
    assert fetches == ["hanging", "quick"]
