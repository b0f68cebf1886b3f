"""Drafts (``mode=draft``) and publish ordering."""

from __future__ import annotations

from .conftest import (
    DATA_LAKE_SOURCE,
    MAILCHIMP,
    REST_TO_AEP,
    T0,
    Api,
    flow_error_code,
    make_s3_chain,
)


def test_draft_chain_publish_order(api: Api) -> None:
    chain = make_s3_chain(api, draft=True)
    for coll, key in (
        ("connections", "base"),
        ("sourceConnections", "source"),
        ("targetConnections", "target"),
        ("flows", "flow"),
    ):
        assert api.item(f"/{coll}/{chain[key]}")["state"] == "draft"

    # flow before its connections
    r = api.post(f"/flows/{chain['flow']}/action?op=publish")
    assert r.status_code == 400 and flow_error_code(r) == "1600-400"
    assert "still in draft state" in r.json()["report"]["detailed-message"]
    # source connection before its base connection
    r = api.post(f"/sourceConnections/{chain['source']}/action?op=publish")
    assert r.status_code == 400 and flow_error_code(r) == "1600-400"
    assert chain["base"] in r.json()["report"]["detailed-message"]
    # a draft flow cannot run, nor be enabled
    r = api.post("/runs", json={"flowId": chain["flow"], "params": {"windowStartTime": 0, "windowEndTime": 60}})
    assert r.status_code == 400 and flow_error_code(r) == "1380-400"
    assert "draft" in r.json()["report"]["detailed-message"]
    r = api.post(f"/flows/{chain['flow']}/action?op=enable")
    assert r.status_code == 400 and flow_error_code(r) == "1422-400"

    etag = api.item(f"/connections/{chain['base']}")["etag"]
    published = api.ok("POST", f"/connections/{chain['base']}/action?op=PUBLISH")
    assert published["id"] == chain["base"] and published["etag"] != etag
    api.ok("POST", f"/sourceConnections/{chain['source']}/action?op=publish")
    api.ok("POST", f"/targetConnections/{chain['target']}/action?op=Publish")
    api.ok("POST", f"/flows/{chain['flow']}/action?op=publish")
    for coll, key in (
        ("connections", "base"),
        ("sourceConnections", "source"),
        ("targetConnections", "target"),
        ("flows", "flow"),
    ):
        assert api.item(f"/{coll}/{chain[key]}")["state"] == "enabled"
    # publishing again is accepted and changes nothing
    flow_etag = api.item(f"/flows/{chain['flow']}")["etag"]
    again = api.ok("POST", f"/flows/{chain['flow']}/action?op=publish")
    assert again == {"id": chain["flow"], "etag": flow_etag}
    api.ok(
        "POST",
        "/runs",
        201,
        json={"flowId": chain["flow"], "params": {"windowStartTime": 0, "windowEndTime": 60}},
    )


def test_draft_may_be_incomplete_until_publish(api: Api) -> None:
    base = api.ok(
        "POST",
        "/connections?mode=draft",
        201,
        json={
            "name": "incomplete",
            "auth": {"specName": "Access Key", "params": {"s3AccessKey": "A"}},
            "connectionSpec": {"id": "ecadc60c-7455-4d87-84dc-2a0e293d997b", "version": "1.0"},
        },
    )["id"]
    r = api.post(f"/connections/{base}/action?op=publish")
    assert r.status_code == 400 and flow_error_code(r) == "1304-400"
    etag = api.item(f"/connections/{base}")["etag"]
    api.ok(
        "PATCH",
        f"/connections/{base}",
        json=[{"op": "add", "path": "/auth/params/s3SecretKey", "value": "S"}],
        headers={"If-Match": etag},
    )
    api.ok("POST", f"/connections/{base}/action?op=publish")


def test_published_entities_cannot_use_drafts(api: Api) -> None:
    chain = make_s3_chain(api, draft=True)
    r = api.post(
        "/sourceConnections",
        json={
            "name": "s",
            "baseConnectionId": chain["base"],
            "params": {"path": "/x"},
            "connectionSpec": {"id": "ecadc60c-7455-4d87-84dc-2a0e293d997b", "version": "1.0"},
        },
    )
    assert r.status_code == 400 and flow_error_code(r) == "1600-400"
    r = api.post(
        "/flows",
        json={
            "name": "f",
            "flowSpec": {"id": "9753525b-82c7-4dce-8a9b-5ccfce2b9876", "version": "1.0"},
            "sourceConnectionIds": [chain["source"]],
            "targetConnectionIds": [chain["target"]],
            "scheduleParams": {"startTime": T0, "frequency": "once"},
        },
    )
    assert r.status_code == 400 and flow_error_code(r) == "1600-400"


def test_draft_mode_only_where_supported(api: Api) -> None:
    r = api.post(
        "/connections?mode=draft",
        json={
            "name": "mc",
            "connectionSpec": {"id": MAILCHIMP, "version": "1.0"},
            "auth": {"specName": "oAuth2RefreshCode", "params": {"accessToken": "t"}},
        },
    )
    assert r.status_code == 400 and flow_error_code(r) == "1600-400"
    assert "isDraftModeSupported" in r.json()["report"]["detailed-message"]
    r = api.post(
        "/sourceConnections?mode=draft",
        json={
            "name": "lake",
            "connectionSpec": {"id": DATA_LAKE_SOURCE, "version": "1.0"},
            "params": {"datasets": [{"dataSetId": "x"}]},
        },
    )
    assert r.status_code == 400
    r = api.post("/flows?mode=draft", json={"name": "f", "flowSpec": {"id": REST_TO_AEP, "version": "1.0"}})
    assert r.status_code == 400 and flow_error_code(r) == "1368-400"
    r = api.post("/connections?mode=preview", json={"name": "x", "connectionSpec": {"id": MAILCHIMP}})
    assert r.status_code == 400 and flow_error_code(r) == "1000-400"


def test_only_publish_on_connections(api: Api) -> None:
    chain = make_s3_chain(api)
    r = api.post(f"/connections/{chain['base']}/action?op=enable")
    assert r.status_code == 400 and flow_error_code(r) == "1398-400"
