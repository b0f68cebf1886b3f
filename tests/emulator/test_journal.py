"""The I/O Events journal: conformance with Adobe's Journaling API guide, the flow-run notifications of
Experience Platform's "Flow run notifications" page, and the journal's control calls.

Sources: AdobeDocs/adobeio-events ``api/journaling_api.md`` (reading: oldest / ``since`` / ``latest`` /
``limit``, the ``Link: rel="next"`` header, ``204`` + ``retry-after`` at the end, ``410 Gone`` past the
retention, the ``x-ims-org-id`` header) and AdobeDocs/experience-platform.en ``help/sources/notifications.md``
(the success and failure payload examples).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_flowservice.testing import FlowServiceEmulator

from .conftest import T0, Api, make_s3_chain

DAY = 86400
DEFAULT_PATH = "/events/organizations/emulator-consumer-org/integrations/emulator-integration/emulator-flow-runs"
LINK = re.compile(r'^<([^>]+)>; rel="next"$')


class JournalClient:
    """Reads a journal the way the Journaling API guide's curl examples do (deliberately not the provider's client)."""

    def __init__(self, api: Api, url: str | None = None) -> None:
        self.api = api
        self.url = url or api.emu.journal_url
        self.http = httpx.Client(timeout=10.0)

    def headers(self, **extra: str) -> dict[str, str]:
        h = {
            "Authorization": f"Bearer {self.api.token}",
            "x-api-key": self.api.emu.client_id,
            "x-ims-org-id": self.api.emu.org_id,
        }
        h.update(extra)
        return h

    def get(self, url: str | None = None, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        return self.http.get(url or self.url, params=params or None, headers=headers or self.headers())

    def page(self, url: str | None = None, **params: Any) -> tuple[list[dict[str, Any]], str]:
        """``(events, next link)`` of a read that must answer 200."""
        r = self.get(url, **params)
        assert r.status_code == 200, (r.status_code, r.text)
        body = r.json()
        assert set(body) == {"events", "_page"}
        assert body["_page"] == {"last": body["events"][-1]["position"], "count": len(body["events"])}
        return body["events"], next_link(r)

    def end(self, url: str | None = None, **params: Any) -> str:
        """The next link of a read that must answer 204 (the end of the journal)."""
        r = self.get(url, **params)
        assert r.status_code == 204, (r.status_code, r.text)
        assert r.content == b""
        assert r.headers["retry-after"] == "1"
        return next_link(r)

    def close(self) -> None:
        self.http.close()


def next_link(response: httpx.Response) -> str:
    match = LINK.match(response.headers["link"])
    assert match, response.headers["link"]
    return match.group(1)


def since_of(link: str) -> str:
    return str(httpx.URL(link).params["since"])


@pytest.fixture
def journal(api: Api) -> Iterator[JournalClient]:
    client = JournalClient(api)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def admin(emu: FlowServiceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url + "/_emulator") as client:
        yield client


def _run(api: Api, flow: str, start: int = T0 - DAY, end: int = T0, **params: Any) -> str:
    body = {"flowId": flow, "params": {"windowStartTime": start, "windowEndTime": end, **params}}
    return str(api.ok("POST", "/runs", 201, json=body)["id"])


def _runs(api: Api, flow: str, count: int) -> list[str]:
    """``count`` runs of ``flow``, created one second apart (so they finish in creation order)."""
    ids = []
    for k in range(count):
        ids.append(_run(api, flow, T0 - (k + 1) * DAY, T0 - k * DAY))
        api.emu.clock.advance(1)
    return ids


def run_of(event: Any) -> dict[str, Any]:
    """The run a notification carries, in either of Adobe's envelopes."""
    if isinstance(event, list):
        return dict(event[0]["messages"][0]["value"])
    return {
        k: v
        for k, v in event["event"].items()
        if k not in ("header", "slaCreatedAt", "processStartTime", "transformedTime")
    }


def run_ids(events: list[dict[str, Any]]) -> list[str]:
    return [run_of(e["event"])["id"] for e in events]


# ---- where the journal is ------------------------------------------------------------------------


