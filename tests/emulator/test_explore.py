"""Explore (``GET /connections/{id}/explore``) per source type, and its errors."""

from __future__ import annotations

import base64
import json

import httpx

from .conftest import MAILCHIMP, Api, flow_error_code, make_s3_chain, make_table_flow


def _mailchimp(api: Api) -> str:
    return str(
        api.ok(
            "POST",
            "/connections",
            201,
            json={
                "name": "mc",
                "connectionSpec": {"id": MAILCHIMP, "version": "1.0"},
                "auth": {"specName": "Basic Authentication", "params": {"username": "u", "password": "p"}},
            },
        )["id"]
    )


def _explore(api: Api, conn: str, **params: str) -> httpx.Response:
    return api.get(f"/connections/{conn}/explore", params=params)


def _b64(data: object, urlsafe: bool = False) -> str:
    raw = json.dumps(data).encode()
    return (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode().rstrip("=")


def test_mailchimp_preview_is_deterministic(api: Api) -> None:
    conn = _mailchimp(api)
    params = {"objectType": "rest", "object": "json", "fileType": "json", "preview": "true"}
    a = _explore(api, conn, **params, sourceParams=_b64({"campaignId": "abc123"}))
    b = _explore(api, conn, **params, sourceParams=_b64({"campaignId": "abc123"}, urlsafe=True))
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()
    assert a.json()["schema"]["properties"]["emails"]["type"] == "array"
    assert {e["campaign_id"] for e in a.json()["data"][0]["emails"]} == {"abc123"}
    other = _explore(api, conn, **params, sourceParams=_b64({"campaignId": "zzz"})).json()
    assert other["data"][0]["emails"][0]["email_id"] != a.json()["data"][0]["emails"][0]["email_id"]
    no_preview = _explore(api, conn, objectType="rest", object="json", fileType="json").json()
    assert "data" not in no_preview and "schema" in no_preview


def test_explore_errors(api: Api) -> None:
    conn = _mailchimp(api)
    r = _explore(api, conn, objectType="rest", preview="true", sourceParams="%%%not-base64")
    assert r.status_code == 400 and flow_error_code(r) == "1389-400"
    r = _explore(api, conn, objectType="rest", preview="true", sourceParams=_b64(["a list"]))
    assert r.status_code == 400 and flow_error_code(r) == "1389-400"
    r = _explore(api, conn)
    assert r.status_code == 400 and flow_error_code(r) == "1334-400"
    r = _explore(api, conn, objectType="table")
    assert r.status_code == 400 and flow_error_code(r) == "1358-400"
    dest = api.ok(
        "POST",
        "/connections",
        201,
        json={
            "name": "dlz",
            "connectionSpec": {"id": "10440537-2a7b-4583-ac39-ed38d4b848e8", "version": "1.0"},
        },
    )["id"]
    r = _explore(api, dest, objectType="root")
    assert r.status_code == 400 and flow_error_code(r) == "1336-400"
    assert _explore(api, "missing", objectType="root").status_code == 404


def test_file_and_table_explore(api: Api) -> None:
    base = make_s3_chain(api)["base"]
    root = _explore(api, base, objectType="root").json()
    assert isinstance(root, list) and root[0]["type"] == "folder"
    files = _explore(api, base, objectType="folder", object=root[0]["path"]).json()
    assert files[0]["path"].startswith(root[0]["path"] + "/") and files[0]["canPreview"] is True
    preview = _explore(
        api, base, objectType="file", object=files[0]["path"], fileType="delimited", preview="true"
    ).json()
    assert preview["format"] == "delimited" and len(preview["data"]) == 5
    assert _explore(api, base, objectType="folder").status_code == 400
    table_base = make_table_flow(api)["base"]
    tables = _explore(api, table_base, objectType="root").json()
    assert tables[0]["type"] == "table"
    schema = _explore(api, table_base, objectType="table", object=tables[0]["path"]).json()
    assert schema["format"] == "flat" and schema["schema"]["columns"][0]["name"] == "TestID"
