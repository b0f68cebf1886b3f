"""Fixtures of the emulator suite: one started emulator per session (manual clock), reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_flowservice.testing import FlowServiceEmulator

# The plugin's fixtures, also when the pytest11 entry point is not installed (plain checkout, no -p).
from airflow_flowservice.testing.pytest_plugin import (  # noqa: F401
    flowservice_emulator,
    flowservice_emulator_session,
)

T0 = 1_700_000_000  # the manual clock starts here in every test (2023-11-14T22:13:20Z)


class Api:
    """A tiny client for the tests: token, headers, JSON helpers (deliberately not the provider's client)."""

    def __init__(self, emu: FlowServiceEmulator, sandbox: str = "dev") -> None:
        self.emu = emu
        self.http = httpx.Client(base_url=emu.api_url, timeout=10.0)
        self.sandbox = sandbox
        self.token = self.fetch_token()

    def fetch_token(self) -> str:
        r = httpx.post(
            self.emu.ims_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.emu.client_id,
                "client_secret": self.emu.client_secret,
                "scope": "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext",
            },
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def headers(self, **extra: str) -> dict[str, str]:
        h = {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.emu.client_id,
            "x-gw-ims-org-id": self.emu.org_id,
            "x-sandbox-name": self.sandbox,
        }
        h.update(extra)
        return h

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> httpx.Response:
        h = self.headers()
        if json is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        return self.http.request(method, path, json=json, headers=h, params=params)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.request(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def item(self, path: str) -> dict[str, Any]:
        body = self.ok("GET", path)
        assert list(body) == ["items"] and len(body["items"]) == 1, body
        return dict(body["items"][0])

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="session")
def emu_session() -> Iterator[FlowServiceEmulator]:
    emu = FlowServiceEmulator(clock="manual", run_timeline=(1.0, 2.0))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emu(emu_session: FlowServiceEmulator) -> Iterator[FlowServiceEmulator]:
    emu_session.reset()
    emu_session.clock.set(T0)
    yield emu_session
    emu_session.reset()


@pytest.fixture
def api(emu: FlowServiceEmulator) -> Iterator[Api]:
    client = Api(emu)
    try:
        yield client
    finally:
        client.close()


def flow_error_code(response: httpx.Response) -> str:
    """The catalogue code of a Flow Service error body (``FLOW-1386-400`` -> ``1386-400``)."""
    body = response.json()
    assert set(body) >= {"type", "title", "status", "report"}, body
    assert body["status"] == response.status_code
    assert body["report"]["request-id"]
    assert body["type"].startswith("https://ns.adobe.com/aep/errors/FLOW-"), body["type"]
    return str(body["type"].rsplit("FLOW-", 1)[1])


# --- entity builders used by several test modules -----------------------------------------------

AZURE_FILE = "be5ec48c-5b78-49d5-b8fa-7c89ec4569b8"
S3_SOURCE = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
DATA_LAKE_TARGET = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
DATA_LAKE_SOURCE = "23598e46-f560-407b-88d5-ea6207e49db0"
CLOUD_STORAGE_TO_AEP = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
BIGQUERY = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
MAILCHIMP = "c8ce8c8c-37fb-4162-9fbf-c2f181e04a7a"
REST_TO_AEP = "6499120c-0b15-42dc-936e-847ea3c24d72"


def make_s3_chain(
    api: Api, *, draft: bool = False, schedule: dict[str, Any] | None = None, name: str = "S3 flow"
) -> dict[str, str]:
    """Base -> source -> target -> flow for the Amazon S3 source (CloudStorageToAEP)."""
    q = "?mode=draft" if draft else ""
    base = api.ok(
        "POST",
        f"/connections{q}",
        201,
        json={
            "name": f"{name} base",
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "AKIA", "s3SecretKey": "secret"}},
            "connectionSpec": {"id": S3_SOURCE, "version": "1.0"},
        },
    )["id"]
    source = api.ok(
        "POST",
        f"/sourceConnections{q}",
        201,
        json={
            "name": f"{name} source",
            "baseConnectionId": base,
            "data": {"format": "delimited"},
            "params": {"path": "/bucket/data.csv"},
            "connectionSpec": {"id": S3_SOURCE, "version": "1.0"},
        },
    )["id"]
    target = api.ok(
        "POST",
        f"/targetConnections{q}",
        201,
        json={
            "name": f"{name} target",
            "data": {
                "schema": {
                    "id": "https://ns.adobe.com/tenant/schemas/abc",
                    "version": "application/vnd.adobe.xed-full+json;version=1",
                }
            },
            "params": {"dataSetId": "6155e3a9bd13651949515f14"},
            "connectionSpec": {"id": DATA_LAKE_TARGET, "version": "1.0"},
        },
    )["id"]
    body: dict[str, Any] = {
        "name": name,
        "flowSpec": {"id": CLOUD_STORAGE_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
    }
    if not draft or schedule is not None:
        body["scheduleParams"] = schedule or {"startTime": str(int(api.emu.clock.now())), "frequency": "once"}
    flow = api.ok("POST", f"/flows{q}", 201, json=body)["id"]
    return {"base": base, "source": source, "target": target, "flow": flow}


def make_table_flow(api: Api, *, frequency: str = "once") -> dict[str, str]:
    """A Google BigQuery (table-based) flow with CRMToAEP."""
    base = api.ok(
        "POST",
        "/connections",
        201,
        json={
            "name": "BigQuery base",
            "auth": {
                "specName": "Basic Authentication",
                "params": {"project": "p", "clientId": "c", "clientSecret": "s", "refreshToken": "r"},
            },
            "connectionSpec": {"id": BIGQUERY, "version": "1.0"},
        },
    )["id"]
    source = api.ok(
        "POST",
        "/sourceConnections",
        201,
        json={
            "name": "BigQuery source",
            "baseConnectionId": base,
            "data": {"format": "tabular"},
            "params": {"tableName": "test1.Mytable"},
            "connectionSpec": {"id": BIGQUERY, "version": "1.0"},
        },
    )["id"]
    target = api.ok(
        "POST",
        "/targetConnections",
        201,
        json={
            "name": "Lake",
            "data": {"format": "parquet_xdm"},
            "params": {"dataSetId": "ds1"},
            "connectionSpec": {"id": DATA_LAKE_TARGET, "version": "1.0"},
        },
    )["id"]
    schedule: dict[str, Any] = {"startTime": T0, "frequency": frequency}
    transformations: list[dict[str, Any]] = []
    if frequency != "once":
        schedule["interval"] = 15 if frequency == "minute" else 1
        transformations = [{"name": "Copy", "params": {"deltaColumn": {"name": "updatedAt"}}}]
    flow = api.ok(
        "POST",
        "/flows",
        201,
        json={
            "name": "BigQuery flow",
            "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "sourceConnectionIds": [source],
            "targetConnectionIds": [target],
            "transformations": transformations,
            "scheduleParams": schedule,
        },
    )["id"]
    return {"base": base, "source": source, "target": target, "flow": flow}
