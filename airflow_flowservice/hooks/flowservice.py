"""FlowServiceHook: an Airflow connection turned into authenticated Flow Service calls."""

from __future__ import annotations

import asyncio
import base64
import json
import weakref
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any, TypeVar

from airflow_flowservice import CONN_TYPE, DEFAULT_CONN_ID
from airflow_flowservice._compat import (
    AirflowNotFoundException,
    BaseHook,
    aget_connection,
    amask_secret,
    mask_secret,
)
from airflow_flowservice.auth import FlowServiceCredentials
from airflow_flowservice.client import (
    ApiRequest,
    AsyncFlowServiceClient,
    FlowServiceClient,
    RetryPolicy,
    api_path,
    name_filter,
    path_segment,
    property_filter,
    property_in,
    unwrap_items,
)
from airflow_flowservice.exceptions import (
    FlowServiceConfigError,
    FlowServiceError,
    FlowServiceNotFoundError,
    FlowServiceTransportError,
)
from airflow_flowservice.hooks.connection import aread_extra, credentials_from_connection
from airflow_flowservice.journal_pages import JournalPage, parse_journal_answer
from airflow_flowservice.models import (
    ApiModel,
    BaseConnection,
    ConnectionSpec,
    DatasetInfo,
    Entity,
    EntityKind,
    EntityRef,
    Flow,
    FlowSpec,
    MappingSet,
    MappingSetRef,
    MappingValidation,
    PreviewRow,
    Run,
    SourceConnection,
    TargetConnection,
)
from airflow_flowservice.run_heads import PolledRun, decode_run_page
from airflow_flowservice.specs import DATA_LAKE_SOURCE_SPEC_ID

M = TypeVar("M", bound=ApiModel)

ENTITY_MODELS: dict[EntityKind, type[Entity]] = {
    EntityKind.BASE_CONNECTION: BaseConnection,
    EntityKind.SOURCE_CONNECTION: SourceConnection,
    EntityKind.TARGET_CONNECTION: TargetConnection,
    EntityKind.FLOW: Flow,
}

# One async client (and so one connection pool and one token) per event loop and credentials:
# a triggerer holding thousands of waits shares them.
_ASYNC_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], AsyncFlowServiceClient]] = (
    weakref.WeakKeyDictionary()
)


# The credentials of a connection as the async path read them, per event loop and connection id:
# the waits a triggerer starts together (thousands after a restart) share one look-up, instead of
# each reading (and masking) the connection on the loop. Read again after ASYNC_CREDENTIALS_TTL
# seconds, so an edited connection reaches new waits within a minute.
ASYNC_CREDENTIALS_TTL = 60.0
_ASYNC_CREDENTIALS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, tuple[float, FlowServiceCredentials | asyncio.Future[FlowServiceCredentials]]]
] = weakref.WeakKeyDictionary()


def _mask(token: str) -> None:
    mask_secret(token, "flowservice_access_token")


async def _amask(token: str) -> None:
    await amask_secret(token, "flowservice_access_token")


#: Runs per page of ``GET /runs``: the most Flow Service returns in one page, so a backfill's
#: look-ups and the poller's rounds read as few pages as possible.
RUNS_PAGE_SIZE = 100


def runs_query(
    *,
    flow_id: str | None = None,
    run_ids: Sequence[str] = (),
    created_since_ms: int | None = None,
    updated_since_ms: int | None = None,
    orderby: str | None = None,
    limit: int | None = None,
) -> list[tuple[str, str]]:
    """The query of a ``GET /runs`` page: the one builder of every listing of runs.

    ``property`` filters (each value checked: no injection) ANDed together, as Adobe's "Filter Platform
    API responses" page describes them; ``run_ids`` is one ``id==a,b,c`` filter (a comma ORs values).

    :param flow_id: only this flow's runs.
    :param run_ids: only these runs (at most ``limit``).
    :param created_since_ms: only runs created at or after this time (epoch ms).
    :param updated_since_ms: only runs updated at or after this time (epoch ms).
    :param orderby: ``createdAt``, ``updatedAt``, ``-createdAt`` or ``-updatedAt`` (default: the service's order,
        newest first).
    :param limit: runs per page; default :data:`RUNS_PAGE_SIZE`.
    """
    params: list[tuple[str, str]] = []
    if flow_id is not None:
        params.append(property_filter("flowId", "==", flow_id, "flow_id"))
    if run_ids:
        params.append(property_in("id", run_ids, "run_id"))
    if created_since_ms is not None:
        params.append(property_filter("createdAt", ">=", int(created_since_ms), "created_since_ms"))
    if updated_since_ms is not None:
        params.append(property_filter("updatedAt", ">=", int(updated_since_ms), "updated_since_ms"))
    if orderby is not None:
        params.append(("orderby", orderby))
    params.append(("limit", str(RUNS_PAGE_SIZE if limit is None else limit)))
    return params


