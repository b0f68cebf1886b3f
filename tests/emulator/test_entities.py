"""Envelopes, etags, PATCH / If-Match, DELETE, lists (filters, paging, count, orderby), validation."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import (
    AZURE_FILE,
    CLOUD_STORAGE_TO_AEP,
    DATA_LAKE_TARGET,
    MAILCHIMP,
    S3_SOURCE,
    T0,
    Api,
    flow_error_code,
    make_s3_chain,
)


def _base(api: Api, name: str = "base") -> str:
    return str(
        api.ok(
            "POST",
            "/connections",
            201,
            json={
                "name": name,
                "auth": {"specName": "Access Key", "params": {"s3AccessKey": "A", "s3SecretKey": "S"}},
                "connectionSpec": {"id": S3_SOURCE, "version": "1.0"},
            },
        )["id"]
    )


def test_envelopes_and_etags(api: Api) -> None:
    r = api.post(
        "/connections",
        json={
            "name": "base",
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "A", "s3SecretKey": "S"}},
            "connectionSpec": {"id": S3_SOURCE, "version": "1.0"},
        },
    )
    assert r.status_code == 201
    created = r.json()
    assert set(created) == {"id", "etag"}
    assert r.headers["location"].endswith(f"/connections/{created['id']}")
    body = api.ok("GET", f"/connections/{created['id']}")
    assert list(body) == ["items"] and len(body["items"]) == 1
    item = body["items"][0]
    assert item["etag"] == item["version"] == created["etag"]
    assert item["etag"].startswith('"') and item["etag"].endswith('"')
    assert item["createdAt"] == item["updatedAt"] == T0 * 1000
    assert item["state"] == "enabled"
    assert item["auth"]["params"]["s3SecretKey"] == "****"  # secrets are masked on read
    assert item["auth"]["params"]["s3AccessKey"] == "A"


def test_patch_if_match(api: Api) -> None:
    chain = make_s3_chain(api)
    flow = chain["flow"]
    etag = api.item(f"/flows/{flow}")["etag"]
    ops = [{"op": "replace", "path": "/name", "value": "Renamed"}]
    r = api.patch(f"/flows/{flow}", json=ops)
    assert r.status_code == 400 and flow_error_code(r) == "1403-400"
    r = api.patch(f"/flows/{flow}", json=ops, headers={"If-Match": '"stale"'})
    assert r.status_code == 412 and flow_error_code(r) == "1404-412"
    assert (
        r.json()["errorMessage"] == f'Supplied version=["stale"] does not match the current version on entity=[{etag}]'
    )
    api.emu.clock.advance(10)
    r = api.patch(f"/flows/{flow}", json=ops, headers={"If-Match": etag})
    assert r.status_code == 200
    new = r.json()
    assert set(new) == {"id", "etag"} and new["id"] == flow and new["etag"] != etag
    got = api.item(f"/flows/{flow}")
    assert got["name"] == "Renamed" and got["etag"] == new["etag"]
    assert got["updatedAt"] == (T0 + 10) * 1000 and got["createdAt"] == T0 * 1000
    assert got["lastOperation"]["operation"] == "update"
    # the old etag is now stale
    r = api.patch(f"/flows/{flow}", json=ops, headers={"If-Match": etag})
    assert r.status_code == 412


def test_patch_ops(api: Api) -> None:
    chain = make_s3_chain(api, schedule={"startTime": T0, "frequency": "minute", "interval": 15})
    flow = chain["flow"]

    def patch(ops: list[dict[str, Any]]) -> Any:
        etag = api.item(f"/flows/{flow}")["etag"]
        return api.patch(f"/flows/{flow}", json=ops, headers={"If-Match": etag})

    assert (
        patch(
            [
                {"op": "REPLACE", "path": "/scheduleParams/interval", "value": 30},
                {"op": "Add", "path": "/description", "value": "hello"},
            ]
        ).status_code
        == 200
    )
    got = api.item(f"/flows/{flow}")
    assert got["scheduleParams"]["interval"] == "30" and got["description"] == "hello"
    assert patch([{"op": "remove", "path": "/description"}]).status_code == 200
    assert "description" not in api.item(f"/flows/{flow}")
    # the patched result is validated
    r = patch([{"op": "replace", "path": "/scheduleParams/interval", "value": 5}])
    assert r.status_code == 400 and flow_error_code(r) == "1362-400"
    r = patch([{"op": "move", "path": "/name", "value": "x"}])
    assert r.status_code == 400 and flow_error_code(r) == "1434-400"
    r = patch([{"op": "replace", "path": "/flowSpec/id", "value": "x"}])
    assert r.status_code == 400 and flow_error_code(r) == "1365-400"
    r = patch([{"op": "remove", "path": "/nothing"}])
    assert r.status_code == 400 and flow_error_code(r) == "1455-400"
    r = patch([])
    assert r.status_code == 400 and flow_error_code(r) == "1405-400"
    assert api.item(f"/flows/{flow}")["scheduleParams"]["interval"] == "30"


def test_patch_connections_trailing_slash_and_spec(api: Api) -> None:
    base = _base(api)
    etag = api.item(f"/connections/{base}")["etag"]
    ops = [{"op": "replace", "path": "/auth/params/s3SecretKey", "value": "new"}]
    r = api.patch(f"/connections/{base}/", json=ops, headers={"If-Match": etag})
    assert r.status_code == 200
    etag2 = r.json()["etag"]
    r = api.patch(
        f"/connections/{base}",
        json=[{"op": "replace", "path": "/connectionSpec/id", "value": AZURE_FILE}],
        headers={"If-Match": etag2},
    )
    assert r.status_code == 400 and flow_error_code(r) == "1414-400"
    r = api.patch(
        f"/connections/{base}",
        json=[{"op": "remove", "path": "/auth/params/s3AccessKey"}],
        headers={"If-Match": etag2},
    )
    assert r.status_code == 400 and flow_error_code(r) == "1304-400"


def test_delete_rules(api: Api) -> None:
    chain = make_s3_chain(api)
    r = api.delete(f"/connections/{chain['base']}/")
    assert r.status_code == 400 and flow_error_code(r) == "1418-400"
    r = api.delete(f"/sourceConnections/{chain['source']}")
    assert r.status_code == 400 and flow_error_code(r) == "1447-400"
    r = api.delete(f"/flows/{chain['flow']}")
    assert r.status_code == 204 and r.content == b""
    r = api.get(f"/flows/{chain['flow']}")
    assert r.status_code == 404 and flow_error_code(r) == "1439-404"
    body = r.json()
    assert body["title"] == "Resource not found"
    assert body["report"]["type"] == "flows" and body["report"]["id"] == chain["flow"]
    assert body["errorMessage"] == body["errorDetails"] == body["report"]["detailed-message"]
    for coll, key in (
        ("sourceConnections", "source"),
        ("targetConnections", "target"),
        ("connections", "base"),
    ):
        assert api.delete(f"/{coll}/{chain[key]}").status_code == 204
        assert api.get(f"/{coll}/{chain[key]}").status_code == 404
    assert api.delete(f"/flows/{chain['flow']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"auth": {"specName": "Access Key", "params": {}}, "connectionSpec": {"id": S3_SOURCE}}, "1304-400"),
        ({"name": "x", "connectionSpec": {"id": "nope", "version": "1.0"}}, "1413-400"),
        (
            {"name": "x", "auth": {"specName": "Nope", "params": {}}, "connectionSpec": {"id": S3_SOURCE}},
            "1415-400",
        ),
        (
            {
                "name": "x",
                "auth": {"specName": "Access Key", "params": {"s3AccessKey": "A"}},
                "connectionSpec": {"id": S3_SOURCE},
            },
            "1304-400",
        ),
        ({"name": "x", "state": "enabled", "connectionSpec": {"id": S3_SOURCE}}, "1410-400"),
        ({"name": "x"}, "1304-400"),
        ({}, "1405-400"),
    ],
)
def test_connection_validation(api: Api, body: dict[str, Any], code: str) -> None:
    r = api.post("/connections", json=body)
    assert r.status_code == 400, r.text
    assert flow_error_code(r) == code


def test_missing_required_param_names_the_field(api: Api) -> None:
    r = api.post(
        "/connections",
        json={
            "name": "x",
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "A"}},
            "connectionSpec": {"id": S3_SOURCE, "version": "1.0"},
        },
    )
    assert "auth.params.s3SecretKey" in r.json()["report"]["detailed-message"]
    base = _base(api)
    r = api.post(
        "/sourceConnections",
        json={
            "name": "s",
            "baseConnectionId": base,
            "params": {},
            "connectionSpec": {"id": S3_SOURCE, "version": "1.0"},
        },
    )
    assert r.status_code == 400 and "params.path" in r.json()["report"]["detailed-message"]
    r = api.post(
        "/sourceConnections",
        json={"name": "s", "params": {"path": "/x"}, "connectionSpec": {"id": S3_SOURCE, "version": "1.0"}},
    )
    assert r.status_code == 400 and "baseConnectionId" in r.json()["report"]["detailed-message"]
    r = api.post(
        "/sourceConnections",
        json={
            "name": "s",
            "baseConnectionId": "missing",
            "params": {"path": "/x"},
            "connectionSpec": {"id": S3_SOURCE, "version": "1.0"},
        },
    )
    assert r.status_code == 400 and flow_error_code(r) == "1600-400"
    r = api.post(
        "/targetConnections",
        json={"name": "t", "params": {}, "connectionSpec": {"id": DATA_LAKE_TARGET, "version": "1.0"}},
    )
    assert r.status_code == 400 and "params.dataSetId" in r.json()["report"]["detailed-message"]


def _flow_body(chain: dict[str, str], **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "f",
        "flowSpec": {"id": CLOUD_STORAGE_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [chain["source"]],
        "targetConnectionIds": [chain["target"]],
        "scheduleParams": {"startTime": T0, "frequency": "once"},
    }
    body.update(over)
    return body


@pytest.mark.parametrize(
    ("schedule", "code"),
    [
        ({"startTime": T0, "frequency": "once", "interval": 15}, "1361-400"),
        ({"startTime": T0, "frequency": "minute", "interval": 10}, "1362-400"),
        ({"startTime": T0, "frequency": "hour", "interval": 0}, "1362-400"),
        ({"startTime": T0, "frequency": "once", "backfill": True}, "1364-400"),
        ({"startTime": T0, "frequency": "month", "interval": 1}, "1397-400"),
        ({"startTime": T0, "frequency": "day"}, "1393-400"),
        ({"frequency": "once"}, "1359-400"),
        ({"startTime": "soon", "frequency": "once"}, "1340-400"),
        ({}, "1317-400"),
    ],
)
def test_schedule_rules(api: Api, schedule: dict[str, Any], code: str) -> None:
    chain = make_s3_chain(api)
    r = api.post("/flows", json=_flow_body(chain, scheduleParams=schedule))
    assert r.status_code == 400, r.text
    assert flow_error_code(r) == code


def test_flow_references(api: Api) -> None:
    chain = make_s3_chain(api)
    r = api.post("/flows", json=_flow_body(chain, sourceConnectionIds=[]))
    assert r.status_code == 400 and flow_error_code(r) == "1338-400"
    r = api.post("/flows", json=_flow_body(chain, sourceConnectionIds=["missing"]))
    assert r.status_code == 400 and flow_error_code(r) == "1600-400"
    # a connection whose spec the flow spec does not allow (Mailchimp flow spec with an S3 source)
    r = api.post("/flows", json=_flow_body(chain, flowSpec={"id": "6499120c-0b15-42dc-936e-847ea3c24d72"}))
    assert r.status_code == 400 and "does not allow" in r.json()["report"]["detailed-message"]
    r = api.post("/flows", json=_flow_body(chain, flowSpec={"id": "nope"}))
    assert r.status_code == 400 and flow_error_code(r) == "1413-400"
    r = api.post("/flows", json=_flow_body(chain, state="enabled"))
    assert r.status_code == 400 and flow_error_code(r) == "1410-400"


def test_flow_shape(api: Api) -> None:
    chain = make_s3_chain(api)
    flow = api.item(f"/flows/{chain['flow']}")
    assert flow["flowSpec"] == {"id": CLOUD_STORAGE_TO_AEP, "version": "1.0"}
    assert flow["runs"] == f"/runs?property=flowId=={chain['flow']}"
    src = flow["inheritedAttributes"]["sourceConnections"][0]
    assert src == {
        "id": chain["source"],
        "connectionSpec": {"id": S3_SOURCE, "version": "1.0"},
        "baseConnection": {"id": chain["base"], "connectionSpec": {"id": S3_SOURCE, "version": "1.0"}},
    }
    assert flow["inheritedAttributes"]["targetConnections"][0]["connectionSpec"]["id"] == DATA_LAKE_TARGET
    assert flow["lastOperation"]["operation"] == "create"
    assert "lastRunDetails" not in flow
    assert flow["scheduleParams"] == {"startTime": T0, "frequency": "once"}
    sc = api.item(f"/sourceConnections/{chain['source']}")
    assert sc["inheritedAttributes"]["baseConnection"]["id"] == chain["base"]


def test_flow_actions(api: Api) -> None:
    flow = make_s3_chain(api)["flow"]
    etag = api.item(f"/flows/{flow}")["etag"]
    r = api.post(f"/flows/{flow}/action?op=disable", headers={"If-Match": '"stale"'})
    assert r.status_code == 412
    r = api.post(f"/flows/{flow}/action?op=DISABLE", headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["etag"] != etag
    assert api.item(f"/flows/{flow}")["state"] == "disabled"
    assert api.ok("POST", f"/flows/{flow}/action?op=enable")["id"] == flow
    assert api.item(f"/flows/{flow}")["state"] == "enabled"
    r = api.post(f"/flows/{flow}/action?op=FINALIZE")
    assert r.status_code == 400 and flow_error_code(r) == "1398-400"
    r = api.post(f"/flows/{flow}/action")
    assert r.status_code == 400 and flow_error_code(r) == "1334-400"
    r = api.post("/flows/missing/action?op=enable")
    assert r.status_code == 404


# ---- lists ----------------------------------------------------------------------------------------


def test_paging_three_pages(api: Api) -> None:
    ids = []
    for i in range(7):
        api.emu.clock.advance(1)
        ids.append(_base(api, name=f"conn-{i}"))
    page = api.ok("GET", "/connections", params={"limit": "3"})
    seen = [it["id"] for it in page["items"]]
    assert seen == ids[::-1][:3]  # most recent first
    pages = 1
    while page["_links"].get("next"):
        href = page["_links"]["next"]["href"]
        assert href.startswith("/connections?continuationToken=")
        assert list(parse_qs(urlsplit(href).query)) == ["continuationToken"]  # only the token, as Adobe documents
        page = api.ok("GET", href)
        seen += [it["id"] for it in page["items"]]
        pages += 1
    assert pages == 3 and seen == ids[::-1]
    assert page["_links"] == {}
    # the token alone carries the query (aepp re-sends only the token)
    first = api.ok("GET", "/connections", params={"limit": "3", "orderby": "name"})
    token = parse_qs(urlsplit(first["_links"]["next"]["href"]).query)["continuationToken"][0]
    second = api.ok("GET", "/connections", params={"continuationToken": token})
    assert [it["name"] for it in second["items"]] == ["conn-3", "conn-4", "conn-5"]


def test_count_and_limit(api: Api) -> None:
    for i in range(4):
        _base(api, name=f"c{i}")
    assert api.ok("GET", "/connections", params={"count": "true"}) == {"count": 4}
    assert api.ok("GET", "/connections", params={"count": "true", "property": "name==c1,c2"}) == {"count": 2}
    r = api.get("/connections", params={"count": "true", "limit": "2"})
    assert r.status_code == 400 and flow_error_code(r) == "1401-400"
    r = api.get("/connections", params={"limit": "zero"})
    assert r.status_code == 400
    many = api.ok("GET", "/connections", params={"limit": "1000"})
    assert len(many["items"]) == 4


def test_filters(api: Api) -> None:
    a = make_s3_chain(api, name="alpha")
    api.emu.clock.advance(100)
    b = make_s3_chain(api, name="beta")
    api.ok("POST", f"/flows/{b['flow']}/action?op=disable")

    def names(**params: Any) -> list[str]:
        return sorted(it["name"] for it in api.ok("GET", "/flows", params=params)["items"])

    assert names(property="name==alpha") == ["alpha"]
    assert names(property='name=="beta"') == ["beta"]
    assert names(property="name==alpha,beta") == ["alpha", "beta"]
    assert names(property="name!=alpha") == ["beta"]
    assert names(property="state==disabled") == ["beta"]
    assert names(property=f"createdAt>={(T0 + 100) * 1000}") == ["beta"]
    assert names(property=f"createdAt<{(T0 + 100) * 1000}") == ["alpha"]
    assert names(property=["state==enabled", "name==beta"]) == []
    assert names(property=f"sourceConnectionIds[]=={a['source']}") == ["alpha"]
    assert names(property=f"sourceConnectionIds=={b['source']}") == ["beta"]
    assert names(property=f"flowSpec.id=={CLOUD_STORAGE_TO_AEP}") == ["alpha", "beta"]
    assert names(property=f"inheritedAttributes.sourceConnections[].baseConnection.id=={a['base']}") == ["alpha"]
    assert [it["name"] for it in api.ok("GET", "/flows", params={"orderby": "name"})["items"]] == [
        "alpha",
        "beta",
    ]
    assert [it["name"] for it in api.ok("GET", "/flows", params={"orderby": "-name"})["items"]] == [
        "beta",
        "alpha",
    ]
    assert [it["name"] for it in api.ok("GET", "/flows", params={"orderby": "+createdAt"})["items"]] == [
        "alpha",
        "beta",
    ]
    for bad, code in (
        ("name~alpha", "1440-400"),
        ("id>=5", "1448-400"),
        ("createdAt<=1,2", "1443-400"),
        ("createdAt==", "1453-400"),
        ("a b==1", "1449-400"),
    ):
        r = api.get("/flows", params={"property": bad})
        assert r.status_code == 400 and flow_error_code(r) == code, (bad, r.text)
    r = api.get("/flows", params={"orderby": "*name"})
    assert r.status_code == 400 and flow_error_code(r) == "1432-400"


def test_spec_lists(api: Api) -> None:
    specs = api.ok("GET", "/connectionSpecs")["items"]
    assert {s["id"] for s in specs} >= {S3_SOURCE, AZURE_FILE, MAILCHIMP, DATA_LAKE_TARGET}
    assert all(not any(k.startswith("_") for k in s) for s in specs)
    found = api.ok("GET", "/connectionSpecs", params={"property": "name==Mailchimp Campaign"})["items"]
    assert [s["id"] for s in found] == [MAILCHIMP]
    assert api.ok("GET", "/flowSpecs", params={"property": "name==CRMToAEP"})["items"][0]["name"] == "CRMToAEP"
    r = api.get("/connectionSpecs/nope")
    assert r.status_code == 404 and flow_error_code(r) == "1439-404"


def test_connection_test_and_configs(api: Api) -> None:
    base = _base(api)
    assert api.ok("GET", f"/connections/{base}/test") == {"result": True}
    assert api.ok("GET", f"/connections/{base}/configs") == []
    assert api.get("/connections/missing/test").status_code == 404
