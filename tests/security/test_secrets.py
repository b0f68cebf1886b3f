"""The client secret and the access token never leave the client, through Airflow.

A DAG creates a dataflow, triggers a run and waits for it (in the worker, and deferred to the trigger),
then a task logs the access token on purpose. It runs once per mode with ``dag.test()`` against an
emulator whose client secret is a known string; the tokens are the ones the emulator issued. The
secret and every token are then looked for in: the captured output and log records (DEBUG for httpx,
httpcore and airflow_flowservice), every XCom of the DAG run, the rendered template fields of every
task instance, the exception messages of failing tasks (bad secret -> IMS 401, Flow Service 404 and
403), and the trigger's serialized kwargs. Each scanned text is first shown to hold other output of the
same run (the Flow Service run id), so an empty capture cannot pass.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_flowservice.testing import FlowServiceEmulator
from tests.bad_input.conftest import DagOutcome, conn_json, run_dag_source

pytestmark = pytest.mark.integration

SECRET = "fs-Client-Secret-9f3Kq2xW"
WRONG_SECRET = "not-The-Secret-5tV8pL"
FLOW = "2edc08ac-4df5-4fe6-936f-81a19ce92f5c"
DEBUG_LOGGERS = ("httpx", "httpcore", "airflow_flowservice")
DELIBERATE = "airflow.task INFO token in a stdlib record: "  # the record the DAG's last task logs on purpose

RUN_DAG = """
import logging

import pendulum
from airflow.sdk import DAG, get_current_context, task
from airflow_flowservice.operators import FlowServiceCreateDataflowOperator, FlowServiceTriggerRunOperator

BIGQUERY = "3c9b37f8-13a6-43d8-bad3-b863b941fedd"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"

with DAG(
    "{dag_id}",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    default_args={{"on_failure_callback": record_failure}},
):
    create = FlowServiceCreateDataflowOperator(
        task_id="create",
        config={{
            "base_connection": {{
                "name": "bq account", "connection_spec_id": BIGQUERY, "auth_spec_name": "Basic Authentication",
                "auth_params": {{"project": "p", "clientId": "c", "clientSecret": "s", "refreshToken": "r"}},
            }},
            "source_connection": {{
                "name": "bq source", "connection_spec_id": BIGQUERY, "data": {{"format": "tabular"}},
                "params": {{"tableName": "sales.orders"}},
            }},
            "target_connection": {{
                "name": "lake target", "connection_spec_id": DATA_LAKE,
                "params": {{"dataSetId": "6155e3a9bd13651949515f14"}},
                "data": {{"format": "parquet_xdm", "schema": {{"id": "https://ns.adobe.com/acme/schemas/orders",
                          "version": "application/vnd.adobe.xed-full+json;version=1"}}}},
            }},
            "flow": {{
                "name": "orders flow {{{{ ds }}}}", "flow_spec_id": CRM_TO_AEP,
                "schedule_params": {{"start_time": "{{{{ data_interval_start.int_timestamp }}}}", "frequency": "once"}},
            }},
        }},
    )
    run = FlowServiceTriggerRunOperator(
        task_id="run",
        flow_id=create.output["flow_id"],
        window_start="{{{{ data_interval_start.int_timestamp - 86400 }}}}",
        window_end="{{{{ data_interval_start.int_timestamp }}}}",
        delta_column="updated_at",
        poll_interval=0.1,
        deferrable={deferrable},
    )

    @task
    def log_the_token():
        from airflow_flowservice.hooks.flowservice import FlowServiceHook

        token = FlowServiceHook().client.token()
        get_current_context()["task"].log.info("token in a task log: %s", token)
        logging.getLogger("airflow.task").info("token in a stdlib record: %s", token)

    create >> run >> log_the_token()
"""

ERRORS_DAG = f"""
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import FlowServiceSetFlowStateOperator, FlowServiceTriggerRunOperator

with DAG(
    "secret_errors",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    default_args={{"on_failure_callback": record_failure}},
):
    FlowServiceSetFlowStateOperator(task_id="bad_secret", flow_id="{FLOW}", state="enabled",
                                    flowservice_conn_id="fs_wrong_secret")
    FlowServiceTriggerRunOperator(task_id="unknown_flow", flow_id="{FLOW}", window_start=1704067200,
                                  window_end=1704153600)
    FlowServiceSetFlowStateOperator(task_id="other_org", flow_id="{FLOW}", state="enabled",
                                    flowservice_conn_id="fs_other_org")
