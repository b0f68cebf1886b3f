"""IMS token endpoint and the gateway / header checks."""

from __future__ import annotations

import httpx
import pytest

from airflow_flowservice.testing import FlowServiceEmulator

from .conftest import Api, flow_error_code, make_s3_chain


def _token_form(emu: FlowServiceEmulator, **over: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "scope": "openid,AdobeID",
    }
    form.update(over)
    return {k: v for k, v in form.items() if v != ""}


def test_token_ok_form_and_query(emu: FlowServiceEmulator) -> None:
    r = httpx.post(emu.ims_url, data=_token_form(emu))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 86399
    # parameters are also accepted in the query string
    r = httpx.post(emu.ims_url, params=_token_form(emu))
    assert r.status_code == 200
    # the secret never reaches the request log
    assert all("emulator-secret" not in repr(rec) for rec in emu.requests)


@pytest.mark.parametrize(
    ("over", "status", "error", "description"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", "invalid client_secret parameter"),
        ({"client_id": "someone-else"}, 400, "invalid_client", "invalid client_id parameter"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", None),
        ({"grant_type": ""}, 400, "invalid_request", None),
        ({"client_secret": ""}, 400, "invalid_request", None),
    ],
)
def test_token_errors(
    emu: FlowServiceEmulator, over: dict[str, str], status: int, error: str, description: str | None
) -> None:
    r = httpx.post(emu.ims_url, data=_token_form(emu, **over))
    assert r.status_code == status
    assert r.json()["error"] == error
    if description:
        assert r.json()["error_description"] == description


@pytest.mark.parametrize(
    ("drop", "replace", "status", "code"),
    [
        ("Authorization", None, 403, "403010"),
        ("x-api-key", None, 403, "403000"),
        (None, {"Authorization": "Bearer not-a-token"}, 401, "401013"),
        (None, {"Authorization": "Basic abc"}, 401, "401013"),
        (None, {"x-api-key": "another-client"}, 403, "403003"),
        ("x-gw-ims-org-id", None, 400, "400003"),
    ],
)
def test_gateway_errors(api: Api, drop: str | None, replace: dict[str, str] | None, status: int, code: str) -> None:
    headers = api.headers()
    if drop:
        del headers[drop]
    headers.update(replace or {})
    r = api.http.get("/flows", headers=headers)
    assert r.status_code == status
    assert r.json()["error_code"] == code
    assert set(r.json()) == {"error_code", "message"}
    assert r.headers["x-request-id"]


def test_gateway_messages(api: Api) -> None:
    r = api.http.get("/flows")
    assert r.json() == {"error_code": "403010", "message": "Oauth token is missing."}
    r = api.http.get("/flows", headers={**api.headers(), "Authorization": "Bearer x"})
    assert r.json() == {"error_code": "401013", "message": "Oauth token is not valid"}


def test_unknown_org_and_missing_sandbox(api: Api) -> None:
    r = api.get("/flows", headers={"x-gw-ims-org-id": "OTHER@AdobeOrg"})
    assert r.status_code == 403 and flow_error_code(r) == "2120-403"
    headers = api.headers()
    del headers["x-sandbox-name"]
    r = api.http.get("/flows", headers=headers)
    assert r.status_code == 400 and flow_error_code(r) == "2105-400"
    assert "x-sandbox-name" in r.json()["report"]["detailed-message"]


def test_body_needs_json_content_type(api: Api) -> None:
    r = api.http.post("/flows", content=b'{"name": "x"}', headers=api.headers())
    assert r.status_code == 400
    assert r.json()["detail"] == "A valid content-type must be specified"
    r = api.http.post("/flows", content=b"{not json", headers={**api.headers(), "Content-Type": "application/json"})
    assert r.status_code == 400 and flow_error_code(r) == "1000-400"
    # an action without a body needs no content type (as aepp sends it)
    chain = make_s3_chain(api)
    r = api.http.post(f"/flows/{chain['flow']}/action?op=disable", headers=api.headers())
    assert r.status_code == 200


def test_token_ttl_on_emulator_clock() -> None:
    with FlowServiceEmulator(clock="manual", token_ttl=60) as emu:
        api = Api(emu)
        assert api.get("/flows").status_code == 200
        emu.clock.advance(59)
        assert api.get("/flows").status_code == 200
        emu.clock.advance(1)
        r = api.get("/flows")
        assert r.status_code == 401 and r.json()["error_code"] == "401013"
        api.token = api.fetch_token()
        assert api.get("/flows").status_code == 200
        api.close()


def test_expire_tokens(api: Api) -> None:
    assert api.get("/flows").status_code == 200
    api.emu.expire_tokens()
    r = api.get("/flows")
    assert r.status_code == 401 and r.json() == {
        "error_code": "401013",
        "message": "Oauth token is not valid",
    }
    api.token = api.fetch_token()
    assert api.get("/flows").status_code == 200


def test_data_is_kept_per_sandbox(api: Api) -> None:
    chain = make_s3_chain(api)
    other = Api(api.emu, sandbox="prod")
    try:
        assert other.ok("GET", "/flows")["items"] == []
        assert other.get(f"/flows/{chain['flow']}").status_code == 404
        flow = api.item(f"/flows/{chain['flow']}")
        assert flow["sandboxName"] == "dev" and flow["imsOrgId"] == api.emu.org_id
        assert flow["createdClient"] == api.emu.client_id
    finally:
        other.close()


def test_request_id_on_every_response(api: Api) -> None:
    for r in (api.get("/flows"), api.get("/nope"), api.http.get("/flows"), api.get("/flows/missing")):
        assert r.headers.get("x-request-id")
    r = api.get("/flows/missing")
    assert r.json()["report"]["request-id"] == r.headers["x-request-id"]


def test_unknown_path_is_flow_service_404(api: Api) -> None:
    r = api.get("/nope")
    assert r.status_code == 404 and flow_error_code(r) == "1003-404"
