"""Request log of the emulator: one record per API / IMS request (admin requests are not logged)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One logged request.

    ``path`` is relative to the API base (``/runs``, ``/flows/{id}/action``) or ``/ims/token/v3``;
    ``status`` is the HTTP status sent, or ``"dropped"`` when a fault closed the connection;
    ``time`` is the emulator clock (epoch seconds) when the request arrived; ``body`` is the parsed
    JSON body (form fields for IMS, secrets masked) or ``None``; ``duration`` is the wall-clock time
    spent answering (seconds, injected latency included); ``fault`` names the fault kind applied.
    """

    method: str
    path: str
    query: str
    status: int | str
    time: float
    body: Any = None
    duration: float = 0.0
    fault: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "time": self.time,
            "body": self.body,
            "duration": self.duration,
            "fault": self.fault,
        }


class RequestLog(list[RequestRecord]):
    """The request log: a plain ``list`` of :class:`RequestRecord` (appended by the server thread).

    ``append``/``clear`` are atomic under the GIL; use :meth:`snapshot` or :meth:`filter` to read a
    consistent copy while requests are still arriving.
    """

    def snapshot(self) -> list[RequestRecord]:
        return list(self)

    def filter(self, method: str | None = None, path_prefix: str | None = None) -> list[RequestRecord]:
        """Records matching ``method`` (case-insensitive) and starting with ``path_prefix``."""
        return [
            r
            for r in list(self)
            if (method is None or r.method.upper() == method.upper())
            and (path_prefix is None or r.path.startswith(path_prefix))
        ]
