"""Every curl of the five seed pages, replayed against the emulator (requests written out by hand).

Doc bugs of the seed pages are corrected, each with a comment:
- 000/001 publish source/target connections through ``/connections/{id}/action``; the "API format"
  lines (``/sourceConnections/{id}/action``, ``/targetConnections/{id}/action``) are authoritative.
- 000/001 source connection body is not valid JSON (``"description: "`` and a trailing comma).
- 003 Data Landing Zone base connection body is not valid JSON (an unclosed ``auth`` object); DLZ
  has no auth spec, so the corrected body has no ``auth``.
- 003 bodies carry ``//`` comments; 004 curls lack a ``\\`` before ``-d``.
Placeholders such as ``{BASE_CONNECTION_ID}`` and ids of other accounts are replaced by the ids the
emulator returned in the earlier steps.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import (
    AZURE_FILE,
    CLOUD_STORAGE_TO_AEP,
    DATA_LAKE_SOURCE,
    DATA_LAKE_TARGET,
    MAILCHIMP,
    REST_TO_AEP,
    T0,
    Api,
    flow_error_code,
    make_s3_chain,
    make_table_flow,
)

ETAG_RE = re.compile(r'^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$')


def assert_id_etag(body: Any) -> str:
    """The documented create/publish response: ``{"id": ..., "etag": "\\"...\\""}``."""
    assert set(body) == {"id", "etag"}, body
    assert ETAG_RE.match(body["etag"]), body["etag"]
    return str(body["id"])


# --------------------------------------------------------------------------------------------------
# Seeds 000 (zh) and 001 (fr): drafts and publish
# --------------------------------------------------------------------------------------------------


def test_seed_000_001_check_draft_support(api: Api) -> None:
    spec = api.item(f"/connectionSpecs/{AZURE_FILE}")
    assert spec["id"] == AZURE_FILE
    assert spec["name"] == "azure-file-storage"
    assert spec["providerId"] == "0ed90a81-07f4-4586-8190-b40eccef1c5a"
    assert spec["attributes"]["isDraftModeSupported"] is True
    assert spec["authSpec"][0]["name"] == "Basic Authentication"
    assert spec["authSpec"][0]["spec"]["required"] == ["host", "userid", "password"]
    assert spec["sourceSpec"]["spec"]["required"] == ["path"]
    assert spec["exploreSpec"]["type"] == "FileSystem"
    assert spec["permissionsInfo"]["manage"][0]["name"] == "EnterpriseSource"

    # curl '.../flowSpecs?property=name==%22CloudStorageToAEP%22'
    r = api.http.get("/flowSpecs?property=name==%22CloudStorageToAEP%22", headers=api.headers())
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 1
    fs = items[0]
    assert fs["id"] == CLOUD_STORAGE_TO_AEP and fs["name"] == "CloudStorageToAEP"
    assert fs["attributes"]["isDraftModeSupported"] is True
    assert AZURE_FILE in fs["sourceConnectionSpecIds"]
    assert fs["targetConnectionSpecIds"] == [DATA_LAKE_TARGET]
    assert fs["scheduleSpec"]["spec"]["properties"]["frequency"]["enum"] == [
        "once",
        "minute",
        "hour",
        "day",
        "week",
    ]


@pytest.mark.parametrize("seed", ["000", "001"])
def test_seed_000_001_draft_chain_and_publish(api: Api, seed: str) -> None:
    # 000: POST /connections?mode=draft ; 001 omits ?mode=draft in the curl (the base is published at once)
    query = "?mode=draft" if seed == "000" else ""
    base = assert_id_etag(
        api.ok(
            "POST",
            f"/connections{query}",
            201,
            json={
                "name": "ACME Azure File Storage Base Connection",
                "description": "Azure File Storage base connection for ACME data (DRAFT)",
                "auth": {
                    "specName": "Basic Authentication",
                    # the seed sends userId for the spec's userid: required names match case-insensitively
                    "params": {"host": "{HOST}", "userId": "{USER_ID}", "password": "{PASSWORD}"},
                },
                "connectionSpec": {"id": AZURE_FILE, "version": "1.0"},
            },
        )
    )
    assert api.item(f"/connections/{base}")["state"] == ("draft" if seed == "000" else "enabled")

    published = api.ok("POST", f"/connections/{base}/action?op=publish", 200)
    assert assert_id_etag(published) == base  # 001: already published -> accepted idempotently
    assert api.item(f"/connections/{base}")["state"] == "enabled"

    # POST /sourceConnections?mode=draft (body made valid JSON)
    source = assert_id_etag(
        api.ok(
            "POST",
            "/sourceConnections?mode=draft",
            201,
            json={
                "name": "ACME Azure File Storage Source Connection",
                "description": "Azure File Storage source connection for ACME data (DRAFT)",
                "baseConnectionId": base,
                "data": {"format": "delimited"},
                "params": {"path": "/acme/summerCampaign/account.csv", "type": "file"},
                "connectionSpec": {"id": AZURE_FILE, "version": "1.0"},
            },
        )
    )
    # The seed's curl posts to /connections/{SOURCE_ID}/action (doc bug): a clear 404 naming the fix.
    r = api.post(f"/connections/{source}/action?op=publish")
    assert r.status_code == 404 and flow_error_code(r) == "1439-404"
    assert f"/sourceConnections/{source}/action" in r.json()["report"]["detailed-message"]
    assert assert_id_etag(api.ok("POST", f"/sourceConnections/{source}/action?op=publish", 200)) == source

    target = assert_id_etag(
        api.ok(
            "POST",
            "/targetConnections?mode=draft",
            201,
            json={
                "name": "ACME Azure File Storage Target Connection",
                "description": "Azure File Storage target connection ACME data (DRAFT)",
                "data": {
                    "schema": {
                        "id": "{SCHEMA_ID}",
                        "version": "application/vnd.adobe.xed-full+json;version=1",
                    }
                },
                "params": {"dataSetId": "{DATASET_ID}"},
                "connectionSpec": {"id": DATA_LAKE_TARGET, "version": "1.0"},
            },
        )
    )
    assert assert_id_etag(api.ok("POST", f"/targetConnections/{target}/action?op=publish", 200)) == target

    flow = assert_id_etag(
        api.ok(
            "POST",
            "/flows?mode=draft",
            201,
            json={
                "name": "ACME Azure File Storage Dataflow",
                "description": "Azure File Storage dataflow for ACME data (DRAFT)",
                "sourceConnectionIds": [source],
                "targetConnectionIds": [target],
                "flowSpec": {"id": CLOUD_STORAGE_TO_AEP, "version": "1.0"},
            },
        )
    )
    assert api.item(f"/flows/{flow}")["state"] == "draft"
    assert assert_id_etag(api.ok("POST", f"/flows/{flow}/action?op=publish", 200)) == flow
    published_flow = api.item(f"/flows/{flow}")
    assert published_flow["state"] == "enabled"
    assert published_flow["scheduleParams"]["frequency"] == "once"


# --------------------------------------------------------------------------------------------------
# Seed 002: on-demand runs (POST /runs)
# --------------------------------------------------------------------------------------------------


def _assert_run_created(body: Any) -> str:
    # Documented both as {"items": [{"id", "etag"}]} (seed 002) and bare {"id", "etag"} (official spec).
    if "items" in body:
        body = body["items"][0]
    return assert_id_etag(body)


def test_seed_002_table_based_run(api: Api) -> None:
    flow = make_table_flow(api)["flow"]
    # The seed's flow 3abea21c-... does not exist here: the documented 404.
    r = api.post(
        "/runs",
        json={
            "flowId": "3abea21c-7e36-4be1-bec1-d3bad0e3e0de",
            "params": {
                "startTime": "1663735590",
                "windowStartTime": "1651584991",
                "windowEndTime": "16515859567",
                "deltaColumn": {"name": "DOB"},
            },
        },
    )
    assert r.status_code == 404 and flow_error_code(r) == "1439-404"
    run = _assert_run_created(
        api.ok(
            "POST",
            "/runs",
            201,
            json={
                "flowId": flow,
                "params": {
                    "startTime": "1663735590",
                    "windowStartTime": "1651584991",
                    "windowEndTime": "16515859567",  # 11 digits in the seed: accepted (> start)
                    "deltaColumn": {"name": "DOB"},
                },
            },
        )
    )
    got = api.item(f"/runs/{run}")
    assert got["flowId"] == flow
    assert got["params"]["deltaColumn"] == {"name": "DOB"}
    # After the first run the deltaColumn lives in the flow's Copy transformation.
    copy_tr = [t for t in api.item(f"/flows/{flow}")["transformations"] if t["name"] == "Copy"]
    assert copy_tr[0]["params"]["deltaColumn"] == {"name": "DOB"}


def test_seed_002_file_based_run(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    run = _assert_run_created(
        api.ok(
            "POST",
            "/runs",
            201,
            json={
                "flowId": flow,
                "params": {
                    "startTime": "1663735590",
                    "windowStartTime": "1651584991",
                    "windowEndTime": "16515859567",
                },
            },
        )
    )
    assert api.item(f"/runs/{run}")["metrics"]["statusSummary"]["status"] == "scheduled"


# --------------------------------------------------------------------------------------------------
# Seed 003: dataset export to the six cloud storage destinations
# --------------------------------------------------------------------------------------------------

DESTINATIONS: list[dict[str, Any]] = [
    {
        "name": "Amazon S3",
        "spec": "4fce964d-3f37-408f-9778-e597338a21ee",
        "flow_spec": "269ba276-16fc-47db-92b0-c1049a3c131f",
        "auth": [("Access Key", {"s3SecretKey": "<Add secret key>", "s3AccessKey": "<Add access key>"})],
        "target_params": {
            "mode": "Server-to-server",
            "bucketName": "your-bucket-name",
            "path": "folder/subfolder",
            "compression": "NONE",
            "datasetFileType": "JSON",
        },
    },
    {
        "name": "Azure Blob Storage",
        "spec": "6d6b59bf-fb58-4107-9064-4d246c0e5bb2",
        "flow_spec": "95bd8965-fc8a-4119-b9c3-944c2c2df6d2",
        "auth": [("ConnectionString", {"connectionString": "<Add Azure Blob connection string>"})],
        "target_params": {
            "mode": "Server-to-server",
            "container": "your-container-name",
            "path": "folder/subfolder",
            "compression": "NONE",
            "datasetFileType": "JSON",
        },
    },
    {
        "name": "Azure Data Lake Gen2",
        "spec": "be2c3209-53bc-47e7-ab25-145db8b873e1",
        "flow_spec": "17be2013-2549-41ce-96e7-a70363bec293",
        "auth": [
            (
                "Azure Service Principal Auth",
                {"servicePrincipalKey": "<k>", "url": "<u>", "tenant": "<t>", "servicePrincipalId": "<i>"},
            )
        ],
        "target_params": {
            "mode": "Server-to-server",
            "path": "folder/subfolder",
            "compression": "NONE",
            "datasetFileType": "JSON",
        },
    },
    {
        "name": "Data Landing Zone",
        "spec": "10440537-2a7b-4583-ac39-ed38d4b848e8",
        "flow_spec": "cd2fc47e-e838-4f38-a581-8fff2f99b63a",
        "auth": [None],  # no auth spec (the seed's body is malformed JSON; corrected without auth)
        "target_params": {
            "mode": "Server-to-server",
            "path": "folder/subfolder",
            "compression": "NONE",
            "datasetFileType": "JSON",
        },
    },
    {
        "name": "Google Cloud Storage",
        "spec": "c5d93acb-ea8b-4b14-8f53-02138444ae99",
        "flow_spec": "585c15c4-6cbf-4126-8f87-e26bff78b657",
        "auth": [
            (
                "Google Cloud Storage authentication credentials",
                {"accessKeyId": "<Add accessKeyId>", "secretAccessKey": "<Add secret Access Key>"},
            )
        ],
        "target_params": {
            "mode": "Server-to-server",
            "bucketName": "your-bucket-name",
            "path": "folder/subfolder",
            "compression": "NONE",
            "datasetFileType": "JSON",
        },
    },
    {
        "name": "SFTP",
        "spec": "36965a81-b1c6-401b-99f8-22508f1e6a26",
        "flow_spec": "354d6aad-4754-46e4-a576-1b384561c440",
        "auth": [
            (
                "SFTP with Password",
                {"domain": "<Add domain>", "username": "<Add username>", "password": "<pw>"},
            ),
            (
                "SFTP with SSH Key",
                {"domain": "<Add domain>", "username": "<Add username>", "sshKey": "<key>"},
            ),
        ],
        "target_params": {
            "mode": "Server-to-server",
            "remotePath": "folder/subfolder",
            "compression": "NONE",
            "datasetFileType": "JSON",
        },
    },
]


def test_seed_003_connection_specs(api: Api) -> None:
    expected_auth = {
        "Amazon S3": ["Access Key"],
        "Azure Blob Storage": ["ConnectionString"],
        "Azure Data Lake Gen2": ["Azure Service Principal Auth"],
        "Data Landing Zone": [],
        "Google Cloud Storage": ["Google Cloud Storage authentication credentials"],
        "SFTP": ["SFTP with Password", "SFTP with SSH Key"],
    }
    for dest in DESTINATIONS:
        spec = api.item(f"/connectionSpecs/{dest['spec']}")
        assert spec["id"] == dest["spec"]
        assert spec["name"] == dest["name"]
        assert spec["providerId"] == "14e34fac-d307-11e9-bb65-2a2ae2dbcce4"
        assert spec["version"] == "1.0"
        assert [a["name"] for a in spec["authSpec"]] == expected_auth[dest["name"]]
        target = spec["targetSpec"]
        assert target["name"] == "User based target" and target["type"] == "UserNamespace"
        assert target["spec"]["properties"]["datasetFileType"]["enum"] == ["JSON", "PARQUET"]
        assert {"datasetFileType", "compression", "fileType"} <= set(target["spec"]["required"])
    s3 = api.item(f"/connectionSpecs/{DESTINATIONS[0]['spec']}")
    assert s3["authSpec"][0]["spec"]["required"] == ["s3SecretKey", "s3AccessKey"]


def test_seed_003_list_datasets(api: Api) -> None:
    url = (
        f"/connectionSpecs/{DATA_LAKE_SOURCE}/configs?outputType=activationDatasets&outputField=datasets"
        "&start=0&limit=20&properties=name,state"
    )
    r = api.http.get(url, headers={**api.headers(), "accept": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "pageInfo"}
    assert body["items"][1] == {
        "id": "5ef3e3259ad2a1191ab7dd7d",
        "name": "AAM Devices Data",
        "description": "Activation profile export dataset",
        "fileDescription": {"persisted": True, "containerFormat": "parquet", "format": "parquet"},
        "aspect": "production",
        "state": "DRAFT",
    }
    assert len(body["items"]) == 20
    assert body["pageInfo"] == {"start": 0, "end": 19, "total": 25, "hasNext": True}
    last = api.ok("GET", url.replace("start=0", "start=20"))
    assert last["pageInfo"] == {"start": 20, "end": 24, "total": 25, "hasNext": False}


def test_seed_003_dataset_export_dataflows(api: Api) -> None:
    source = assert_id_etag(
        api.ok(
            "POST",
            "/sourceConnections",
            201,
            json={
                "name": "Connecting to Data Lake",
                "description": "Data Lake source connection to export datasets",
                "connectionSpec": {"id": DATA_LAKE_SOURCE, "version": "1.0"},
                "params": {"datasets": [{"dataSetId": "5ef3e3259ad2a1191ab7dd7d", "name": "AAM Devices Data"}]},
            },
        )
    )
    flows = []
    for dest in DESTINATIONS:
        bases = []
        for auth in dest["auth"]:
            body: dict[str, Any] = {
                "name": f"{dest['name']} Base Connection",
                "connectionSpec": {"id": dest["spec"], "version": "1.0"},
            }
            if auth is not None:
                body["auth"] = {"specName": auth[0], "params": auth[1]}
            bases.append(assert_id_etag(api.ok("POST", "/connections", 201, json=body)))
        target = assert_id_etag(
            api.ok(
                "POST",
                "/targetConnections",
                201,
                json={
                    "name": f"{dest['name']} Target Connection",
                    "baseConnectionId": bases[0],
                    "params": dest["target_params"],
                    "connectionSpec": {"id": dest["spec"], "version": "1.0"},
                },
            )
        )
        flow = assert_id_etag(
            api.ok(
                "POST",
                "/flows",
                201,
                json={
                    "name": f"Activate datasets to {dest['name']}",
                    "description": f"This operation creates a dataflow to export datasets to {dest['name']}",
                    "flowSpec": {"id": dest["flow_spec"], "version": "1.0"},
                    "sourceConnectionIds": [source],
                    "targetConnectionIds": [target],
                    "transformations": [],
                    "scheduleParams": {"interval": 3, "timeUnit": "hour", "startTime": 1675901210},
                },
            )
        )
        flows.append(flow)
    # GET /runs?property=flowId==<flow>: the scheduled export has produced its (catch-up) run.
    for flow in flows:
        body = api.ok("GET", f"/runs?property=flowId=={flow}")
        assert len(body["items"]) == 1
        run = body["items"][0]
        for key in (
            "id",
            "createdAt",
            "updatedAt",
            "createdBy",
            "updatedBy",
            "createdClient",
            "updatedClient",
            "sandboxId",
            "sandboxName",
            "imsOrgId",
            "flowId",
            "flowSpec",
            "providerRefId",
            "etag",
            "metrics",
        ):
            assert key in run, key
        assert run["flowId"] == flow
    api.emu.clock.advance(3 * 3600)
    assert len(api.ok("GET", f"/runs?property=flowId=={flows[0]}")["items"]) == 2
    done = api.ok("GET", f"/runs?property=flowId=={flows[0]}&property=metrics.statusSummary.status==success")
    assert len(done["items"]) == 2
    assert done["items"][0]["metrics"]["recordSummary"]["inputRecordCount"] == 3 * 60


# --------------------------------------------------------------------------------------------------
# Seed 004: Mailchimp Campaign source
# --------------------------------------------------------------------------------------------------


def test_seed_004_mailchimp(api: Api) -> None:
    basic = assert_id_etag(
        api.ok(
            "POST",
            "/connections",
            201,
            json={
                "name": "Mailchimp base connection with basic authentication",
                "description": "Mailchimp Campaign base connection with basic authentication",
                "connectionSpec": {"id": MAILCHIMP, "version": "1.0"},
                "auth": {
                    "specName": "Basic Authentication",
                    "params": {
                        "authorizationTestUrl": "https://login.mailchimp.com/oauth2/metadata",
                        "username": "{USERNAME}",
                        "password": "{PASSWORD}",
                    },
                },
            },
        )
    )
    oauth = assert_id_etag(
        api.ok(
            "POST",
            "/connections",
            201,
            json={
                "name": "Mailchimp base connection with OAuth 2 refresh code",
                "description": "Mailchimp Campaign base connection with OAuth 2 refresh code",
                "connectionSpec": {"id": MAILCHIMP, "version": "1.0"},
                "auth": {
                    "specName": "oAuth2RefreshCode",
                    "params": {
                        "authorizationTestUrl": "https://login.mailchimp.com/oauth2/metadata",
                        "accessToken": "{ACCESS_TOKEN}",
                    },
                },
            },
        )
    )
    assert basic != oauth
    r = api.http.get(
        f"/connections/{basic}/explore?objectType=rest&object=json&fileType=json&preview=true"
        "&sourceParams=eyJjYW1wYWlnbklkIjoiYzY2YTIwMGNkYSJ9",
        headers=api.headers(),
    )
    assert r.status_code == 200, r.text
    emails = r.json()["data"][0]["emails"]
    assert emails and all(e["campaign_id"] == "c66a200cda" for e in emails)
    assert {"campaign_id", "list_id", "list_is_active", "email_id", "email_address", "_links"} <= set(emails[0])
    assert [link["rel"] for link in emails[0]["_links"]] == ["parent", "self", "member"]

    source = assert_id_etag(
        api.ok(
            "POST",
            "/sourceConnections",
            201,
            json={
                "name": "MailChimp source connection to ingest campaign ID",
                "description": "MailChimp Campaign source connection to ingest campaign ID",
                "baseConnectionId": basic,
                "connectionSpec": {"id": MAILCHIMP, "version": "1.0"},
                "data": {"format": "json"},
                "params": {"campaignId": "c66a200cda"},
            },
        )
    )
    target = assert_id_etag(
        api.ok(
            "POST",
            "/targetConnections",
            201,
            json={
                "name": "MailChimp target connection",
                "description": "MailChimp Campaign target connection",
                "connectionSpec": {"id": DATA_LAKE_TARGET, "version": "1.0"},
                "data": {
                    "format": "parquet_xdm",
                    "schema": {
                        "id": "https://ns.adobe.com/{TENANT_ID}/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d",
                        "version": "application/vnd.adobe.xed-full+json;version=1",
                    },
                },
                "params": {"dataSetId": "6155e3a9bd13651949515f14"},
            },
        )
    )
    flow = assert_id_etag(
        api.ok(
            "POST",
            "/flows",
            201,
            json={
                "name": "MailChimp Campaign dataflow",
                "description": "MailChimp Campaign dataflow",
                "flowSpec": {"id": REST_TO_AEP, "version": "1.0"},
                "sourceConnectionIds": [source],
                "targetConnectionIds": [target],
                "scheduleParams": {"startTime": "1632809759", "frequency": "minute", "interval": 15},
            },
        )
    )
    got = api.item(f"/flows/{flow}")
    assert got["scheduleParams"] == {"startTime": 1632809759, "frequency": "minute", "interval": "15"}
    assert got["inheritedAttributes"]["sourceConnections"][0]["baseConnection"]["id"] == basic
    assert got["state"] == "enabled"
    assert api.emu.clock.now() == T0


def _draft_page_responses() -> list[Any]:
    """The JSON responses of Adobe's drafts page, vendored in ``tests/vendor/adobe`` (see the README there)."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "vendor" / "adobe" / "draft-api-spec-responses.json"
    blocks: list[Any] = json.loads(path.read_text(encoding="utf-8"))
    return blocks


def test_seed_000_specs_are_verbatim(api: Api) -> None:
    """The Azure File Storage connection spec and CloudStorageToAEP flow spec equal seed 000's responses."""
    blocks = _draft_page_responses()
    by_id = {b["items"][0]["id"]: b for b in blocks}
    assert api.ok("GET", f"/connectionSpecs/{AZURE_FILE}") == by_id[AZURE_FILE]
    got = api.ok("GET", "/flowSpecs", params={"property": 'name=="CloudStorageToAEP"'})
    assert got["items"] == by_id[CLOUD_STORAGE_TO_AEP]["items"]
