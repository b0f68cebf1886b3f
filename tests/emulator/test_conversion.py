"""The emulator's Conversion Service (Data Prep): conformance with Adobe's Data Prep spec, versions, validation,
preview, the catalog's XDM schemas, and flows that name a mapping set.

The spec is vendored at ``tests/vendor/adobe/data-prep.yaml`` (Apache-2.0). Where it disagrees with the payloads
of Adobe's "Mapping sets endpoint" guide, the emulator serves the guide's, and the spec is patched below for
exactly that deviation, each with its reason (as ``test_conformance.py`` does for Flow Service).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import CLOUD_STORAGE_TO_AEP, Api, flow_error_code, make_s3_chain

SPEC_PATH = Path(__file__).resolve().parents[1] / "vendor" / "adobe" / "data-prep.yaml"
CONVERSION = "/data/foundation/conversion"
SCHEMA = "https://ns.adobe.com/acme/schemas/570630b91eb9d5cf5db0436756abb110d02912917a67da2d"
CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"
MAPPINGS = [
    {"sourceType": "ATTRIBUTE", "source": "first_name", "destination": "person.name.firstName", "name": "First"},
    {"sourceType": "EXPRESSION", "source": 'concat(upper(left(last_name, 1)), lower(substr(last_name, 1, 40)))',
     "destination": "person.name.lastName"},
    {"sourceType": "EXPRESSION", "source": "lower(trim(email))", "destination": "personalEmail.address"},
    {"sourceType": "STATIC", "source": "bronze", "destination": "_acme.loyalty.tier"},
    {"sourceType": "ATTRIBUTE", "source": "points", "destination": "_acme.loyalty.points"},
]  # fmt: skip

#: Every operation of the spec; all are implemented.
IMPLEMENTED: set[tuple[str, str]] = {
    ("GET", "/mappingSets"),
    ("POST", "/mappingSets"),
    ("POST", "/mappingSets/validate"),
    ("POST", "/mappingSets/preview"),
    ("GET", "/mappingSets/{MAPPING_SET_ID}"),
    ("PUT", "/mappingSets/{MAPPING_SET_ID}"),
    ("GET", "/mappingSets/{MAPPING_SET_ID}/mappings"),
    ("GET", "/mappingSets/{MAPPING_SET_ID}/mappings/{MAPPING_ID}"),
    ("POST", "/languages/el/validate"),
    ("GET", "/languages/el/functions"),
    ("GET", "/languages/el/operators"),
}


def mapping_set(mappings: list[dict[str, Any]] | None = None, schema: str = SCHEMA) -> dict[str, Any]:
    return {
        "outputSchema": {"schemaRef": {"id": schema, "contentType": CONTENT_TYPE}},
        "mappings": copy.deepcopy(MAPPINGS if mappings is None else mappings),
    }


def conv(api: Api, method: str, path: str, **kw: Any) -> httpx.Response:
    return api.request(method, api.emu.base_url + CONVERSION + path, **kw)


def ok(api: Api, method: str, path: str, **kw: Any) -> Any:
    r = conv(api, method, path, **kw)
    assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


def problem(response: httpx.Response, status: int) -> str:
    """The message of a Conversion Service error, checked to have the Platform's problem shape."""
    body = response.json()
    assert response.status_code == status, body
    assert set(body) >= {"type", "title", "status", "detail", "report"}, body
    assert body["status"] == status and body["report"]["request-id"] == response.headers["x-request-id"]
    assert re.fullmatch(r"https://ns\.adobe\.com/aep/errors/MAPPER-\d{4}-\d{3}", body["type"]), body["type"]
    return str(body["detail"])


# -- conformance -----------------------------------------------------------------------------------


def _load_spec() -> dict[str, Any]:
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]

        data = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
        assert isinstance(data, dict) and "paths" in data
        return data
    except Exception as exc:
        pytest.fail(f"cannot read the Data Prep spec at {SPEC_PATH}: {exc!r}")


