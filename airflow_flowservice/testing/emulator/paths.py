"""Where the emulator serves: the Flow Service API base, the Conversion Service (Data Prep) base, the IMS token
endpoint and the admin endpoints."""

from __future__ import annotations

API_PREFIX = "/data/foundation/flowservice"
#: The Conversion Service (Data Prep); its requests are logged and faulted with their full path.
CONVERSION_PREFIX = "/data/foundation/conversion"
IMS_PATH = "/ims/token/v3"
ADMIN_PREFIX = "/_emulator"


def relative_path(path: str) -> str | None:
    """``path`` relative to the API base (``/runs``), ``IMS_PATH``, or ``None`` for any other path."""
    if path.startswith(API_PREFIX):
        rest = path[len(API_PREFIX) :]
        return rest or "/"
    if path.rstrip("/") == IMS_PATH:
        return IMS_PATH
    return None
