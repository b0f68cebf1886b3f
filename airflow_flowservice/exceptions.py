"""One exception hierarchy for every Flow Service failure.

Each error carries the HTTP status, the Flow Service / gateway code (``1386-400``, ``401013``), the
server's message and the request id, and renders them as one readable line for task logs. Nothing
in here ever holds a credential or an access token, and nothing here knows Airflow: the Airflow-facing
classes (operators, sensors) raise the errors that no retry can heal as Airflow's
``AirflowFailException`` too (``airflow_flowservice.operators.failures``).
"""

from __future__ import annotations

import copy
import re

#: At most this many characters of one unbroken piece of input are echoed back in a message.
ECHO_LIMIT = 200
#: No message is longer than this (a long list of problems, or a long server message, is cut).
MESSAGE_LIMIT = 2000
_LONG_RUN = re.compile(r"\S{" + str(ECHO_LIMIT + 1) + ",}")


def cap_message(text: str) -> str:
    """``text`` with every unbroken run over :data:`ECHO_LIMIT` characters cut (``…``), and the whole
    cut at :data:`MESSAGE_LIMIT`: a 1 MB id gives a short message, not a 1 MB one."""
    text = _LONG_RUN.sub(lambda m: m.group()[:ECHO_LIMIT] + "…", text)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "…"


class FlowServiceError(Exception):
    """Base class of every error raised by this provider's client, hook and operators."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = cap_message(str(message))
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.method and self.path:
            parts.append(f"{self.method} {self.path}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"[{self.code}]")
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.request_id:
            text += f" (request id {self.request_id})"
        return cap_message(text)

    def with_note(self, note: str) -> FlowServiceError:
        """A copy of this error (same class, status, code, request id) whose message ends with ``note``."""
        new = copy.copy(self)
        new.message = cap_message(f"{self.message} ({note})")
        new.args = (new._render(),)
        return new


class FlowServiceConfigError(FlowServiceError, ValueError):
    """The Airflow connection or an operator argument is invalid; raised before any API call.

    A retry of the task would fail the same way: raised by a task, it fails the task without retry.
    """


class FlowServiceAuthError(FlowServiceError):
    """Authentication failed: bad client id/secret, token rejected twice, missing or invalid API key."""


class FlowServicePermissionError(FlowServiceError):
    """403: the credentials are valid but not allowed (org, sandbox or product profile)."""


class FlowServiceBadRequestError(FlowServiceError):
    """400/422: the service rejected the request content (the code says why, e.g. ``1386-400``)."""


class FlowServiceNotFoundError(FlowServiceError):
    """404: the entity does not exist in this org and sandbox."""


class FlowServiceGoneError(FlowServiceError):
    """410: what was asked for no longer exists (an I/O Events journal position older than the retention)."""


class FlowServiceConflictError(FlowServiceError):
    """412: the entity changed since its etag was read (PATCH/action with a stale ``If-Match``)."""


class FlowServiceRateLimitError(FlowServiceError):
    """429: throttled; ``retry_after`` holds the server's hint in seconds when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class FlowServiceServerError(FlowServiceError):
    """5xx from the service or the gateway."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class FlowServiceTransportError(FlowServiceError):
    """The host could not be reached, or the connection broke before a complete response arrived.

    ``request_sent`` tells whether the request may have reached the service (a create may have been
    applied; look the entity up before sending it again).
    """

    def __init__(self, message: str, *, request_sent: bool, **kwargs: object) -> None:
        self.request_sent = request_sent
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class FlowServiceRunFailedError(FlowServiceError):
    """A flow run finished unsuccessfully, or broke the failed-records policy.

    A retry of the task would adopt the same finished run and judge it the same way: raised by a task,
    it fails the task without retry. ``FlowServiceTriggerRunOperator`` with ``retrigger_failed=True``
    raises a plain :class:`FlowServiceError` instead, as a retry re-triggers the run.
    """


class FlowServiceDuplicateRunsError(FlowServiceError):
    """A window has more than one run (two tasks started it concurrently); ``run_ids`` names them all.

    Raised by a task, it fails the task without retry: a retry would adopt one run and hide the other.
    """

    def __init__(self, message: str, *, run_ids: list[str]) -> None:
        self.run_ids = run_ids
        super().__init__(message)


class FlowServiceTimeoutError(FlowServiceError):
    """Waiting for a run exceeded its timeout."""


class FlowServiceEntityExistsError(FlowServiceError):
    """An entity with the requested name already exists and cannot be reused (``if_exists`` rules)."""


class FlowServicePlanStaleError(FlowServiceConflictError):
    """An entity changed in the service after a dataflows-as-code plan was made (``PATCH`` answered 412)."""


#: The errors no retry of a task can heal: the Airflow-facing classes fail their task at once on them.
FAILS_WITHOUT_RETRY: tuple[type[FlowServiceError], ...] = (
    FlowServiceConfigError,
    FlowServiceRunFailedError,
    FlowServiceDuplicateRunsError,
)