"""

SANDBOX_DAG = f"""
import pendulum
from airflow.sdk import DAG
from airflow_flowservice.operators import FlowServiceCreateTargetConnectionOperator, FlowServiceTriggerRunOperator

with DAG(
    "secret_sandbox",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    default_args={{"on_failure_callback": record_failure}},
):
    FlowServiceCreateTargetConnectionOperator(
        task_id="no_sandbox", name="lake", connection_spec_id="c604ff05-7f1a-43c0-8e18-33bf874cb11c",
        connection_params={{"dataSetId": "6155e3a9bd13651949515f14"}}, flowservice_conn_id="fs_no_sandbox",
    )
    FlowServiceTriggerRunOperator(
        task_id="empty_sandbox", flow_id="{FLOW}", window_start=1704067200, window_end=1704153600,
        flowservice_conn_id="fs_empty_sandbox",
    )
"""


@dataclass
class Evidence:
    """Everything one DAG run left behind, as text to search."""

    outcome: DagOutcome
    emulator: FlowServiceEmulator
    printed: str  # stdout and stderr: what dag.test() shows (task logs included)
    records: list[str]  # every stdlib log record, unredacted, "logger LEVEL message"
    xcoms: dict[str, Any] = field(default_factory=dict)
    rendered: dict[str, Any] = field(default_factory=dict)
    trigger_kwargs: list[str] = field(default_factory=list)
    deferrable: bool = False

    @property
    def tokens(self) -> list[str]:
        """Every access token the emulator issued (``TokenAuthority`` keeps them; no public accessor)."""
        return self.emulator.issued_tokens()

    @property
    def logs(self) -> str:
        """The printed output and the records, minus the one record that logs the token on purpose."""
        kept = [r for r in self.records if not r.startswith(DELIBERATE)]
        return "\n".join([self.printed, *kept])

    def secrets(self) -> list[str]:
        """The client secret, every token, and each token's random signature part on its own."""
        return [SECRET, *self.tokens, *(t.rsplit(".", 1)[1] for t in self.tokens)]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


@contextlib.contextmanager
def captured() -> Iterator[list[str]]:
    """Yields ``[printed, *records]`` once done: stdout + stderr, then every log record (DEBUG for httpx,
    httpcore, airflow_flowservice)."""
    out, err, handler = io.StringIO(), io.StringIO(), _Records()
    loggers = [logging.getLogger(name) for name in DEBUG_LOGGERS]
    levels = [lg.level for lg in loggers]
    root = logging.getLogger()
    root.addHandler(handler)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
    text: list[str] = []
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield text
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
            lg.removeHandler(handler)
        root.removeHandler(handler)
        text.extend([out.getvalue() + err.getvalue(), *handler.lines])


def _xcoms(outcome: DagOutcome) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=outcome.dag_id, run_id=outcome.run_id).all()
        return {f"{r.task_id}.{r.key}": XComModel.deserialize_value(r) for r in rows}


def _rendered(outcome: DagOutcome) -> dict[str, Any]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=outcome.dag_id, run_id=outcome.run_id).all()
        return {ti.task_id: RenderedTaskInstanceFields.get_templated_fields(ti, session=session) for ti in tis}


def _text(value: Any) -> str:
    return json.dumps(value, default=str)