def test_one_journal_per_registration_on_the_emulators_host(emu: FlowServiceEmulator) -> None:
    assert emu.journal_url == emu.base_url + DEFAULT_PATH
    assert emu.registrations() == [
        {
            "consumer_org_id": "emulator-consumer-org",
            "integration_id": "emulator-integration",
            "registration_id": "emulator-flow-runs",
            "event_codes": ["sources_flow_run_success", "sources_flow_run_failure"],
            "path": DEFAULT_PATH,
        }
    ]


# ---- reading (the Journaling API guide) ------------------------------------------------------------


def test_an_empty_journal_answers_204_with_retry_after_and_a_next_link(journal: JournalClient) -> None:
    oldest = journal.end()
    assert oldest.startswith(journal.url + "?since=")
    assert journal.end(latest="true") == oldest  # the end of an empty journal
    assert journal.end(oldest) == oldest  # at the end, the next link is the request itself


def test_reading_from_the_oldest_follows_next_links_to_the_end(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    runs = _runs(api, flow, 3)
    api.emu.clock.advance(5)
    events, link = journal.page()  # no query: from the oldest event kept
    assert run_ids(events) == runs
    assert link == f"{journal.url}?since={events[-1]['position']}"  # absolute, since = _page.last
    assert journal.end(link) == link  # nothing newer yet: 204, the same link again
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == 3  # unique, increasing

    newer = _run(api, flow)
    api.emu.clock.advance(5)
    events, following = journal.page(link)  # the same link, once an event arrived: 200
    assert run_ids(events) == [newer]
    assert since_of(following) == events[0]["position"] > positions[-1]


def test_limit_bounds_a_page_and_stays_in_the_next_link(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    runs = _runs(api, flow, 3)
    api.emu.clock.advance(5)
    first, link = journal.page(limit=2)
    assert run_ids(first) == runs[:2]
    assert link == f"{journal.url}?since={first[-1]['position']}&limit=2"
    second, link = journal.page(link)
    assert run_ids(second) == runs[2:]
    assert link.endswith("&limit=2")
    assert journal.end(link) == link
    one, _ = journal.page(since=first[0]["position"], limit=1)
    assert run_ids(one) == [runs[1]]


def test_the_default_limit_is_100(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    for _ in range(101):
        _run(api, flow)
    api.emu.clock.advance(5)
    events, link = journal.page()
    assert len(events) == 100
    rest, _ = journal.page(link)
    assert len(rest) == 1


def test_latest_jumps_to_the_end(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    _runs(api, flow, 2)
    api.emu.clock.advance(5)
    link = journal.end(latest="true")  # "events from now onward"
    assert journal.end(link) == link
    later = _run(api, flow)
    api.emu.clock.advance(5)
    events, _ = journal.page(link)
    assert run_ids(events) == [later]
    limited = journal.end(latest="true", limit=5)
    assert limited.endswith("&limit=5")


def test_every_finished_run_is_an_event_in_completion_order_even_unread(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    late = _run(api, flow, startTime=T0 + 60)  # created first, finishes last (starts in a minute)
    early = _run(api, flow)
    api.emu.clock.advance(1)
    assert journal.end() == journal.end(latest="true")  # none finished yet: inProgress runs are not events
    api.emu.clock.advance(120)  # nobody reads the runs
    events, _ = journal.page()
    assert run_ids(events) == [early, late]
    assert [c.path for c in api.emu.calls(method="GET") if c.path.startswith("/runs")] == []


def test_scheduled_runs_become_events_without_any_read(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api, schedule={"startTime": T0 + 60, "frequency": "minute", "interval": 15})["flow"]
    api.emu.clock.advance(60 + 15 * 60 + 5)  # two boundaries passed, both runs finished
    events, _ = journal.page()
    assert [run_of(e["event"])["flowId"] for e in events] == [flow, flow]
    assert [run_of(e["event"])["params"]["windowEndTime"] for e in events] == [T0 + 60, T0 + 960]


# ---- payloads (Experience Platform, "Flow run notifications") -------------------------------------


def test_a_successful_run_is_adobes_success_example(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    run = _run(api, flow)
    api.emu.clock.advance(5)
    (item,) = journal.page()[0]
    note = item["event"]
    assert list(note) == ["event_id", "event"]
    uuid.UUID(note["event_id"])
    event = note["event"]
    assert event["header"] == {
        "_adobeio": {
            "imsOrgId": api.emu.org_id,
            "providerMetadata": "aep_observability_catalog_events",
            "eventCode": "sources_flow_run_success",
        }
    }
    assert event["slaCreatedAt"] == event["processStartTime"] == event["transformedTime"] == (T0 + 2) * 1000
    assert run_of(note) == api.item(f"/runs/{run}")  # the run document, as GET /runs/{id} returns it
    assert (event["sandboxName"], event["imsOrgId"]) == ("dev", api.emu.org_id)
    assert event["sandboxId"] and event["flowId"] == flow
    assert event["metrics"]["statusSummary"] == {"status": "success"}


def test_a_failed_run_is_adobes_failure_envelope(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.run_outcome(flow_id=flow, kind="failed", times=1)
    run = _run(api, flow)
    api.emu.clock.advance(5)
    (item,) = journal.page()[0]
    note = item["event"]
    assert isinstance(note, list) and len(note) == 1 and list(note[0]) == ["messages"]
    (message,) = note[0]["messages"]
    assert {k: v for k, v in message.items() if k != "value"} == {
        "msgType": "eventNotification",
        "version": "1.0",
        "timestamp": (T0 + 2) * 1000,
        "imsOrgId": api.emu.org_id,
        "schema": {"name": "run-notification", "version": "1.0"},
        "provider": "FlowService",
        "_eventNotificationMeta": {"category": "Platform Notifications", "type": "sources_flow_run_failed"},
    }
    assert message["value"] == api.item(f"/runs/{run}")
    assert message["value"]["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-1001-500"
    assert "event_id" not in note[0] and "event_id" not in message  # as Adobe's failure example


def test_partial_ingestion_is_a_success_that_lists_its_errors(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.run_outcome(flow_id=flow, kind="failed_records", failed_records=3, times=1)
    _run(api, flow)
    api.emu.clock.advance(5)
    (item,) = journal.page()[0]
    event = item["event"]["event"]
    assert event["header"]["_adobeio"]["eventCode"] == "sources_flow_run_success"
    assert event["metrics"]["statusSummary"]["errors"][0]["code"] == "CONNECTOR-2001-500"


def test_the_providers_parser_reads_both_envelopes(api: Api, journal: JournalClient) -> None:
    """The contract with the provider: ``journal_pages.parse_journal_answer`` reads what the emulator answers."""
    from airflow_flowservice.client import Answer
    from airflow_flowservice.journal_pages import parse_journal_answer

    def parse(response: httpx.Response) -> Any:
        return parse_journal_answer(Answer(response.status_code, response.headers, response.content), str(response.url))

    flow = make_s3_chain(api)["flow"]
    ok = _run(api, flow)
    api.emu.run_outcome(flow_id=flow, kind="failed", times=1)
    api.emu.clock.advance(1)
    failed = _run(api, flow)
    api.emu.clock.advance(5)
    page = parse(journal.get(limit=5))
    assert [(e.run_id, e.flow_id, e.code) for e in page.events] == [
        (ok, flow, "sources_flow_run_success"),
        (failed, flow, "sources_flow_run_failed"),
    ]
    assert page.events[0].event_id == journal.page()[0][0]["event"]["event_id"]
    assert page.events[1].event_id.startswith("derived-")  # the failure example carries no id
    assert page.events[1].run is not None and page.events[1].run["metrics"]["statusSummary"]["status"] == "failed"
    assert page.last == page.events[-1].position
    assert page.next_url == f"{journal.url}?since={page.last}&limit=5" and page.retry_after is None
    end = parse(journal.get(page.next_url))
    assert (end.events, end.next_url, end.retry_after) == ([], page.next_url, 1.0)


def test_the_providers_hook_reads_the_journal(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's headers (``x-ims-org-id`` beside the gateway's) pass the journal's checks."""
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

    for key, value in api.emu.connection_env(journal=True).items():
        monkeypatch.setenv(key, value)
    hook = FlowServiceHook()
    assert hook.journal_url == api.emu.journal_url
    run = _run(api, make_s3_chain(api)["flow"])
    api.emu.clock.advance(5)
    page = hook.read_journal(hook.journal_url)
    assert [e.run_id for e in page.events] == [run]


# ---- the checks of a journal read ------------------------------------------------------------------


def test_auth_headers_are_the_journaling_apis(api: Api, journal: JournalClient) -> None:
    def status(headers: dict[str, str]) -> tuple[int, str]:
        r = journal.get(headers=headers)
        return r.status_code, r.json()["error_code"] if r.content else ""

    h = journal.headers()
    assert journal.get().status_code == 204
    assert status({k: v for k, v in h.items() if k != "Authorization"}) == (401, "401013")
    assert status({**h, "Authorization": "Bearer not-a-token"}) == (401, "401013")
    assert status({k: v for k, v in h.items() if k != "x-api-key"}) == (403, "403000")
    assert status({**h, "x-api-key": "someone-else"}) == (403, "403003")
    gateway_org = {k: v for k, v in h.items() if k != "x-ims-org-id"} | {"x-gw-ims-org-id": api.emu.org_id}
    assert status(gateway_org) == (400, "400003")  # the journal reads x-ims-org-id, not x-gw-ims-org-id
    assert status({**h, "x-ims-org-id": "OTHER@AdobeOrg"})[0] == 403
    api.emu.expire_tokens()
    assert status(h) == (401, "401013")


def test_unknown_registrations_positions_and_limits_are_refused(api: Api, journal: JournalClient) -> None:
    base = api.emu.base_url
    assert (
        journal.get(
            f"{base}/events/organizations/emulator-consumer-org/integrations/emulator-integration/nope"
        ).status_code
        == 404
    )
    assert (
        journal.get(
            f"{base}/events/organizations/other/integrations/emulator-integration/emulator-flow-runs"
        ).status_code
        == 404
    )
    assert journal.get(since="not-a-position").status_code == 400
    assert journal.get(since="000000000000.0000.0000000000").status_code == 400  # a forged position
    for bad in ("0", "-1", "x"):
        assert journal.get(limit=bad).status_code == 400


# ---- retention and 410 ------------------------------------------------------------------------------


def test_a_position_past_the_retention_answers_410(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    _runs(api, flow, 2)
    api.emu.clock.advance(5)
    _, behind = journal.page(limit=1)  # a reader that has read the first event only
    _, caught_up = journal.page(behind)  # and one that has read both
    api.emu.clock.advance(7 * DAY)  # both events are 7 days old: the guide's retention
    api.token = api.fetch_token()  # the token of a week ago has expired too
    r = journal.get(behind)
    assert r.status_code == 410  # the second event expired before this reader got it
    assert r.json() == {"error_code": "410", "message": f"Events at position {since_of(behind)} have expired."}
    assert journal.end(caught_up) == caught_up  # nothing was lost after this position
    assert journal.get().status_code == 204  # no query: the oldest kept, and none is kept


def test_expire_positions_makes_every_position_handed_out_answer_410(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    _runs(api, flow, 2)
    api.emu.clock.advance(5)
    events, end_link = journal.page()
    first = f"{journal.url}?since={events[0]['position']}"
    api.emu.expire_positions()
    assert journal.get(first).status_code == 410
    assert journal.get(end_link).status_code == 410  # the end position too: it was handed out
    fresh = journal.end(latest="true")
    assert fresh != end_link
    assert journal.end() == fresh  # the expired events are gone
    later = _run(api, flow)
    api.emu.clock.advance(5)
    assert run_ids(journal.page(fresh)[0]) == [later]


# ---- control calls ----------------------------------------------------------------------------------


def test_drop_events_loses_the_next_ones_optionally_of_one_flow(api: Api, journal: JournalClient) -> None:
    flow, other = make_s3_chain(api)["flow"], make_s3_chain(api, name="other")["flow"]
    api.emu.drop_events(1, flow_id=flow)
    lost = _run(api, flow)
    api.emu.clock.advance(1)
    kept_other = _run(api, other)
    api.emu.clock.advance(1)
    kept = _run(api, flow)
    api.emu.clock.advance(5)
    assert run_ids(journal.page()[0]) == [kept_other, kept]
    assert lost not in run_ids(api.emu.journal_events())


def test_drop_events_does_not_reach_back_to_runs_finished_before(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    before = _run(api, flow)
    api.emu.clock.advance(5)  # finished, though nobody read it yet
    api.emu.drop_events(1)
    after = _run(api, flow)
    api.emu.clock.advance(5)
    assert run_ids(journal.page()[0]) == [before]
    assert after not in run_ids(api.emu.journal_events())


def test_duplicate_events_writes_the_same_event_twice(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.duplicate_events(1)
    twice = _run(api, flow)
    api.emu.clock.advance(1)
    once = _run(api, flow)
    api.emu.clock.advance(5)
    events, _ = journal.page()
    assert run_ids(events) == [twice, twice, once]
    assert events[0]["event"] == events[1]["event"]  # same event_id
    assert events[0]["position"] != events[1]["position"]


def test_reorder_events_delivers_the_next_ones_in_another_order(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.reorder_events(3)
    runs = _runs(api, flow, 4)
    api.emu.clock.advance(5)
    assert run_ids(journal.page()[0]) == [runs[2], runs[1], runs[0], runs[3]]


def test_held_events_are_written_when_the_rules_are_cleared(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    api.emu.reorder_events(3)
    runs = _runs(api, flow, 2)
    api.emu.clock.advance(5)
    assert journal.end() == journal.end(latest="true")  # held: two of the three arrived
    api.emu.clear_journal_rules()
    assert run_ids(journal.page()[0]) == runs  # as they came
    with pytest.raises(ValueError, match="at least 2"):
        api.emu.reorder_events(1)


def test_set_journal_retry_after(api: Api, journal: JournalClient) -> None:
    api.emu.set_journal_retry_after(5)
    assert journal.get().headers["retry-after"] == "5"
    api.emu.set_journal_retry_after(0.5)
    assert journal.get().headers["retry-after"] == "0.5"
    with pytest.raises(ValueError, match=">= 0"):
        api.emu.set_journal_retry_after(-1)


def test_add_registration_has_its_own_journal_from_now_on(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    before = _run(api, flow)
    api.emu.clock.advance(5)
    url = api.emu.add_registration("failures-only", integration_id="54108", event_codes=["sources_flow_run_failure"])
    assert url == f"{api.emu.base_url}/events/organizations/emulator-consumer-org/integrations/54108/failures-only"
    api.emu.run_outcome(flow_id=flow, kind="failed", times=1)
    failed = _run(api, flow)
    api.emu.clock.advance(1)
    ok = _run(api, flow)
    api.emu.clock.advance(5)
    second = JournalClient(journal.api, url)
    try:
        assert run_ids(second.page()[0]) == [failed]
    finally:
        second.close()
    assert run_ids(journal.page()[0]) == [before, failed, ok]
    assert run_ids(api.emu.journal_events("failures-only")) == [failed]
    api.emu.drop_events(1, registration_id="failures-only")
    with pytest.raises(ValueError, match="exists"):
        api.emu.add_registration("failures-only")
    with pytest.raises(KeyError):
        api.emu.expire_positions(registration_id="no-such-registration")
    generated = api.emu.add_registration()
    uuid.UUID(generated.rsplit("/", 1)[1])


def test_journal_reads_appear_in_the_request_log(api: Api, journal: JournalClient) -> None:
    link = journal.end(limit=3)
    journal.get(link)
    reads = api.emu.calls(method="GET", path_prefix="/events")
    assert [(r.path, r.query, r.status) for r in reads] == [
        (DEFAULT_PATH, "limit=3", 204),
        (DEFAULT_PATH, f"since={since_of(link)}&limit=3", 204),
    ]


def test_gateway_faults_apply_to_the_journal(api: Api, journal: JournalClient) -> None:
    api.emu.faults.add(method="GET", path="/events/*", kind="status", status=503, times=1)
    assert journal.get().status_code == 503
    assert journal.get().status_code == 204
    assert [r.fault for r in api.emu.calls(path_prefix="/events")] == ["status", None]


def test_reset_empties_the_journal_and_forgets_added_registrations(api: Api, journal: JournalClient) -> None:
    flow = make_s3_chain(api)["flow"]
    old_link = journal.end(latest="true")
    _run(api, flow)
    api.emu.clock.advance(5)
    api.emu.add_registration("extra")
    api.emu.set_journal_retry_after(9)
    api.emu.reorder_events(2)
    api.emu.reset()
    assert [r["registration_id"] for r in api.emu.registrations()] == ["emulator-flow-runs"]
    assert api.emu.journal_events() == []
    journal.end()  # empty, and retry-after back to 1
    assert journal.end(old_link) == old_link  # a position from before the reset still reads on
    flow = make_s3_chain(api)["flow"]
    after = _run(api, flow)
    api.emu.clock.advance(5)
    assert run_ids(journal.page(old_link)[0]) == [after]  # no rule left


def test_admin_endpoints_steer_the_journal(api: Api, journal: JournalClient, admin: httpx.Client) -> None:
    flow = make_s3_chain(api)["flow"]
    assert admin.post("/events/drop", json={"n": 1, "flow_id": flow}).json() == {
        "kind": "drop",
        "n": 1,
        "flow_id": flow,
        "used": 0,
        "held": 0,
    }
    assert admin.post("/events/duplicate", json={"n": 1}).status_code == 201
    assert admin.post("/events/reorder", json={"n": 2}).status_code == 201
    # the first run's event is dropped; the second's is doubled and held; the third's releases the reorder
    _, doubled, swapped, last = _runs(api, flow, 4)
    api.emu.clock.advance(5)
    state = admin.get("/events").json()
    assert state["journal_url"] == api.emu.journal_url and state["rules"] == []
    assert run_ids(state["events"]) == [swapped, doubled, doubled, last]
    assert state["events"] == api.emu.journal_events()

    link = f"{journal.url}?since={state['events'][0]['position']}"
    assert admin.post("/events/expire", json={}).status_code == 204
    assert journal.get(link).status_code == 410
    assert admin.post("/events/retry-after", json={"seconds": 3}).json() == {"retry_after": 3.0}
    assert journal.get().headers["retry-after"] == "3"
    assert admin.post("/events/reorder", json={"n": 5}).status_code == 201
    assert admin.post("/events/clear-rules", json={}).status_code == 204
    assert admin.get("/events").json()["rules"] == []

    created = admin.post(
        "/registrations", json={"registration_id": "second", "event_codes": ["sources_flow_run_success"]}
    )
    assert created.status_code == 201
    assert (
        created.json()["journal_url"]
        == f"{api.emu.base_url}/events/organizations/emulator-consumer-org/integrations/emulator-integration/second"
    )
    listed = admin.get("/registrations").json()["registrations"]
    assert [r["registration_id"] for r in listed] == ["emulator-flow-runs", "second"]
    assert admin.get("/events", params={"registration_id": "second"}).json()["events"] == []

    assert admin.post("/registrations", json={"registration_id": "second"}).status_code == 400
    assert admin.post("/registrations", json={"event_codes": ["nope"]}).status_code == 400
    assert admin.post("/events/drop", json={"n": 0}).status_code == 400
    assert admin.post("/events/drop", json={"registration_id": "nope"}).status_code == 404
    assert admin.post("/events/retry-after", json={}).status_code == 400
    assert admin.post("/events/other", json={}).status_code == 404
    assert admin.get("/events", params={"registration_id": "nope"}).status_code == 404
    assert not any(c.path.startswith("/_emulator") for c in api.emu.calls())
