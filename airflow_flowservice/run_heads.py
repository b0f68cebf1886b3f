"""A page of runs decoded for the poll path: only the fields a wait or a watch reads.

Waits in a triggerer read pages of up to 100 run documents every interval. Decoding them whole (with
``json`` or pydantic) builds hundreds of dicts and lists a page, which the garbage collector tracks and
which, surviving into older generations, make its full collections scan every wait of the event loop.
Here a page is split with msgspec into each run's undecoded JSON (:class:`msgspec.Raw`, which the
collector does not track) and a :class:`RunHead` of the few fields a wait needs, a msgspec ``Struct``
declared ``gc=False`` (never tracked: it holds only strings, integers and other such structs). The
whole run is decoded (into :class:`~airflow_flowservice.models.Run`) only when a wait needs it: once,
when its run finished. BENCHMARKS.md ("Deferred waits") has the measured effect.

msgspec is a dependency of Apache Airflow itself (its task SDK); this module knows nothing of Airflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from airflow_flowservice.exceptions import FlowServiceError

if TYPE_CHECKING:  # imported when a whole run is decoded: the poller does not load pydantic's models
    from airflow_flowservice.models import Run


class _StatusSummary(msgspec.Struct, frozen=True, gc=False):
    status: str | None = None


class _Metrics(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    status_summary: _StatusSummary | None = None


class _FlowSpecRef(msgspec.Struct, frozen=True, gc=False):
    id: str | None = None


class RunHead(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    """The fields of a run a wait reads: its id, flow, flow spec, creation and update times (epoch ms), status."""

    id: str
    flow_id: str | None = None
    flow_spec: _FlowSpecRef | None = None
    created_at: int | None = None
    updated_at: int | None = None
    metrics: _Metrics | None = None

    @property
    def flow_spec_id(self) -> str | None:
        """The run's ``flowSpec.id`` (its flow's spec: tells a dataset export's run from a source's)."""
        return self.flow_spec.id if self.flow_spec is not None else None

    @property
    def status(self) -> str:
        """``metrics.statusSummary.status`` as the service sent it (``""`` when not reported yet)."""
        summary = self.metrics.status_summary if self.metrics is not None else None
        return (summary.status if summary is not None else None) or ""


class PolledRun(msgspec.Struct, frozen=True, gc=False):
    """One run of a page: its :class:`RunHead` and its whole JSON document, undecoded."""

    head: RunHead
    document: msgspec.Raw

    def run(self) -> Run:
        """The whole run (decoded now, with pydantic)."""
        from airflow_flowservice.models import Run

        return Run.model_validate_json(bytes(self.document))


class _Page(msgspec.Struct, gc=False):
    items: list[msgspec.Raw] = []


_PAGE = msgspec.json.Decoder(_Page)
_HEAD = msgspec.json.Decoder(RunHead, strict=False)  # "123" is read as 123, as pydantic would


def decode_run_page(body: bytes) -> list[PolledRun]:
    """The runs of a ``GET /runs`` page (``{"items": [...]}``); a malformed page raises :class:`FlowServiceError`."""
    if not body:
        return []
    try:
        return [PolledRun(_HEAD.decode(raw), raw) for raw in _PAGE.decode(body).items]
    except msgspec.DecodeError as exc:  # a ValidationError is a DecodeError: one message for both
        raise FlowServiceError(f"GET /runs answered a page of runs that could not be read: {exc}") from None