def _env(emu: FlowServiceEmulator, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("AIRFLOW_CONN_FLOWSERVICE_DEFAULT", emu.connection_uri())
    mp.setenv("AIRFLOW_CONN_FS_WRONG_SECRET", conn_json(emu, password=WRONG_SECRET))
    mp.setenv("AIRFLOW_CONN_FS_OTHER_ORG", conn_json(emu, extra={"org_id": "OTHER0000000000000000000@AdobeOrg"}))
    mp.setenv("AIRFLOW_CONN_FS_NO_SANDBOX", conn_json(emu, extra={"sandbox": None}))
    mp.setenv("AIRFLOW_CONN_FS_EMPTY_SANDBOX", conn_json(emu, extra={"sandbox": ""}))


def _record_deferrals(mp: pytest.MonkeyPatch, sink: list[str]) -> None:
    """Keep what a deferring task sends (``DeferTask``: classpath and serialized trigger kwargs) and the event."""
    import airflow.sdk.definitions.dag as dag_module
    import airflow.sdk.execution_time.supervisor as supervisor
    from airflow.sdk.execution_time.comms import DeferTask

    run_task = supervisor.run_task_in_process
    run_trigger = dag_module._run_inline_trigger

    def recording_run_task(*args: Any, **kwargs: Any) -> Any:
        result = run_task(*args, **kwargs)
        if isinstance(result.msg, DeferTask):
            sink.append(result.msg.model_dump_json())
        return result

    def recording_run_trigger(trigger: Any, ti: Any) -> Any:
        sink.append(_text(trigger.serialize()))
        event = run_trigger(trigger, ti)  # type: ignore[no-untyped-call]
        sink.append(_text(event.payload if event is not None else None))
        return event

    mp.setattr(supervisor, "run_task_in_process", recording_run_task)
    mp.setattr(dag_module, "_run_inline_trigger", recording_run_trigger)


def _run(dag_id: str, source: str, tmp: Path, deferrals: list[str] | None = None) -> Evidence:
    from airflow_flowservice.auth import TOKEN_CACHE

    TOKEN_CACHE.clear()  # module fixtures run before the suite's per-test cache reset
    emu = FlowServiceEmulator(client_secret=SECRET, run_timeline=(0.2, 0.5))
    emu.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            _env(emu, mp)
            if deferrals is not None:
                _record_deferrals(mp, deferrals)
            with captured() as text:
                outcome = run_dag_source(dag_id, source, tmp)
            outcome.requests = emu.requests.snapshot()
        return Evidence(outcome=outcome, emulator=emu, printed=text[0], records=text[1:])
    finally:
        emu.stop()
        TOKEN_CACHE.clear()


@pytest.fixture(scope="module", params=[False, True], ids=["worker", "deferrable"])
def run_evidence(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    deferrable: bool = request.param
    dag_id = "secret_run_deferred" if deferrable else "secret_run_worker"
    deferrals: list[str] = []
    evidence = _run(
        dag_id, RUN_DAG.format(dag_id=dag_id, deferrable=deferrable), tmp_path_factory.mktemp(dag_id), deferrals
    )
    evidence.xcoms = _xcoms(evidence.outcome)
    evidence.rendered = _rendered(evidence.outcome)
    evidence.trigger_kwargs = deferrals
    evidence.deferrable = deferrable
    assert evidence.outcome.states == dict.fromkeys(("create", "run", "log_the_token"), "success"), evidence.outcome
    return evidence


@pytest.fixture(scope="module")
def error_evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    return _run("secret_errors", ERRORS_DAG, tmp_path_factory.mktemp("secret_errors"))


def _run_id(evidence: Evidence) -> str:
    run_id = evidence.xcoms["run.return_value"]
    assert isinstance(run_id, str) and len(run_id) == 36
    return run_id


def _leaks(evidence: Evidence, text: str) -> list[str]:
    return [s for s in evidence.secrets() if s in text]


# -- the run DAG -------------------------------------------------------------------------------------------------


def test_the_secret_and_tokens_are_known_strings(run_evidence: Evidence) -> None:
    assert run_evidence.emulator.client_secret == SECRET
    assert run_evidence.tokens, "the emulator issued no token: nothing was tested"
    token_requests = [r for r in run_evidence.outcome.requests if r.path == "/ims/token/v3"]
    assert token_requests and all(r.status == 200 for r in token_requests)  # the secret was sent, and accepted
    assert len(run_evidence.tokens) == len(token_requests)


def test_no_secret_or_token_in_debug_logs(run_evidence: Evidence) -> None:
    logs = run_evidence.logs
    assert _run_id(run_evidence) in logs  # the capture holds the run's output ...
    assert "connect_tcp.started" in logs  # ... down to httpcore's DEBUG records
    assert "HTTP Request: POST" in logs
    assert _leaks(run_evidence, logs) == []


def test_the_token_is_registered_with_the_secret_masker(run_evidence: Evidence) -> None:
    from airflow.sdk.log import redact  # type: ignore[attr-defined]  # what the task log processor applies

    # The task logger printed it redacted. (Airflow's structlog set-up also rewrites anything shaped like a
    # JWT to "eyJ***", and IMS tokens are JWTs, so this line alone does not prove the registration.)
    (line,) = [ln for ln in run_evidence.printed.splitlines() if "token in a task log: " in ln]
    assert "token in a task log: eyJ***" in line or "token in a task log: ***" in line
    assert _leaks(run_evidence, line) == []
    # The registration itself: the secrets masker (no JWT rule; what Airflow's mask_logs processor applies
    # to every record of a task) turns the record the task logged into "***".
    deliberate = [r for r in run_evidence.records if r.startswith(DELIBERATE)]
    assert len(deliberate) == 1
    token = deliberate[0].removeprefix(DELIBERATE)
    assert token in run_evidence.tokens  # the record does hold a real token ...
    assert redact(deliberate[0]) == DELIBERATE + "***"  # ... which the masker knows


def test_no_secret_or_token_in_xcom(run_evidence: Evidence) -> None:
    text = _text(run_evidence.xcoms)
    assert _run_id(run_evidence) in text
    assert {"create.flow_id", "run.run_id", "run.metrics", "run.flowservice_run_url"} <= set(run_evidence.xcoms)
    assert _leaks(run_evidence, text) == []


def test_no_secret_or_token_in_rendered_template_fields(run_evidence: Evidence) -> None:
    rendered = run_evidence.rendered
    assert set(rendered) == {"create", "run", "log_the_token"}
    text = _text(rendered)
    assert run_evidence.xcoms["create.flow_id"] in text  # the rendered flow_id of the run task
    assert "orders flow 2024-01-02" in text and "1704067200" in text
    assert _leaks(run_evidence, text) == []


def test_no_secret_or_token_in_trigger_kwargs(run_evidence: Evidence) -> None:
    if not run_evidence.deferrable:
        assert run_evidence.trigger_kwargs == []  # the worker mode polled: nothing was deferred
        return
    text = "\n".join(run_evidence.trigger_kwargs)
    assert "airflow_flowservice.triggers.run.FlowServiceRunTrigger" in text
    assert _run_id(run_evidence) in text
    assert _leaks(run_evidence, text) == []


# -- exception messages --------------------------------------------------------------------------------------


def test_error_messages_carry_no_secret_or_token(error_evidence: Evidence) -> None:
    errors = error_evidence.outcome.errors
    assert set(errors) == {"bad_secret", "unknown_flow", "other_org"}
    assert errors["bad_secret"] == (
        "FlowServiceAuthError",
        f"POST {error_evidence.emulator.ims_url} HTTP 401 [invalid_client]: IMS refused the token request "
        "(invalid_client: invalid client_secret parameter); check the connection's login (client id) and password "
        "(client secret).",
    )
    assert errors["unknown_flow"][0] == "FlowServiceNotFoundError"
    assert (
        f"POST /runs HTTP 404 [1439-404]: The requested flows resource {FLOW} is not found" in errors["unknown_flow"][1]
    )
    assert errors["other_org"][0] == "FlowServicePermissionError"
    assert "HTTP 403" in errors["other_org"][1]
    assert error_evidence.tokens  # unknown_flow and other_org got tokens: there is something to leak
    text = _text(errors)
    assert [s for s in (*error_evidence.secrets(), WRONG_SECRET) if s in text] == []


def test_error_runs_log_no_secret_or_token(error_evidence: Evidence) -> None:
    logs = error_evidence.logs
    assert f"/flows/{FLOW}" in logs and "invalid_client" in logs
    assert [s for s in (*error_evidence.secrets(), WRONG_SECRET) if s in logs] == []


# -- no call without an explicit sandbox ---------------------------------------------------------------------


def test_no_call_without_an_explicit_sandbox(tmp_path_factory: pytest.TempPathFactory) -> None:
    evidence = _run("secret_sandbox", SANDBOX_DAG, tmp_path_factory.mktemp("secret_sandbox"))
    fix = 'add "sandbox": "<name>" to the extra (there is no default: name the production sandbox explicitly).'
    assert evidence.outcome.errors == {
        "no_sandbox": ("FlowServiceConfigError", f"Connection 'fs_no_sandbox' has no extra 'sandbox': {fix}"),
        "empty_sandbox": ("FlowServiceConfigError", f"Connection 'fs_empty_sandbox' has no extra 'sandbox': {fix}"),
    }
    assert evidence.outcome.requests == []  # not even a token
    assert evidence.tokens == []
