"""FlowServiceHook: connection parsing, provider registration, async client sharing."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from airflow.sdk import Connection

from airflow_flowservice import get_provider_info
from airflow_flowservice.exceptions import FlowServiceConfigError
from airflow_flowservice.hooks.flowservice import FlowServiceHook, credentials_from_connection


def make_conn(**extra: object) -> Connection:
    base: dict[str, object] = {"org_id": "ORG1@AdobeOrg", "sandbox": "dev"}
    base.update(extra)
    return Connection(
        conn_id="fs", conn_type="adobe_flowservice", login="cid", password="secret", extra=json.dumps(base)
    )


def test_credentials_from_a_complete_connection_use_defaults() -> None:
    creds = credentials_from_connection(make_conn())
    assert creds.org_id == "ORG1@AdobeOrg"
    assert creds.sandbox == "dev"
    assert creds.ims_url == "https://ims-na1.adobelogin.com/ims/token/v3"
    assert creds.api_url == "https://platform.adobe.io/data/foundation/flowservice"
    assert creds.scopes.startswith("openid,session,AdobeID")
    assert "secret" not in repr(creds)


@pytest.mark.parametrize(
    ("extra", "login", "password", "message"),
    [
        ({"org_id": None}, "cid", "secret", "Connection 'fs' has no extra 'org_id'"),
        ({"sandbox": ""}, "cid", "secret", "Connection 'fs' has no extra 'sandbox'"),
        ({}, None, "secret", "Connection 'fs' has no login (client id)"),
        ({}, "cid", None, "Connection 'fs' has no password (client secret)"),
        ({"org_id": "ORG1"}, "cid", "secret", "an IMS org id ends with '@AdobeOrg'"),
        ({"sandbox": "Prod"}, "cid", "secret", "sandbox names are all lower case"),
    ],
)
def test_bad_connections_name_the_field(extra: dict[str, object], login: str, password: str, message: str) -> None:
    conn = make_conn(**extra)
    conn.login, conn.password = login, password
    with pytest.raises(FlowServiceConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        credentials_from_connection(conn)


def test_provider_info_declares_the_connection_type() -> None:
    info = get_provider_info()
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "adobe_flowservice"
    assert conn_type["hook-class-name"] == "airflow_flowservice.hooks.flowservice.FlowServiceHook"
    assert set(conn_type["conn-fields"]) == {
        "org_id",
        "sandbox",
        "scopes",
        "ims_url",
        "api_url",
        "events_journal_url",
        "conversion_url",
        "ui_tenant",
    }
    assert FlowServiceHook.get_ui_field_behaviour()["relabeling"]["password"] == "Client secret"


def test_provider_info_validates_against_airflow_schema() -> None:
    import importlib.resources

    import jsonschema

    schema = json.loads(importlib.resources.files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


class _RecordingLog:
    def __init__(self) -> None:
        self.exceptions: list[str] = []

    def exception(self, message: str, *args: object, **kwargs: object) -> None:
        self.exceptions.append(message % args)


@pytest.mark.parametrize("module_present", [True, False])
def test_airflow_finds_the_provider_module_when_looking_for_example_dags(
    monkeypatch: pytest.MonkeyPatch, module_present: bool
) -> None:
    """Airflow 3.3 imports ``airflow_provider_flowservice`` (from the distribution name) with load_examples on."""
    manager = pytest.importorskip("airflow.dag_processing.bundles.manager")
    add_example_dags = getattr(manager, "_add_provider_example_dags_to_bundle", None)
    if add_example_dags is None:
        pytest.skip("this Airflow does not look for provider example DAGs")
    recorder = _RecordingLog()
    monkeypatch.setattr(manager, "log", recorder)
    if not module_present:  # what every Airflow command logged before the module existed
        monkeypatch.setitem(sys.modules, "airflow_provider_flowservice", None)
    bundles: list[object] = []
    add_example_dags(bundles)
    ours = [m for m in recorder.exceptions if "airflow_provider_flowservice" in m]
    if module_present:
        assert ours == []
    else:
        assert ours == ["Could not load provider module airflow_provider_flowservice for example DAG discovery"]
    assert not [b for b in bundles if "flowservice" in str(b)]  # the provider ships no example-DAG bundle


async def test_async_clients_are_shared_per_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    async def aget_connection(conn_id: str) -> Connection:
        return make_conn()

    # raising=False: Airflow 3.0 has no BaseHook.aget_connection (the hook then reads it in a thread)
    monkeypatch.setattr(FlowServiceHook, "aget_connection", staticmethod(aget_connection), raising=False)
    first = await FlowServiceHook("fs").get_async_client()
    second = await FlowServiceHook("fs").get_async_client()
    assert first is second

    async def other_loop_client() -> object:
        return await FlowServiceHook("fs").get_async_client()

    # A different event loop gets its own client (httpx pools are bound to a loop).
    third = await asyncio.to_thread(asyncio.run, other_loop_client())
    assert third is not first
