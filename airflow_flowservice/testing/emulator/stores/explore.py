"""The explore resource: what a base connection's source holds (``GET /connections/{id}/explore``).

The content is deterministic fake data per source type: Mailchimp campaigns (REST), files and folders
(cloud storage), tables (Google BigQuery). ``ExploreStore`` finds the connection's spec through the
connections store and answers from these generators.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from ..errors import FlowServiceError, not_found
from ..state import Caller
from .catalog import CatalogStore
from .connections import ConnectionStore


def _bad(code: str, message: str) -> FlowServiceError:
    return FlowServiceError(code, "Bad Request", message)


def decode_source_params(raw: str) -> dict[str, Any]:
    """Decode the base64 JSON ``sourceParams`` (standard or URL-safe alphabet, padding optional)."""
    text = raw.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        data = json.loads(decoded.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad(
            "1389-400",
            "An error occurred while parsing the provided base64-encoded string. Please provide a valid "
            "encoded "
            "filter string and try again.",
        ) from exc
    if not isinstance(data, dict):
        raise _bad("1389-400", "The decoded sourceParams must be a JSON object.")
    return data


def _hex(seed: str, n: int) -> str:
    return hashlib.md5(seed.encode()).hexdigest()[:n]


def mailchimp_preview(campaign_id: str, rows: int = 3) -> list[dict[str, Any]]:
    """Email-activity rows for ``campaign_id``, as in Adobe's Mailchimp source guide (deterministic)."""
    list_id = _hex("list" + campaign_id, 10)
    emails: list[dict[str, Any]] = []
    for i in range(rows):
        email_id = _hex(f"{campaign_id}:{i}", 32)
        base = "https://us6.api.mailchimp.com/3.0"
        schema = "https://us6.api.mailchimp.com/schema/3.0/Definitions"
        emails.append(
            {
                "campaign_id": campaign_id,
                "list_id": list_id,
                "list_is_active": True,
                "email_id": email_id,
                "email_address": f"user{int(email_id[:6], 16) % 100000}@example.com",
                "_links": [
                    {
                        "rel": "parent",
                        "href": f"{base}/reports/{campaign_id}/email-activity",
                        "method": "GET",
                        "targetSchema": f"{schema}/Reports/EmailActivity/CollectionResponse.json",
                    },
                    {
                        "rel": "self",
                        "href": f"{base}/reports/{campaign_id}/email-activity/{email_id}",
                        "method": "GET",
                        "targetSchema": f"{schema}/Reports/EmailActivity/Response.json",
                    },
                    {
                        "rel": "member",
                        "href": f"{base}/lists/{list_id}/members/{email_id}",
                        "method": "GET",
                        "targetSchema": f"{schema}/Lists/Members/Response.json",
                    },
                ],
            }
        )
    return [{"emails": emails}]


MAILCHIMP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "emails": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "campaign_id": {"type": "string"},
                    "list_id": {"type": "string"},
                    "list_is_active": {"type": "boolean"},
                    "email_id": {"type": "string"},
                    "email_address": {"type": "string"},
                },
            },
        }
    },
}

_DELIMITED_COLUMNS = [
    {"name": "id", "type": "string"},
    {"name": "email", "type": "string"},
    {"name": "firstName", "type": "string"},
    {"name": "lastName", "type": "string"},
    {"name": "updatedAt", "type": "string"},
]

_TABLE_COLUMNS = [
    {"name": "TestID", "type": "string", "xdm": {"type": "string"}},
    {"name": "Name", "type": "string", "xdm": {"type": "string"}},
    {
        "name": "Datefield",
        "type": "string",
        "meta:xdmType": "date-time",
        "xdm": {"type": "string", "format": "date-time"},
    },
    {"name": "Amount", "type": "double", "xdm": {"type": "number"}},
]


def _rows(seed: str, columns: list[dict[str, Any]], n: int = 5) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        h = _hex(f"{seed}:{i}", 8)
        row: dict[str, Any] = {}
        for col in columns:
            if col["type"] == "double":
                row[col["name"]] = round(int(h, 16) % 100000 / 100, 2)
            elif col["name"].lower() in ("updatedat", "datefield"):
                row[col["name"]] = f"2024-01-{(i % 28) + 1:02d}T00:00:00Z"
            else:
                row[col["name"]] = f"{col['name'].lower()}-{h}"
        rows.append(row)
    return rows


_BAD_OBJECT_TYPE = "The provided param 'objectType' is invalid. Please provide a valid objectType and try again."


def _need_object(obj: str, object_type: str) -> None:
    if not obj:
        raise _bad(
            "1337-400",
            f"The object cannot be empty for objectType={object_type}. Please provide valid object and try again.",
        )


