"""An ``adobe_flowservice`` connection read and checked into :class:`~airflow_flowservice.auth.FlowServiceCredentials`.

Every field is checked before any call, and an error names the connection, the field and the fix. The
hook (:class:`~airflow_flowservice.hooks.flowservice.FlowServiceHook`) reads its connection through
:func:`credentials_from_connection`; the async path reads the extras with :func:`aread_extra` first, off
the event loop's sync channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_flowservice._compat import aconnection_extra, connection_extra
from airflow_flowservice.auth import DEFAULT_API_URL, DEFAULT_IMS_URL, DEFAULT_SCOPES, FlowServiceCredentials
from airflow_flowservice.exceptions import FlowServiceConfigError

if TYPE_CHECKING:
    from airflow_flowservice._compat import Connection


def credentials_from_connection(conn: Connection, extra: dict[str, Any] | None = None) -> FlowServiceCredentials:
    """Read and check an ``adobe_flowservice`` connection; errors name the connection and the field.

    ``extra``: the connection's extras when already read (the async path reads them without
    blocking the event loop); default: read from ``conn`` (:func:`~airflow_flowservice._compat.connection_extra`:
    masked as ``extra_dejson`` masks them, without its "too short to mask" warning for the sandbox).

    An extra without ``scopes``, ``ims_url`` or ``api_url`` means their defaults (the connection form
    shows them as suggestions, and writes none of them); ``ui_tenant`` (optional) is the org's name in
    Experience Platform UI addresses, used in run links (default: the org id).
    """
    conn_id = conn.conn_id
    if extra is None:
        extra = read_extra(conn)
    if not isinstance(extra, dict):
        raise FlowServiceConfigError(
            f"Connection '{conn_id}' extra is a JSON {type(extra).__name__}, not an object: give a JSON object "
            'such as {"org_id": "<ORG_ID>@AdobeOrg", "sandbox": "prod"}.'
        )

    def need(value: Any, where: str, fix: str) -> str:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise FlowServiceConfigError(f"Connection '{conn_id}' has no {where}: {fix}")
        return text

    def header_safe(text: str, where: str) -> str:
        # Sent as an HTTP header (or URL): httpx would fail on it later, inside the first call.
        if not all(32 <= ord(ch) < 127 for ch in text):
            raise FlowServiceConfigError(
                f"Connection '{conn_id}' {where} is {text!r}: it may hold only printable ASCII characters "
                "(no accents, control characters or line breaks)."
            )
        return text

    client_id = need(conn.login, "login (client id)", "set login to the Developer Console client id (API key).")
    secret = need(conn.password, "password (client secret)", "set password to the Developer Console client secret.")
    org_id = need(extra.get("org_id"), "extra 'org_id'", 'add "org_id": "<ORG_ID>@AdobeOrg" to the extra.')
    sandbox = need(
        extra.get("sandbox"),
        "extra 'sandbox'",
        'add "sandbox": "<name>" to the extra (there is no default: name the production sandbox explicitly).',
    )
    client_id = header_safe(client_id, "login (client id)")
    org_id = header_safe(org_id, "extra 'org_id'")
    sandbox = header_safe(sandbox, "extra 'sandbox'")
    urls = {
        key: header_safe(str(extra.get(key) or default), f"extra {key!r}")
        for key, default in (("ims_url", DEFAULT_IMS_URL), ("api_url", DEFAULT_API_URL))
    }
    if not org_id.endswith("@AdobeOrg"):
        raise FlowServiceConfigError(
            f"Connection '{conn_id}' extra 'org_id' is {org_id!r}: an IMS org id ends with '@AdobeOrg'."
        )
    if sandbox != sandbox.lower():
        raise FlowServiceConfigError(
            f"Connection '{conn_id}' extra 'sandbox' is {sandbox!r}: sandbox names are all lower case."
        )
    conversion = str(extra.get("conversion_url") or "").strip()
    return FlowServiceCredentials(
        client_id=client_id,
        client_secret=secret,
        org_id=org_id,
        sandbox=sandbox,
        scopes=str(extra.get("scopes") or DEFAULT_SCOPES),
        ims_url=urls["ims_url"],
        api_url=urls["api_url"],
        # Data Prep: default api_url's sibling (.../flowservice -> .../conversion), see conversion_url_for.
        conversion_url=header_safe(conversion, "extra 'conversion_url'") if conversion else None,
        events_journal_url=journal_url_of(conn_id, extra),
        ui_tenant=ui_tenant_of(conn_id, extra.get("ui_tenant")),
    )


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def journal_url_of(conn_id: str, extra: dict[str, Any]) -> str | None:
    """The connection's extra ``events_journal_url``, checked: an https URL with no query (http on loopback, for
    the emulator); ``None`` when not set. Each I/O Events registration has its own, in its ``_links["rel:events"]``.
    """
    value = extra.get("events_journal_url")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    example = "https://events-va6.adobe.io/events/organizations/<org>/integrations/<integration>/<registration>"
    parts = urlsplit(str(value).strip()) if isinstance(value, str) else None
    loopback = parts is not None and parts.scheme == "http" and parts.hostname in _LOOPBACK
    if parts is None or not parts.netloc or not (parts.scheme == "https" or loopback):
        raise FlowServiceConfigError(
            f"Connection '{conn_id}' extra 'events_journal_url' is {value!r}: give the https journal URL of an "
            f"I/O Events registration, e.g. {example}"
        )
    if parts.query or parts.fragment:
        raise FlowServiceConfigError(
            f"Connection '{conn_id}' extra 'events_journal_url' is {value!r}: leave out the query ('?since=...', "
            "'?latest=...'): the trigger keeps its own position"
        )
    if not all(32 < ord(ch) < 127 for ch in str(value).strip()):
        raise FlowServiceConfigError(
            f"Connection '{conn_id}' extra 'events_journal_url' holds a character a URL cannot: {value!r}"
        )
    return str(value).strip().rstrip("/")


def read_extra(conn: Connection) -> Any:
    try:
        return connection_extra(conn)
    except ValueError as exc:
        raise FlowServiceConfigError(f"Connection '{conn.conn_id}' {exc}: give a JSON object.") from None


async def aread_extra(conn: Connection) -> Any:
    try:
        return await aconnection_extra(conn)
    except ValueError as exc:
        raise FlowServiceConfigError(f"Connection '{conn.conn_id}' {exc}: give a JSON object.") from None


def ui_tenant_of(conn_id: str, value: Any) -> str | None:
    """The extra ``ui_tenant``: the name after ``@`` in Experience Platform UI addresses (``None``: the org id)."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if not all(ch.isalnum() or ch in "-_." for ch in text):
        raise FlowServiceConfigError(
            f"Connection '{conn_id}' extra 'ui_tenant' is {text!r}: give the name after '@' in your Experience "
            "Platform address (https://experience.adobe.com/#/@<ui_tenant>/sname:<sandbox>/...), e.g. 'acme'."
        )
    return text