class FlowServiceHook(BaseHook):
    """
    Interact with the Adobe Experience Platform Flow Service API.

    Authenticates with OAuth server-to-server (``client_credentials``), sends the org, sandbox and
    API-key headers on every call, retries safe calls, and maps errors to
    :class:`~airflow_flowservice.exceptions.FlowServiceError`.

    :param flowservice_conn_id: Airflow connection of type ``adobe_flowservice``
        (login = client id, password = client secret, extra ``org_id`` and ``sandbox``).
    :param retry_policy: retry limits for every call made through this hook.
    :param timeout: per-request timeout in seconds.
    """

    conn_name_attr = "flowservice_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Adobe Experience Platform Flow Service"

    def __init__(
        self,
        flowservice_conn_id: str = DEFAULT_CONN_ID,
        retry_policy: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__()
        self.flowservice_conn_id = flowservice_conn_id
        self.retry_policy = retry_policy
        self.timeout = timeout

    # -- connection and clients -------------------------------------------------------------

    @cached_property
    def credentials(self) -> FlowServiceCredentials:
        """Credentials read from the Airflow connection (checked, never logged)."""
        conn = self.defined_connection(self.flowservice_conn_id, "flowservice_conn_id", f"connection type {CONN_TYPE}")
        return credentials_from_connection(conn)

    def defined_connection(self, conn_id: str, field: str, what: str = "any connection type") -> Any:
        """``get_connection(conn_id)``; an undefined one is a config error naming ``field`` and the fix."""
        try:
            return self.get_connection(conn_id)
        except AirflowNotFoundException:
            raise FlowServiceConfigError(
                f"{field}: connection {conn_id!r} is not defined; create it ({what}) or pass the id of an existing one"
            ) from None

    def get_conn(self) -> FlowServiceClient:
        """The synchronous client of this hook (created once)."""
        return self.client

    async def _async_credentials(self) -> FlowServiceCredentials:
        """The connection's credentials, read once per event loop and :data:`ASYNC_CREDENTIALS_TTL` seconds."""
        loop = asyncio.get_running_loop()
        cache = _ASYNC_CREDENTIALS.setdefault(loop, {})
        conn_id = self.flowservice_conn_id
        entry = cache.get(conn_id)
        if entry is None or entry[0] <= loop.time():
            # A task of its own: a wait cancelled while it reads does not cancel the others' read.
            reading = loop.create_task(self._read_async_credentials(), name=f"flowservice-connection-{conn_id}")
            entry = cache[conn_id] = (loop.time() + ASYNC_CREDENTIALS_TTL, reading)

            def forget_failure(task: asyncio.Task[FlowServiceCredentials], entry: Any = entry) -> None:
                failed = task.cancelled() or task.exception() is not None
                if failed and cache.get(conn_id) is entry:  # not cached: the next wait reads again
                    del cache[conn_id]

            reading.add_done_callback(forget_failure)
        value = entry[1]
        if isinstance(value, FlowServiceCredentials):
            return value
        creds = await asyncio.shield(value)
        if cache.get(conn_id) is entry:
            cache[conn_id] = (entry[0], creds)
        return creds

    async def _read_async_credentials(self) -> FlowServiceCredentials:
        conn = await aget_connection(self, self.flowservice_conn_id)
        return credentials_from_connection(conn, await aread_extra(conn))

    @cached_property
    def client(self) -> FlowServiceClient:
        """The synchronous client of this hook (created once)."""
        return FlowServiceClient(
            self.credentials, retry_policy=self.retry_policy, timeout=self.timeout, on_new_token=_mask
        )

    async def acredentials(self) -> FlowServiceCredentials:
        """:attr:`credentials`, read without blocking the event loop (shared by the waits starting together)."""
        if "credentials" not in self.__dict__:
            self.__dict__["credentials"] = await self._async_credentials()
        creds: FlowServiceCredentials = self.__dict__["credentials"]
        return creds

    async def get_async_client(self) -> AsyncFlowServiceClient:
        """The async client shared by every hook with the same credentials on this event loop."""
        creds = await self.acredentials()
        loop = asyncio.get_running_loop()
        clients = _ASYNC_CLIENTS.setdefault(loop, {})
        key = creds.service_key
        client = clients.get(key)
        if client is None:
            client = clients[key] = AsyncFlowServiceClient(
                creds, retry_policy=self.retry_policy, timeout=self.timeout, on_new_token=_amask
            )
        return client

    def test_connection(self) -> tuple[bool, str]:
        """Get a token and make one cheap read; the message says what is wrong."""
        try:
            creds = self.credentials
            client = FlowServiceClient(
                creds, retry_policy=RetryPolicy(max_attempts=1), timeout=10.0, on_new_token=_mask
            )
            with client:
                client.token()
                client.request("GET", "/flows", params={"limit": "1"})
                journal = creds.events_journal_url
                if journal is not None:
                    try:  # the end of the journal: a cheap read that says whether it answers
                        client.send_for_answer(self._journal_request(f"{journal}?latest=true", creds))
                    except FlowServiceError as exc:
                        return False, (
                            f"Connected to Flow Service as org {creds.org_id}, sandbox '{creds.sandbox}', but the "
                            f"events journal ({journal}) does not answer: {exc}. Check extra 'events_journal_url' "
                            "(the registration's journal URL in Adobe Developer Console)."
                        )
        except FlowServiceError as exc:
            return False, _explain_test_failure(exc)
        answers = "; the events journal answers" if creds.events_journal_url else ""
        return True, f"Connected to Flow Service as org {creds.org_id}, sandbox '{creds.sandbox}'{answers}."

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Standard form fields: hidden ones and labels (Airflow < 3.2; 3.2+ reads provider info)."""
        from airflow_flowservice import get_provider_info

        return dict(get_provider_info()["connection-types"][0]["ui-field-behaviour"])

    # -- typed API ------------------------------------------------------------------------

    def get_connection_spec(self, spec_id: str) -> ConnectionSpec:
        """``GET /connectionSpecs/{id}``."""
        return self._get_one(
            api_path("/connectionSpecs/{spec_id}", spec_id=spec_id), ConnectionSpec, "connection spec", spec_id
        )

    def find_connection_spec(self, name: str) -> ConnectionSpec:
        """``GET /connectionSpecs?property=name=="<name>"`` (e.g. ``Amazon S3``)."""
        items = list(self.client.iter_items("/connectionSpecs", [name_filter(name)]))
        if not items:
            raise FlowServiceNotFoundError(f"no connection spec is named {name!r}", status=404)
        return ConnectionSpec.model_validate(items[0])

    def get_flow_spec(self, spec_id: str) -> FlowSpec:
        """``GET /flowSpecs/{id}``."""
        return self._get_one(api_path("/flowSpecs/{spec_id}", spec_id=spec_id), FlowSpec, "flow spec", spec_id)

    def find_flow_spec(self, name: str) -> FlowSpec:
        """``GET /flowSpecs?property=name=="<name>"`` (e.g. ``CloudStorageToAEP``)."""
        items = list(self.client.iter_items("/flowSpecs", [name_filter(name)]))
        if not items:
            raise FlowServiceNotFoundError(f"no flow spec is named {name!r}", status=404)
        return FlowSpec.model_validate(items[0])

    def get_entity(self, kind: EntityKind, entity_id: str) -> Entity:
        """``GET /{kind}/{id}`` parsed into its model."""
        return self._get_one(
            api_path(kind.path + "/{entity_id}", entity_id=entity_id), ENTITY_MODELS[kind], kind.label, entity_id
        )

    def get_flow(self, flow_id: str) -> Flow:
        """``GET /flows/{id}``."""
        return self._get_one(api_path("/flows/{flow_id}", flow_id=flow_id), Flow, "flow", flow_id)

    def iter_entities(self, kind: EntityKind, filters: Sequence[str] = ()) -> Iterator[Entity]:
        """Every entity of a kind matching ``property=`` filters, across pages."""
        model = ENTITY_MODELS[kind]
        for item in self.client.iter_items(kind.path, [("property", f) for f in filters]):
            yield model.model_validate(item)

    def find_entities_by_name(self, kind: EntityKind, name: str) -> list[Entity]:
        """Entities of a kind with exactly this name in the sandbox."""
        return [e for e in self.iter_entities(kind, [name_filter(name)[1]]) if e.name == name]

    def create_entity(self, kind: EntityKind, body: dict[str, Any], *, draft: bool = False) -> EntityRef:
        """``POST /{kind}`` (``?mode=draft`` for a draft). Never blindly re-sent on 5xx."""
        params = [("mode", "draft")] if draft else []
        return EntityRef.model_validate(self.client.request("POST", kind.path, params=params, json=body))

    def entity_action(self, kind: EntityKind, entity_id: str, op: str, etag: str | None = None) -> EntityRef:
        """``POST /{kind}/{id}/action?op=<op>`` (publish, enable, disable)."""
        headers = {"If-Match": etag} if etag else None
        body = self.client.request(
            "POST",
            api_path(kind.path + "/{entity_id}/action", entity_id=entity_id),
            params=[("op", op)],
            headers=headers,
            retry_safe=False,
        )
        return EntityRef.model_validate(body)

    def patch_entity(self, kind: EntityKind, entity_id: str, ops: list[dict[str, Any]], etag: str) -> EntityRef:
        """``PATCH /{kind}/{id}`` with JSON-Patch ``ops`` and ``If-Match: <etag>``."""
        body = self.client.request(
            "PATCH", api_path(kind.path + "/{entity_id}", entity_id=entity_id), json=ops, headers={"If-Match": etag}
        )
        return EntityRef.model_validate(body)

    def delete_entity(self, kind: EntityKind, entity_id: str) -> None:
        """``DELETE /{kind}/{id}``."""
        self.client.request("DELETE", api_path(kind.path + "/{entity_id}", entity_id=entity_id))

    def get_run(self, run_id: str) -> Run:
        """``GET /runs/{id}``."""
        return self._get_one(api_path("/runs/{run_id}", run_id=run_id), Run, "run", run_id)

    def iter_runs(
        self,
        flow_id: str,
        *,
        created_since_ms: int | None = None,
        updated_since_ms: int | None = None,
        orderby: str | None = None,
    ) -> Iterator[Run]:
        """The runs of a flow (newest first unless ``orderby``), read page by page as consumed.

        The filters are ``runs_query``'s.
        """
        query = runs_query(
            flow_id=flow_id, created_since_ms=created_since_ms, updated_since_ms=updated_since_ms, orderby=orderby
        )
        for item in self.client.iter_items("/runs", query):
            yield Run.model_validate(item)

    def list_runs(self, flow_id: str, *, created_since_ms: int | None = None) -> list[Run]:
        """Every run of a flow (newest first), optionally only those created at or after ``created_since_ms``."""
        return list(self.iter_runs(flow_id, created_since_ms=created_since_ms))

    async def aread_runs(
        self,
        *,
        flow_id: str | None = None,
        run_ids: Sequence[str] = (),
        updated_since_ms: int | None = None,
        orderby: str | None = None,
    ) -> list[PolledRun]:
        """One page of ``GET /runs`` (``runs_query``), decoded for the poll path (``run_heads``).

        Each run comes as its head (id, flow, times, status) and its undecoded document; the async
        client is the one shared by every hook with these credentials on this event loop.
        """
        client = await self.get_async_client()
        query = runs_query(flow_id=flow_id, run_ids=run_ids, updated_since_ms=updated_since_ms, orderby=orderby)
        return decode_run_page(await client.send_raw(ApiRequest("GET", "/runs", tuple(query))))

    async def aget_flow(self, flow_id: str) -> Flow:
        """Async ``GET /flows/{id}`` on the shared per-loop client."""
        client = await self.get_async_client()
        path = api_path("/flows/{flow_id}", flow_id=flow_id)
        items = unwrap_items(await client.request("GET", path))
        if not items:
            raise FlowServiceNotFoundError(f"flow {flow_id} was not found", status=404, method="GET", path=path)
        return Flow.model_validate(items[0])

    async def aget_run(self, run_id: str) -> Run:
        """Async ``GET /runs/{id}`` on the shared per-loop client."""
        client = await self.get_async_client()
        items = unwrap_items(await client.request("GET", api_path("/runs/{run_id}", run_id=run_id)))
        if not items:
            raise FlowServiceNotFoundError(f"run {run_id} is not in the response", status=404)
        return Run.model_validate(items[0])

    # -- I/O Events journal ----------------------------------------------------------------------

    @property
    def journal_url(self) -> str | None:
        """The connection's I/O Events journal (extra ``events_journal_url``), or ``None``."""
        return self.credentials.events_journal_url

    def _journal_request(self, url: str, creds: FlowServiceCredentials) -> ApiRequest:
        # The Journaling API takes the org as x-ims-org-id, not the gateway's x-gw-ims-org-id.
        return ApiRequest("GET", url, headers={"x-ims-org-id": creds.org_id})

    def read_journal(self, url: str) -> JournalPage:
        """One read of an I/O Events journal (``url``: the journal, or a ``next`` link); a 410 raises
        :class:`~airflow_flowservice.exceptions.FlowServiceGoneError` (a position past the retention)."""
        return parse_journal_answer(self.client.send_for_answer(self._journal_request(url, self.credentials)), url)

    async def aread_journal(self, url: str) -> JournalPage:
        """Async :meth:`read_journal`, on the shared per-loop client."""
        client = await self.get_async_client()
        answer = await client.send_for_answer(self._journal_request(url, await self.acredentials()))
        return parse_journal_answer(answer, url)

    # -- dataset export and explore ------------------------------------------------------------

    def iter_exportable_datasets(self, page_size: int = 20) -> Iterator[DatasetInfo]:
        """Every dataset eligible for export (Adobe's "Export datasets using the Flow Service API"), across pages.

        ``GET /connectionSpecs/{data lake source}/configs?outputType=activationDatasets&outputField=datasets``
        pages with ``start``/``limit`` and a ``pageInfo {start, end, total, hasNext}``, not with a
        continuation token.
        """
        start = 0
        while True:
            body = self.client.request(
                "GET",
                f"/connectionSpecs/{DATA_LAKE_SOURCE_SPEC_ID}/configs",
                params=[
                    ("outputType", "activationDatasets"),
                    ("outputField", "datasets"),
                    ("start", str(start)),
                    ("limit", str(page_size)),
                    ("properties", "name,state"),
                ],
            )
            items = unwrap_items(body)
            for item in items:
                yield DatasetInfo.model_validate(item)
            page = body.get("pageInfo") if isinstance(body, dict) else None
            if not items or not isinstance(page, dict) or not page.get("hasNext"):
                return
            start = int(page.get("end", start + len(items) - 1)) + 1

    def explore_preview(
        self,
        base_connection_id: str,
        source_params: dict[str, Any],
        *,
        object_name: str = "json",
        file_type: str = "json",
    ) -> Any:
        """Preview a REST source's data: ``GET /connections/{id}/explore`` with base64 ``sourceParams``.

        As Adobe's Mailchimp source guides call it.
        """
        encoded = base64.b64encode(json.dumps(source_params, separators=(",", ":")).encode()).decode()
        return self.client.request(
            "GET",
            api_path("/connections/{base_connection_id}/explore", base_connection_id=base_connection_id),
            params=[
                ("objectType", "rest"),
                ("object", object_name),
                ("fileType", file_type),
                ("preview", "true"),
                ("sourceParams", encoded),
            ],
        )

    # -- runs ----------------------------------------------------------------------------------

    def post_run(self, flow_id: str, params: dict[str, Any]) -> str:
        """``POST /runs`` (an on-demand run of ``flow_id`` with ``params``); returns the new run's id.

        Never re-sent on a 5xx or a connection broken after sending (the run may exist): starting a
        window's run exactly once is ``airflow_flowservice.runs.start.start_window_run``.
        """
        body = self.client.request("POST", "/runs", json={"flowId": path_segment(flow_id, "flow_id"), "params": params})
        # POST /runs is answered bare {id, etag} in the OpenAPI spec and wrapped in items in the on-demand
        # ingestion guide: accept both.
        items = unwrap_items(body)
        if not items or not items[0].get("id"):
            raise FlowServiceError(f"POST /runs answered without a run id: {body!r}")
        return str(items[0]["id"])

    def retrigger_run(self, run_id: str) -> str:
        """Re-trigger a failed run (``POST /runs/{id}/action?op=RE_TRIGGER``); returns the new run id.

        The spec's enum spells it ``RE_TRIGGER``, Adobe's "Retry failed dataflow runs" guide
        ``re-trigger``: we send the spec's.
        """
        body = self.client.request(
            "POST", api_path("/runs/{run_id}/action", run_id=run_id), params=[("op", "RE_TRIGGER")], retry_safe=False
        )
        items = unwrap_items(body)
        if not items:
            raise FlowServiceError(f"re-trigger of run {run_id} answered without a run id: {body!r}")
        return str(items[0]["id"])

    # -- Data Prep: mapping sets (the Conversion Service) --------------------------------------
    #
    # Same token, headers, retries, error model and id checks as every Flow Service call: the requests
    # go through the same client, to absolute URLs under the connection's conversion_url.

    def _conversion(
        self,
        creds: FlowServiceCredentials,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        json: Any = None,
        retry_safe: bool | None = None,
    ) -> ApiRequest:
        """A Conversion Service request (``path`` built with :func:`api_path`) under ``creds.conversion_url``."""
        if not creds.conversion_url:
            raise FlowServiceConfigError(
                f"Connection '{self.flowservice_conn_id}' has no extra 'conversion_url', and its api_url "
                f"{creds.api_url!r} does not end with /flowservice, so the Data Prep (Conversion Service) URL "
                'cannot be derived: add "conversion_url": "https://platform.adobe.io/data/foundation/conversion" '
                "(or your gateway's equivalent) to the extra."
            )
        return ApiRequest(method, creds.conversion_url.rstrip("/") + path, tuple(params), json, {}, retry_safe)

    def _mapping_set_get(self, creds: FlowServiceCredentials, mapping_set_id: str, version: int | None) -> ApiRequest:
        path = api_path("/mappingSets/{mapping_set_id}", mapping_set_id=mapping_set_id)
        return self._conversion(creds, "GET", path, params=_version_param(version))

    def _mapping_set_put(self, creds: FlowServiceCredentials, mapping_set_id: str, body: Any) -> ApiRequest:
        path = api_path("/mappingSets/{mapping_set_id}", mapping_set_id=mapping_set_id)
        # PUT makes a new version: not blindly re-sent on a 5xx (a retried task compares the latest version first).
        return self._conversion(creds, "PUT", path, json=body, retry_safe=False)

    def create_mapping_set(self, body: dict[str, Any]) -> MappingSetRef:
        """``POST /mappingSets`` (``{outputSchema: {schemaRef}, mappings}``); returns ``{id, version: 0}``.

        A create: never blindly re-sent on a 5xx or a connection broken after sending.
        """
        return MappingSetRef.model_validate(
            self.client.send(self._conversion(self.credentials, "POST", "/mappingSets", json=body))
        )

    async def acreate_mapping_set(self, body: dict[str, Any]) -> MappingSetRef:
        """Async :meth:`create_mapping_set`."""
        client = await self.get_async_client()
        req = self._conversion(await self.acredentials(), "POST", "/mappingSets", json=body)
        return MappingSetRef.model_validate(await client.send(req))

    def get_mapping_set(self, mapping_set_id: str, version: int | None = None) -> MappingSet:
        """``GET /mappingSets/{id}`` (``?version=<n>`` for an older version; default the latest)."""
        return MappingSet.model_validate(
            self.client.send(self._mapping_set_get(self.credentials, mapping_set_id, version))
        )

    async def aget_mapping_set(self, mapping_set_id: str, version: int | None = None) -> MappingSet:
        """Async :meth:`get_mapping_set`."""
        client = await self.get_async_client()
        req = self._mapping_set_get(await self.acredentials(), mapping_set_id, version)
        return MappingSet.model_validate(await client.send(req))

    def validate_mapping_set(self, body: dict[str, Any]) -> MappingValidation:
        """``POST /mappingSets/validate``: one ``{status, errors}`` per mapping, in order (changes nothing)."""
        req = self._conversion(self.credentials, "POST", "/mappingSets/validate", json=body, retry_safe=True)
        return MappingValidation.model_validate(self.client.send(req))

    async def avalidate_mapping_set(self, body: dict[str, Any]) -> MappingValidation:
        """Async :meth:`validate_mapping_set`."""
        client = await self.get_async_client()
        req = self._conversion(await self.acredentials(), "POST", "/mappingSets/validate", json=body, retry_safe=True)
        return MappingValidation.model_validate(await client.send(req))

    def preview_mapping_set(self, body: dict[str, Any], rows: Sequence[Any]) -> list[PreviewRow]:
        """``POST /mappingSets/preview``: ``rows`` (sample source records) mapped by the set ``body``."""
        req = self._conversion(
            self.credentials,
            "POST",
            "/mappingSets/preview",
            json={"data": list(rows), "mappingSet": body},
            retry_safe=True,
        )
        return _preview_rows(self.client.send(req))

    async def apreview_mapping_set(self, body: dict[str, Any], rows: Sequence[Any]) -> list[PreviewRow]:
        """Async :meth:`preview_mapping_set`."""
        client = await self.get_async_client()
        req = self._conversion(
            await self.acredentials(),
            "POST",
            "/mappingSets/preview",
            json={"data": list(rows), "mappingSet": body},
            retry_safe=True,
        )
        return _preview_rows(await client.send(req))

    def update_mapping_set(self, mapping_set_id: str, body: dict[str, Any]) -> MappingSet:
        """``PUT /mappingSets/{id}``: replaces the set, which gets the next ``version``; returns the new version."""
        return MappingSet.model_validate(
            self.client.send(self._mapping_set_put(self.credentials, mapping_set_id, body))
        )

    async def aupdate_mapping_set(self, mapping_set_id: str, body: dict[str, Any]) -> MappingSet:
        """Async :meth:`update_mapping_set`."""
        client = await self.get_async_client()
        req = self._mapping_set_put(await self.acredentials(), mapping_set_id, body)
        return MappingSet.model_validate(await client.send(req))

    def _get_one(self, path: str, model: type[M], label: str, entity_id: str) -> M:
        items = unwrap_items(self.client.request("GET", path))
        if not items:
            raise FlowServiceNotFoundError(f"{label} {entity_id} was not found", status=404, method="GET", path=path)
        return model.model_validate(items[0])


def _version_param(version: int | None) -> list[tuple[str, str]]:
    if version is None:
        return []
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise FlowServiceConfigError(f"mapping_version: must be a whole number >= 0 (got {version!r})")
    return [("version", str(version))]


def _preview_rows(body: Any) -> list[PreviewRow]:
    """The rows of a preview answer.

    The spec's PreviewResponse is one ``{data, errors}`` object; Adobe's mapping-set guide answers a list
    of them, one per sample row: both are read.
    """
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return [PreviewRow.model_validate(item) for item in items if isinstance(item, dict)]


def _explain_test_failure(exc: FlowServiceError) -> str:
    from airflow_flowservice.exceptions import (
        FlowServiceAuthError,
        FlowServicePermissionError,
    )

    if isinstance(exc, FlowServiceConfigError):
        return str(exc)
    if isinstance(exc, FlowServiceTransportError):
        return f"Host unreachable ({exc.message}). Check the connection's ims_url / api_url and the network."
    if isinstance(exc, FlowServiceAuthError) and exc.method == "POST" and exc.code:
        return f"Bad client id or secret: {exc.message}"
    if isinstance(exc, FlowServiceAuthError):
        return f"Authentication failed: {exc}"
    if isinstance(exc, FlowServicePermissionError):
        return f"Org or permissions rejected (check extra 'org_id' and the product profile): {exc}"
    if exc.code and exc.code.startswith("2105"):
        return f"Sandbox rejected (check extra 'sandbox'): {exc}"
    if exc.status == 400 or exc.status == 404:
        return f"Request rejected (check extra 'org_id' and 'sandbox'): {exc}"
    return str(exc)