def _patch_known_deviations(spec: dict[str, Any]) -> None:
    """The spec's disagreements with Adobe's "Mapping sets endpoint" guide, patched to the guide's payloads."""
    schemas = spec["components"]["schemas"]
    # 1. Dates are typed date-time strings; every payload of the guide has epoch milliseconds (1614901254724).
    for name in ("SimpleRepresentation", "MappingSet", "MappingOperation", "SchemaRepresentation"):
        for key in ("createdDate", "modifiedDate"):
            if key in schemas[name]["properties"]:
                schemas[name]["properties"][key] = {"type": ["string", "integer"]}
    # 2. SourceType is ATTRIBUTE|EXPRESSION|STATIC; the guide's stored mappings read "text/x.schema-path" (and the
    #    destinations docs "text/x.aep-xl" for an expression).
    schemas["SourceType"]["enum"] = [*schemas["SourceType"]["enum"], "text/x.schema-path", "text/x.aep-xl"]
    # 3. ValidationResponse.errors is an array, and the spec's own example answers "errors": null.
    schemas["ValidationResponse"]["properties"]["errors"]["type"] = ["array", "null"]
    schemas["PreviewResponse"]["properties"]["errors"]["type"] = ["array", "null"]
    # 4. The preview answers one PreviewResponse; the guide answers a list of them, one per sample row.
    preview = spec["paths"]["/mappingSets/preview"]["post"]["responses"]["200"]["content"]["application/json"]
    preview["schema"] = {"type": "array", "items": {"$ref": "#/components/schemas/PreviewResponse"}}
    # 5. A set's mappings are typed one MappingOperation; the guide answers a list of them.
    listed = spec["paths"]["/mappingSets/{MAPPING_SET_ID}/mappings"]["get"]["responses"]["200"]["content"]
    listed["application/json"]["schema"] = {"type": "array", "items": {"$ref": "#/components/schemas/MappingOperation"}}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    raw = _load_spec()
    _patch_known_deviations(raw)
    return raw


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    import jsonschema  # type: ignore[import-untyped,unused-ignore]
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    registry = Registry().with_resource("urn:data-prep", Resource.from_contents(spec, default_specification=DRAFT4))
    rooted = json.loads(json.dumps(schema).replace('"#/components/', '"urn:data-prep#/components/'))
    return jsonschema.Draft4Validator(rooted, registry=registry)


