"""Where the emulator serves: the Flow Service API base, the Conversion Service (Data Prep) base, the IMS token
endpoint, the I/O Events journals and the admin endpoints."""

from __future__ import annotations

API_PREFIX = "/data/foundation/flowservice"
#: The Conversion Service (Data Prep); its requests are logged and faulted with their full path.
CONVERSION_PREFIX = "/data/foundation/conversion"
IMS_PATH = "/ims/token/v3"
ADMIN_PREFIX = "/_emulator"
#: The I/O Events journals: ``/events/organizations/{consumerOrgId}/integrations/{integrationId}/{registrationId}``
EVENTS_PREFIX = "/events"


def journal_path(consumer_org_id: str, integration_id: str, registration_id: str) -> str:
    """The path of a registration's journal, as Adobe's ``_links["rel:events"]`` gives it (on the emulator's host)."""
    return f"{EVENTS_PREFIX}/organizations/{consumer_org_id}/integrations/{integration_id}/{registration_id}"


def relative_path(path: str) -> str | None:
    """``path`` relative to the API base (``/runs``), ``IMS_PATH``, a journal path as it is (``/events/...``),
    or ``None`` for any other path."""
    if path.startswith(API_PREFIX):
        rest = path[len(API_PREFIX) :]
        return rest or "/"
    if path.rstrip("/") == IMS_PATH:
        return IMS_PATH
    if path.startswith(EVENTS_PREFIX + "/"):
        return path
    return None