def _explore_rest(params: dict[str, str], object_type: str) -> Any:
    """REST sources (Mailchimp): the schema, and a preview of a campaign's email activity."""
    if object_type != "rest":
        raise _bad("1358-400", _BAD_OBJECT_TYPE)
    raw = params.get("sourceParams")
    source_params = decode_source_params(raw) if raw else {}
    campaign = str(source_params.get("campaignId", "")) or "c66a200cda"
    result: dict[str, Any] = {"format": params.get("fileType", "json"), "schema": MAILCHIMP_SCHEMA}
    if params.get("preview", "").lower() == "true":
        result["data"] = mailchimp_preview(campaign)
    return result


def _explore_files(params: dict[str, str], object_type: str) -> Any:
    """File sources (cloud storage): two root folders, three files a folder, a delimited file's schema."""
    obj = params.get("object", "")
    if object_type == "root":
        return [
            {"type": "folder", "name": name, "path": f"/{name}", "canPreview": False, "canFetchSchema": False}
            for name in ("acme", "exports")
        ]
    if object_type == "folder":
        _need_object(obj, object_type)
        base = obj.rstrip("/")
        return [
            {"type": "file", "name": n, "path": f"{base}/{n}", "canPreview": True, "canFetchSchema": True}
            for n in ("account.csv", "contacts.csv", "orders.csv")
        ]
    if object_type == "file":
        _need_object(obj, object_type)
        result: dict[str, Any] = {"format": "delimited", "schema": {"columns": _DELIMITED_COLUMNS}}
        if params.get("preview", "").lower() == "true":
            result["data"] = _rows(obj, _DELIMITED_COLUMNS)
        return result
    raise _bad("1358-400", _BAD_OBJECT_TYPE)


def _explore_tables(params: dict[str, str], object_type: str) -> Any:
    """Table sources (Google BigQuery): two tables, and a table's flat schema."""
    obj = params.get("object", "")
    if object_type == "root":
        return [
            {"type": "table", "name": n, "path": p, "canPreview": True, "canFetchSchema": True}
            for n, p in (("Mytable", "test1.Mytable"), ("Customers", "test1.Customers"))
        ]
    if object_type == "table":
        _need_object(obj, object_type)
        result: dict[str, Any] = {"format": "flat", "schema": {"columns": _TABLE_COLUMNS}}
        if params.get("preview", "").lower() == "true":
            result["data"] = _rows(obj, _TABLE_COLUMNS)
        return result
    raise _bad("1358-400", _BAD_OBJECT_TYPE)


_EXPLORERS = {"Resource": _explore_rest, "FileSystem": _explore_files, "Table": _explore_tables}


def explore(spec: dict[str, Any], params: dict[str, str]) -> Any:
    """The explore response for a connection of ``spec`` and the query ``params``."""
    object_type = params.get("objectType", "").strip().lower()
    spec_id = spec["id"]
    if "exploreSpec" not in spec:
        raise _bad(
            "1336-400",
            f"Explore connection is not supported for connection spec ID: {spec_id}. Please provide "
            "supported "
            "connection spec id and try again.",
        )
    if not object_type:
        raise _bad(
            "1334-400",
            "The query param : objectType cannot be empty. Please provide valid objectType and try again.",
        )
    explorer = _EXPLORERS.get(spec["exploreSpec"].get("type"))
    if explorer is None:
        raise _bad("1336-400", f"Explore connection is not supported for connection spec ID: {spec_id}.")
    return explorer(params, object_type)


class ExploreStore:
    """Explore through a base connection (its spec says what the source holds); nothing is stored."""

    def __init__(self, catalog: CatalogStore, connections: ConnectionStore) -> None:
        self.catalog = catalog
        self.connections = connections

    def explore(self, caller: Caller, connection_id: str, params: dict[str, str]) -> Any:
        spec_id = self.connections.require(caller.key, connection_id).spec_id
        return explore(self.catalog.connection_spec(spec_id) or {"id": spec_id}, params)

    def connection_configs(self, caller: Caller, connection_id: str, params: dict[str, str]) -> Any:
        """``GET /connections/{id}/configs``: no catalog spec declares connection-level config options."""
        self.connections.require(caller.key, connection_id)
        return []

    def spec_explore(self, spec_id: str) -> Any:
        """``GET /connectionSpecs/{id}/explore``: no catalog spec explores without credentials."""
        if self.catalog.connection_spec(spec_id) is None:
            raise not_found("connectionSpecs", spec_id)
        raise FlowServiceError(
            "1372-400",
            "Bad Request",
            "The current operation is not allowed. Explore via connection spec is not allowed for connection "
            f"spec ID={spec_id}. Explore through a base connection: GET /connections/{{id}}/explore.",
        )
