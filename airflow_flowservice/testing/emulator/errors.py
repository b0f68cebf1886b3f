"""Error bodies of the Flow Service (``{type, title, status, report}``) and of the Adobe I/O gateway."""

from __future__ import annotations

import uuid
from typing import Any

FLOW_ERROR_TYPE = "https://ns.adobe.com/aep/errors/FLOW-{code}"


class EmulatorHTTPError(Exception):
    """Base of the errors a handler raises; the app turns them into JSON responses."""

    status: int = 500

    def body(self, request_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return {}


class FlowServiceError(EmulatorHTTPError):
    """A Flow Service error, e.g. ``FlowServiceError("1386-400", "Bad Request", "The flowId=...")``.

    The HTTP status is the suffix of the catalogue code (``1439-404`` -> 404).
    """

    def __init__(
        self,
        code: str,
        title: str,
        message: str,
        *,
        report_extra: dict[str, Any] | None = None,
        error_message: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.title = title
        self.message = message
        self.report_extra = dict(report_extra or {})
        self.error_message = error_message
        self.status = status if status is not None else int(code.rsplit("-", 1)[1])
        self._headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, Any]:
        report: dict[str, Any] = {"detailed-message": self.message}
        report.update(self.report_extra)
        report["request-id"] = request_id
        return {
            "type": FLOW_ERROR_TYPE.format(code=self.code),
            "title": self.title,
            "status": self.status,
            "report": report,
            "errorMessage": self.error_message if self.error_message is not None else self.message,
            "errorDetails": self.message,
        }

    def headers(self) -> dict[str, str]:
        return dict(self._headers)


class GatewayError(EmulatorHTTPError):
    """An Adobe I/O gateway error: ``{"error_code": "401013", "message": "Oauth token is not valid"}``."""

    def __init__(self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self._headers = dict(headers or {})

    def body(self, request_id: str) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}

    def headers(self) -> dict[str, str]:
        return dict(self._headers)


class IMSError(EmulatorHTTPError):
    """An IMS token endpoint error: ``{"error": "invalid_client", "error_description": "..."}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self, request_id: str) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description}


def new_request_id() -> str:
    """A fresh request id (also returned in the ``x-request-id`` header)."""
    return str(uuid.uuid4())


# ---- helpers for the codes the emulator uses (catalogue: help/sources/errors/*.md) -----------------


def bad_request(message: str, code: str = "1000-400", title: str = "Bad Request") -> FlowServiceError:
    return FlowServiceError(code, title, message)


def invalid_request(code: str, message: str) -> FlowServiceError:
    """Codes of the Flow Service catalogue (14xx), whose title is ``Invalid request``."""
    return FlowServiceError(code, "Invalid request", message)


def mandatory_field(field: str) -> FlowServiceError:
    return FlowServiceError(
        "1304-400",
        "Bad Request",
        f"The mandatory field {field} is not provided. Please provide the {field} and try again.",
        report_extra={"field": field},
    )


def not_found(resource_type: str, entity_id: str) -> FlowServiceError:
    """The body of a missing entity, as in the documented ``FLOW-1439-404`` example."""
    message = (
        f"The requested {resource_type} resource {entity_id} is not found. Verify the resource ID before trying again."
    )
    return FlowServiceError(
        "1439-404",
        "Resource not found",
        message,
        report_extra={"id": entity_id, "type": resource_type},
    )


def draft_order(message: str) -> FlowServiceError:
    """A publish / create that violates the draft ordering (base -> source/target -> flow)."""
    return FlowServiceError("1600-400", "Bad Request", f"The request could not be processed. {message}")


def not_implemented(what: str, why: str) -> FlowServiceError:
    """An operation of the official spec the emulator does not implement (``0000-501``)."""
    return FlowServiceError(
        "0000-501",
        "Not Implemented",
        f"{what} is not implemented by the Flow Service emulator: {why} See docs/emulator.md.",
    )