def _operation(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    found = []
    for template, ops in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if method.lower() in ops and re.match(pattern, path):
            found.append((len(re.sub(r"\{[^}]+\}", "", template)), template, ops[method.lower()]))
    assert found, f"{method} {path} is not an operation of the Data Prep spec"
    _, template, op = max(found, key=lambda f: f[0])
    return template, op


def _exercise(api: Api) -> None:
    """Every operation of the spec, with a success status."""
    created = ok(api, "POST", "/mappingSets", json=mapping_set())
    set_id = created["id"]
    ok(api, "POST", "/mappingSets/validate", json=mapping_set())
    ok(api, "POST", "/mappingSets/validate", json=mapping_set([{**MAPPINGS[0], "destination": "person.nickname"}]))
    rows = [{"first_name": "Ada", "last_name": "LOVELACE", "email": " Ada@Example.COM ", "points": "12"}]
    ok(api, "POST", "/mappingSets/preview", json={"data": rows, "mappingSet": mapping_set()})
    ok(api, "GET", f"/mappingSets/{set_id}")
    ok(api, "GET", f"/mappingSets/{set_id}", params={"expandSchema": "true"})
    ok(api, "PUT", f"/mappingSets/{set_id}", json=mapping_set(MAPPINGS[:2]))
    ok(api, "GET", f"/mappingSets/{set_id}", params={"version": "0"})
    ok(api, "GET", "/mappingSets", params={"limit": "10", "start": "0"})
    mappings = ok(api, "GET", f"/mappingSets/{set_id}/mappings")
    ok(api, "GET", f"/mappingSets/{set_id}/mappings/{mappings[0]['id']}")
    ok(api, "POST", "/languages/el/validate", json={"expression": 'concat("Hi", ",", "there", "!")'})
    ok(api, "GET", "/languages/el/functions")
    ok(api, "GET", "/languages/el/operators")


def test_conformance(api: Api, spec: dict[str, Any]) -> None:
    seen: list[tuple[str, str, int, Any]] = []

    def record(response: httpx.Response) -> None:
        response.read()
        path = response.request.url.path
        if path.startswith(CONVERSION):
            seen.append((response.request.method, path[len(CONVERSION) :], response.status_code, response.json()))

    api.http.event_hooks["response"] = [record]
    _exercise(api)
    api.http.event_hooks["response"] = []
    succeeded, failures = set(), []
    for method, path, status, body in seen:
        template, op = _operation(spec, method, path)
        assert str(status) in op["responses"], f"{method} {template}: {status} is not documented"
        succeeded.add((method, template))
        schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
        errors = sorted(_validator(spec, schema).iter_errors(body), key=lambda e: list(e.path))
        failures += [f"{method} {path}: {'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:3]]
    assert failures == []
    assert succeeded == IMPLEMENTED


def test_the_operation_list_covers_the_spec(spec: dict[str, Any]) -> None:
    operations = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put")}
    assert operations == IMPLEMENTED


def test_unreadable_spec_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tests.emulator.test_conversion as mod

    monkeypatch.setattr(mod, "SPEC_PATH", tmp_path / "missing.yaml")
    with pytest.raises(pytest.fail.Exception):
        mod._load_spec()


# -- versions -------------------------------------------------------------------------------------


def test_put_makes_the_next_version_and_get_reads_any(api: Api) -> None:
    created = ok(api, "POST", "/mappingSets", json=mapping_set())
    assert created["version"] == 0 and re.fullmatch(r"[0-9a-f]{32}", created["id"])
    set_id = created["id"]
    first = ok(api, "PUT", f"/mappingSets/{set_id}", json=mapping_set(MAPPINGS[:1]))
    second = ok(api, "PUT", f"/mappingSets/{set_id}", json=mapping_set(MAPPINGS[:2]))
    assert (first["version"], second["version"]) == (1, 2)
    assert second["createdDate"] == created["createdDate"]  # the set's creation, not the version's
    latest = ok(api, "GET", f"/mappingSets/{set_id}")
    assert latest["version"] == 2 and [m["destination"] for m in latest["mappings"]] == [
        "person.name.firstName",
        "person.name.lastName",
    ]
    for version, count in ((0, len(MAPPINGS)), (1, 1), (2, 2)):
        found = ok(api, "GET", f"/mappingSets/{set_id}", params={"version": str(version)})
        assert (found["version"], len(found["mappings"])) == (version, count)
    assert "no version 3" in problem(conv(api, "GET", f"/mappingSets/{set_id}", params={"version": "3"}), 404)
    assert "not a version number" in problem(conv(api, "GET", f"/mappingSets/{set_id}", params={"version": "x"}), 400)
    assert "is not found" in problem(conv(api, "PUT", "/mappingSets/" + "0" * 32, json=mapping_set()), 404)


def test_stored_mappings_read_as_the_guide_shows_them(api: Api) -> None:
    set_id = ok(api, "POST", "/mappingSets", json=mapping_set())["id"]
    found = ok(api, "GET", f"/mappingSets/{set_id}")
    assert [m["sourceType"] for m in found["mappings"]] == [
        "text/x.schema-path",
        "text/x.aep-xl",
        "text/x.aep-xl",
        "STATIC",
        "text/x.schema-path",
    ]
    assert found["outputSchema"]["schemaRef"] == {"id": SCHEMA, "contentType": CONTENT_TYPE}
    assert found["xdmSchema"] == SCHEMA and found["mappings"][0]["name"] == "First"
    # a set read back is accepted as it is (its media-type sourceTypes included)
    assert ok(api, "POST", "/mappingSets/validate", json=found)["validationResponse"][0]["status"] == "SUCCESS"


def test_sets_are_kept_per_sandbox(api: Api) -> None:
    set_id = ok(api, "POST", "/mappingSets", json=mapping_set())["id"]
    other = api.request(
        "GET", api.emu.base_url + CONVERSION + f"/mappingSets/{set_id}", headers={"x-sandbox-name": "prod"}
    )
    assert other.status_code == 404


# -- validation ------------------------------------------------------------------------------------


def test_validate_refuses_each_bad_mapping_with_its_reason(api: Api) -> None:
    bad = [
        MAPPINGS[0],
        {"sourceType": "ATTRIBUTE", "source": "nick", "destination": "person.name.nickname"},
        {"sourceType": "EXPRESSION", "source": "lower(email", "destination": "personalEmail.address"},
        {"sourceType": "EXPRESSION", "source": "shout(email)", "destination": "mobilePhone.number"},
        {"sourceType": "ATTRIBUTE", "source": "given_name", "destination": "person.name.firstName"},
    ]
    answer = ok(api, "POST", "/mappingSets/validate", json=mapping_set(bad))
    results = answer["validationResponse"]
    assert [r["status"] for r in results] == ["SUCCESS", "FAILED", "FAILED", "FAILED", "FAILED"]
    assert results[0]["errors"] is None
    (nick,) = results[1]["errors"]
    assert nick == {
        "source": "nick",
        "destination": "person.name.nickname",
        "sourceType": "ATTRIBUTE",
        "exception": f"The destination path 'person.name.nickname' is not a field of the schema {SCHEMA}",
    }
    assert results[2]["errors"][0]["exception"] == (
        "Invalid expression 'lower(email': expected ')', found the end of the expression at position 11"
    )
    assert (
        results[3]["errors"][0]["exception"]
        == "Invalid expression 'shout(email)': unknown function 'shout' at position 0"
    )
    assert "already mapped by mappings[0]" in results[4]["errors"][0]["exception"]


def test_an_unknown_source_type_or_schema_refuses_the_request(api: Api) -> None:
    odd = mapping_set([{**MAPPINGS[0], "sourceType": "COLUMN"}])
    message = problem(conv(api, "POST", "/mappingSets/validate", json=odd), 400)
    assert message.startswith("Cannot deserialize mappings[0].sourceType 'COLUMN'")
    unknown = "https://ns.adobe.com/acme/schemas/nope"
    message = problem(conv(api, "POST", "/mappingSets/validate", json=mapping_set(schema=unknown)), 400)
    assert message == f"The output schema {unknown} is not found in the Schema Registry."
    assert "outputSchema.schemaRef.id is required" in problem(conv(api, "POST", "/mappingSets", json={}), 400)


def test_create_and_put_refuse_a_set_that_does_not_validate(api: Api) -> None:
    bad = mapping_set([{**MAPPINGS[0], "destination": "person.name.nickname"}])
    message = problem(conv(api, "POST", "/mappingSets", json=bad), 400)
    assert message.startswith("The mapping set is not valid: mappings[0] (first_name -> person.name.nickname)")
    set_id = ok(api, "POST", "/mappingSets", json=mapping_set())["id"]
    problem(conv(api, "PUT", f"/mappingSets/{set_id}", json=bad), 400)
    assert ok(api, "GET", f"/mappingSets/{set_id}")["version"] == 0  # nothing was stored


def test_expression_endpoints(api: Api) -> None:
    assert ok(api, "POST", "/languages/el/validate", json={"expression": "iif(a == 1, 'x', 'y')"}) is True
    assert ok(api, "POST", "/languages/el/validate", json={"expression": {"expression": "concat(a,"}}) is False
    functions = {f["function"] for f in ok(api, "GET", "/languages/el/functions")}
    assert {"concat", "iif", "lower", "to_integer", "sha256"} <= functions
    assert {"+", "==", "!"} <= {o["operatorSymbol"] for o in ok(api, "GET", "/languages/el/operators")}


# -- preview ---------------------------------------------------------------------------------------


def test_preview_maps_each_row_into_the_schemas_types(api: Api) -> None:
    rows = [
        {"first_name": "Ada", "last_name": "LOVELACE", "email": " Ada@Example.COM ", "points": "12"},
        {"first_name": "Alan", "email": "alan@example.com", "points": "many"},
    ]
    mappings = [*MAPPINGS, {"sourceType": "EXPRESSION", "source": "now()", "destination": "person.birthDate"}]
    first, second = ok(api, "POST", "/mappingSets/preview", json={"data": rows, "mappingSet": mapping_set(mappings)})
    assert first["data"] == {
        "person": {"name": {"firstName": "Ada", "lastName": "Lovelace"}},
        "personalEmail": {"address": "ada@example.com"},
        "_acme": {"loyalty": {"tier": "bronze", "points": 12}},
    }
    assert [e["exception"] for e in first["errors"]] == [
        "the emulator does not evaluate now() (the expression is valid)"
    ]
    assert second["data"]["person"] == {"name": {"firstName": "Alan", "lastName": ""}}
    assert "Cannot map the value" in second["errors"][0]["exception"]  # "many" is no integer


def test_the_guides_preview_example(api: Api) -> None:
    """The request of Adobe's guide (a schema of its tenant ``acme``) answers the guide's data."""
    guide_schema = "https://ns.adobe.com/acme/schemas/89abc189258b1cb1a816d8f2b2341a6d98000ed8f4008305"
    mappings = [
        {"sourceType": "ATTRIBUTE", "source": "id", "destination": "_id", "name": "id", "description": "Identifier"},
        {"sourceType": "ATTRIBUTE", "source": "firstName", "destination": "person.name.firstName"},
        {"sourceType": "ATTRIBUTE", "source": "lastName", "destination": "person.name.lastName"},
    ]
    body = {
        "data": [{"id": 1234, "firstName": "Jim", "lastName": "Seltzer"}],
        "mappingSet": mapping_set(mappings, guide_schema),
    }
    (row,) = ok(api, "POST", "/mappingSets/preview", json=body)
    assert row == {
        "data": {"_id": "1234", "person": {"name": {"firstName": "Jim", "lastName": "Seltzer"}}},
        "errors": None,
    }


# -- the catalog's schemas -------------------------------------------------------------------------


def test_the_catalog_knows_the_xdm_fields_of_its_datasets_schemas(api: Api) -> None:
    emu = api.emu
    assert {"person.name.firstName", "person.name.lastName", "personalEmail.address"} <= set(emu.xdm_fields(SCHEMA))
    assert emu.catalog.xdm_schema_of_dataset("6155e3a9bd13651949515f14").id == SCHEMA  # seed 004's dataset
    set_id = ok(api, "POST", "/mappingSets", json=mapping_set())["id"]
    expanded = ok(api, "GET", f"/mappingSets/{set_id}", params={"expandSchema": "true"})
    name = expanded["outputSchema"]["jsonSchema"]["properties"]["person"]["properties"]["name"]["properties"]
    assert name["firstName"] == {"type": "string"}
    listed = httpx.get(emu.base_url + "/_emulator/schemas").json()["schemas"]
    assert SCHEMA in {s["id"] for s in listed}


def test_a_test_adds_its_own_schema_and_reset_drops_it(api: Api) -> None:
    mine = "https://ns.adobe.com/mytenant/schemas/loyalty"
    r = httpx.post(api.emu.base_url + "/_emulator/schemas", json={"id": mine, "fields": {"tier": "string"}})
    assert r.status_code == 204
    body = mapping_set([{"sourceType": "STATIC", "source": "gold", "destination": "tier"}], schema=mine)
    assert ok(api, "POST", "/mappingSets/validate", json=body)["validationResponse"][0]["status"] == "SUCCESS"
    bad = httpx.post(api.emu.base_url + "/_emulator/schemas", json={"id": mine, "fields": {"tier": "text"}})
    assert bad.status_code == 400
    api.emu.reset()
    assert api.emu.xdm_fields(mine) == {}
    assert api.emu.xdm_fields(SCHEMA)  # the catalog's own stay


# -- flows that name a mapping set -----------------------------------------------------------------


def _flow_body(api: Api, chain: dict[str, str], mapping: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "name": name,
        "flowSpec": {"id": CLOUD_STORAGE_TO_AEP, "version": "1.0"},
        "sourceConnectionIds": [chain["source"]],
        "targetConnectionIds": [chain["target"]],
        "transformations": [{"name": "Mapping", "params": mapping}],
        "scheduleParams": {"startTime": int(api.emu.clock.now()), "frequency": "once"},
    }


def test_flows_naming_a_missing_set_or_version_are_refused(api: Api) -> None:
    chain = make_s3_chain(api)
    set_id = ok(api, "POST", "/mappingSets", json=mapping_set())["id"]
    missing = "0" * 32
    cases = {
        "missing set": ({"mappingId": missing, "mappingVersion": "0"}, f"The mapping set {missing} of the Mapping"),
        "missing version": ({"mappingId": set_id, "mappingVersion": "1"}, "has no version '1' (its versions are 0"),
        "no id": ({"mappingVersion": "0"}, "needs params.mappingId"),
    }
    for case, (params, message) in cases.items():
        r = api.post("/flows", json=_flow_body(api, chain, params, f"flow {case}"))
        assert r.status_code == 400 and flow_error_code(r) == "1000-400", (case, r.text)
        assert message in r.json()["report"]["detailed-message"], case
    created = api.ok(
        "POST", "/flows", 201, json=_flow_body(api, chain, {"mappingId": set_id, "mappingVersion": "0"}, "mapped")
    )
    flow = api.item(f"/flows/{created['id']}")
    version_one = [{"op": "replace", "path": "/transformations/0/params/mappingVersion", "value": "1"}]
    r = api.patch(f"/flows/{flow['id']}", json=version_one, headers={"If-Match": flow["etag"]})
    assert r.status_code == 400 and "has no version '1'" in r.json()["report"]["detailed-message"]
    ok(api, "PUT", f"/mappingSets/{set_id}", json=mapping_set(MAPPINGS[:1]))  # version 1 now exists
    api.ok("PATCH", f"/flows/{flow['id']}", json=version_one, headers={"If-Match": flow["etag"]})
    assert api.item(f"/flows/{flow['id']}")["transformations"][0]["params"]["mappingVersion"] == "1"


def test_conversion_calls_pass_the_gateway_checks(api: Api) -> None:
    url = api.emu.base_url + CONVERSION + "/mappingSets/validate"
    stale = {**api.headers(), "Authorization": "Bearer not-a-token"}
    assert httpx.post(url, json=mapping_set(), headers=stale).json() == {
        "error_code": "401013",
        "message": "Oauth token is not valid",
    }
    assert httpx.post(url, json=mapping_set()).status_code == 403  # no token at all: the gateway's 403010
    headers = {k: v for k, v in api.headers().items() if k != "x-sandbox-name"}
    assert (
        httpx.post(url, json=mapping_set(), headers=headers)
        .json()["report"]["detailed-message"]
        .startswith("The header x-sandbox-name is missing")
    )
    logged = [r.path for r in api.emu.calls(method="POST")]
    assert CONVERSION + "/mappingSets/validate" in logged  # logged (and faulted) with the full path
