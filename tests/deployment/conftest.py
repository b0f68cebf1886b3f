"""A real Airflow deployment for the ``deployment`` tier: separate processes, as a user runs them.

One deployment per test session: the bundled emulator (``python -m airflow_flowservice.testing.emulator``)
and Airflow's ``api-server``, ``scheduler`` (LocalExecutor), ``dag-processor`` and ``triggerer``, each
a process of its own in a temporary AIRFLOW_HOME with a SQLite metadata DB (Airflow 3 runs the
LocalExecutor on SQLite, as ``airflow standalone`` does), on free ports, with the DAGs of
``tests/deployment/dags`` (copied into the temporary directory, so that a scenario can deploy a DAG file
of its own: :meth:`Deployment.deploy_dag`).

The emulator finishes runs :data:`RUN_SECONDS` after their creation on its clock, so runs stay
``inProgress`` until a test moves that clock (:meth:`Deployment.finish_runs`): a test decides
exactly when the runs it waits on finish (a triggerer restart, a killed task) instead of racing them.

Every process started here carries the environment variable ``FLOWSERVICE_DEPLOYMENT=<token>`` (so
do their children: LocalExecutor workers, task supervisors and task processes, which run in process
groups of their own). Teardown stops each component's process group with SIGTERM, then SIGKILL, then
any process still carrying the token, and removes the temporary directory, also when a test failed
(``FLOWSERVICE_DEPLOYMENT_KEEP=1`` keeps it, to read the component and task logs).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import httpx
import psutil
import pytest

DAGS = Path(__file__).resolve().parent / "dags"
MARKER = "FLOWSERVICE_DEPLOYMENT"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: A run finishes this many seconds after its creation, on the emulator's clock (see finish_runs).
RUN_SECONDS = 300
#: The flows the DAGs run, one per scenario so that its runs can be counted alone (Airflow variables).
FLOWS = ("flow_deferred", "flow_worker", "flow_backfill", "flow_failing", "flow_race")
#: The DAGs of tests/deployment/dags.
DAG_IDS = ("deploy_deferred", "deploy_worker", "deploy_backfill", "deploy_errors", "deploy_race_a", "deploy_race_b")
#: The pool of one slot the race DAGs run in (named in tests/deployment/dags/deployment_dags.py).
RACE_POOL = "flowservice_race"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deployment:
    """The running deployment, and what the scenarios need to drive and observe it.

    A subclass changes the executor and the components (``tests/deployment/celery``): it overrides
    :attr:`components`, :meth:`env`, :meth:`component_env`, :meth:`command`, :meth:`prepare`,
    :meth:`start_components` and :meth:`wait_healthy`.
    """

    #: The Airflow components, in the order they start (the api-server first); stopped in reverse order.
    components: tuple[str, ...] = COMPONENTS
    #: The logs shown when a wait times out.
    default_logs: tuple[str, ...] = ("scheduler", "triggerer")

    def __init__(self, root: Path, dags: Path = DAGS) -> None:
        self.root = root
        self.home = root / "airflow-home"
        self.logs = root / "process-logs"
        self.home.mkdir()
        self.logs.mkdir()
        self.dags = Path(shutil.copytree(dags, root / "dags", ignore=shutil.ignore_patterns("__pycache__")))
        self.token = secrets.token_hex(8)
        self.secret_key = secrets.token_hex(16)  # one for every component: it signs the log servers' requests
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.api_port = 0
        self.api_url = ""
        self.log_server_ports = (free_port(), free_port())  # the scheduler's and the triggerer's log servers
        self.emulator_url = ""
        self.connection_uri = ""
        self.journal_url = ""
        self.flows: dict[str, str] = {}
        self.api = httpx.Client(timeout=30)  # replaced once the api-server has a port
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # -- processes -----------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The components' environment: nothing inherited from the test session's Airflow set-up."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                MARKER: self.token,
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "8",
                # Five processes and the CLI write to one SQLite file (in WAL mode, as Airflow sets it): wait
                # for its write lock instead of failing after sqlite3's default 5 s.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home}/airflow.db?timeout=60",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": self.secret_key,
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_server_ports[0]),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_server_ports[1]),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW_CONN_FLOWSERVICE_DEFAULT": self.connection_uri,
                "AIRFLOW_CONN_FLOWSERVICE_JOURNAL": self.journal_connection_uri,
                **{f"AIRFLOW_VAR_{name.upper()}": flow_id for name, flow_id in self.flows.items()},
            }
        )
        return env

    @property
    def journal_connection_uri(self) -> str:
        """The default connection, reading the emulator's I/O Events journal (test_journal_events.py)."""
        return f"{self.connection_uri}&events_journal_url={quote(self.journal_url, safe='')}"

    @property
    def jwt_secret(self) -> str:
        if not hasattr(self, "_jwt_secret"):
            self._jwt_secret = secrets.token_hex(32)
        return self._jwt_secret

    def spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, user: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in a process group of its own, its output appended to ``process-logs/<name>.log``.

        ``user``: the system user to run it as (the tests run as root; PostgreSQL refuses to).
        """
        out = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv,
            env=env or self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.root,
            **run_as(user),
        )
        out.close()
        self.procs[name] = proc
        return proc

    def command(self, name: str) -> list[str]:
        """The ``airflow`` arguments that start component ``name``."""
        return [name]

    def component_env(self, name: str) -> dict[str, str]:
        """The environment of component ``name``."""
        return self.env()

    def start(self, name: str) -> None:
        self.spawn(name, [sys.executable, "-m", "airflow", *self.command(name)], env=self.component_env(name))

    def ensure_running(self, *names: str) -> list[str]:
        """Start those of ``names`` that are not running (a scenario stopped them); returns the ones started."""
        started = [name for name in names if name not in self.procs]
        for name in started:
            self.start(name)
        return started

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Signal a process group and wait for its leader; SIGKILL the group if it outlives ``timeout``."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        with_children = _descendants(proc.pid)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait(10)
        for child in with_children:  # e.g. task processes, in groups of their own
            _kill(child)
        return code

    def check_alive(self) -> None:
        """Fail at once, with its log, when a component has exited on its own."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with code {proc.returncode}\n{self.log_tail(name)}")

    def start_api_server(self) -> None:
        """Start the api-server on a free port; a port taken meanwhile by another process means another try."""
        for _ in range(3):
            self.api_port = free_port()
            self.api_url = f"http://127.0.0.1:{self.api_port}"
            self.api.close()
            self.api = httpx.Client(base_url=f"{self.api_url}/api/v2", timeout=60)
            self.start(self.components[0])
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if self.procs[self.components[0]].poll() is not None:
                    break
                try:
                    if httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            if "address already in use" not in self.log_tail("api-server"):
                raise AssertionError(f"the api-server did not start\n{self.log_tail('api-server')}")
            self.stop("api-server")
        raise AssertionError(f"no free port for the api-server\n{self.log_tail('api-server')}")

    def stop_all(self) -> None:
        for name in [*reversed(self.components), *list(self.procs)]:
            self.stop(name, timeout=20)
        for proc in psutil.process_iter():  # anything that outlived its parent
            try:
                if proc.pid != os.getpid() and proc.environ().get(MARKER) == self.token:
                    _kill(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue

    def airflow(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run an ``airflow`` CLI command in the deployment's environment."""
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            check=False,
        )

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:])

    # -- the emulator --------------------------------------------------------------------------------------

    def start_emulator(self) -> None:
        argv = [sys.executable, "-m", "airflow_flowservice.testing.emulator", "--port", "0"]
        self.spawn("emulator", [*argv, "--run-timeline", f"0.5,{RUN_SECONDS}"], env={**os.environ, MARKER: self.token})
        log = self.logs / "emulator.log"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for line in log.read_text().splitlines():
                if line.startswith("Flow Service emulator listening on "):
                    self.emulator_url = line.rsplit(" ", 1)[1]
                if line.startswith("AIRFLOW_CONN_FLOWSERVICE_DEFAULT="):
                    self.connection_uri = line.split("=", 1)[1]
                if line.startswith("FLOWSERVICE_EVENTS_JOURNAL_URL="):
                    self.journal_url = line.split("=", 1)[1]
            if self.emulator_url and self.connection_uri and self.journal_url:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the emulator did not start\n{self.log_tail('emulator')}")

    def emulator(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call to the emulator's admin API (``/_emulator/...``)."""
        response = httpx.request(method, f"{self.emulator_url}/_emulator{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def finish_runs(self) -> None:
        """Move the emulator's clock past every existing run's end: they all turn ``success`` (or failed)."""
        self.emulator("POST", "/clock", json={"advance": RUN_SECONDS + 1})

    @contextmanager
    def hook_env(self) -> Iterator[Any]:
        """A FlowServiceHook on the emulator, in this (test) process."""
        from airflow_flowservice.auth import TOKEN_CACHE
        from airflow_flowservice.hooks.flowservice import FlowServiceHook

        saved = os.environ.get("AIRFLOW_CONN_FLOWSERVICE_DEFAULT")
        os.environ["AIRFLOW_CONN_FLOWSERVICE_DEFAULT"] = self.connection_uri
        try:
            yield FlowServiceHook()
        finally:
            TOKEN_CACHE.clear()
            if saved is None:
                os.environ.pop("AIRFLOW_CONN_FLOWSERVICE_DEFAULT", None)
            else:
                os.environ["AIRFLOW_CONN_FLOWSERVICE_DEFAULT"] = saved

    def run_posts(self, flow_id: str) -> list[dict[str, Any]]:
        """The bodies of every ``POST /runs`` (run creation) the emulator received for a flow."""
        records = self.emulator("GET", "/requests", params={"method": "POST", "path_prefix": "/runs"})["requests"]
        return [r["body"] for r in records if r["path"] == "/runs" and (r.get("body") or {}).get("flowId") == flow_id]

    def runs_per_window(self, flow_id: str) -> Counter[tuple[int, int]]:
        """How many runs the emulator holds for each window of a flow."""
        with self.hook_env() as hook:
            return Counter(window for run in hook.list_runs(flow_id) if (window := run.window()) is not None)

    def runs(self, flow_id: str) -> list[Any]:
        with self.hook_env() as hook:
            return list(hook.list_runs(flow_id))

    def run_lists(self, flow_id: str) -> list[dict[str, Any]]:
        """Every ``GET /runs`` the emulator received for a flow (its ``property=flowId==...`` filter)."""
        records = self.emulator("GET", "/requests", params={"method": "GET", "path_prefix": "/runs"})["requests"]
        return [r for r in records if r["path"] == "/runs" and f"flowId=={flow_id}" in unquote_plus(r["query"])]

    def deploy_dag(self, source: Path, **files: Any) -> None:
        """Copy the DAG file ``source`` into the DAGs folder, with JSON files next to it (``name=value``).

        The JSON files are written first: the dag-processor may parse the DAG file as soon as it appears.
        """
        for name, value in files.items():
            (self.dags / f"{name}.json").write_text(json.dumps(value))
        shutil.copy(source, self.dags / source.name)

    # -- Airflow's REST API --------------------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One REST call, sent again when the api-server did not answer in time.

        On a loaded machine the api-server can wait on the SQLite write lock longer than the client's
        timeout; the callers here either only read or treat a repeated write as done (``trigger``).
        """
        for attempt in range(1, 4):
            try:
                return self.api.request(method, path, **kwargs)
            except httpx.TimeoutException:
                if attempt == 3:
                    raise
                sys.stderr.write(f"\n[deployment] {method} {path}: no answer in time, sending again\n")
        raise AssertionError("unreachable")

    def get(self, path: str, **params: Any) -> Any:
        response = self.call("GET", path, params=params)
        response.raise_for_status()
        return response.json()

    def trigger(self, dag_id: str, run_id: str, logical_date: str | None) -> str:
        body = {"dag_run_id": run_id, "logical_date": logical_date}
        response = self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)
        if response.status_code == 409:
            return run_id  # the scenarios' run ids are unique: created by a request that timed out on this side
        assert response.status_code == 200, response.text
        return run_id

    def set_paused(self, dag_id: str, paused: bool) -> None:
        response = self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
        assert response.status_code == 200, response.text

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        ti: dict[str, Any] = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        return ti

    def wait_for(
        self, what: str, probe: Callable[[], Any], timeout: float = 120, tick: bool = False, logs: tuple[str, ...] = ()
    ) -> Any:
        """Poll ``probe`` until it returns something truthy; ``tick`` finishes runs on each round."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if tick:
                self.finish_runs()
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                tails = "\n".join(self.log_tail(name) for name in logs or self.default_logs)
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
            time.sleep(0.5)

    def wait_ti_state(self, dag_id: str, run_id: str, task_id: str, states: set[str], **kw: Any) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id, task_id)
            return ti if ti["state"] in states else None

        ti: dict[str, Any] = self.wait_for(f"{dag_id}/{run_id}/{task_id} in {sorted(states)}", probe, **kw)
        return ti

    def wait_deferred(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """Wait until a task is deferred and the scheduler has taken in the deferring process's exit.

        Until then, a trigger that fires at once races that exit: Airflow 3.3 takes the late "success"
        of the deferring process for the resumed try's and fails that try (apache/airflow#72716). The
        scenarios wait it out, so each counts tries deterministically.
        """
        ti = self.wait_ti_state(dag_id, run_id, task_id, {"deferred"})
        key = f"TaskInstanceKey(dag_id='{dag_id}', task_id='{task_id}', run_id='{run_id}', try_number="
        key += str(ti["try_number"])
        self.wait_for(
            f"the scheduler to take in the exit of {dag_id}/{run_id}/{task_id}'s deferring process",
            lambda: any(
                "Received executor event with state success" in line and key in line
                for log in self.logs.glob("scheduler*.log")  # every scheduler's: the one that queued the try
                for line in log.read_text(errors="replace").splitlines()
            ),
        )
        return ti

    def wait_dag_run(self, dag_id: str, run_id: str, **kw: Any) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            run = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        run: dict[str, Any] = self.wait_for(f"DAG run {dag_id}/{run_id} to finish", probe, **kw)
        return run

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """One try's log: the worker's file, then the triggerer's (``attempt=N.log.trigger.<id>.log``).

        The components share this machine's log folder; each line is a JSON object, its ``event`` the text.
        """
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        paths = sorted(folder.glob(f"attempt={try_number}.log*"), key=lambda p: (len(p.name), p.name))
        return "".join(path.read_text(errors="replace") for path in paths)

    def wait_for_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, text: str) -> None:
        def logged() -> bool:
            try:
                return text in self.task_log(dag_id, run_id, task_id, try_number)
            except OSError:
                return False

        self.wait_for(f"{text!r} in the log of {dag_id}/{run_id}/{task_id} try {try_number}", logged)

    # -- the life cycle (deployed() calls these in order) --------------------------------------------------

    def prepare(self) -> None:
        """What must run before ``airflow db migrate`` (nothing here: SQLite is a file)."""

    def start_components(self) -> None:
        """Every component but the api-server (started first: the others need its port, the execution API)."""
        for component in self.components[1:]:
            self.start(component)

    def wait_healthy(self, dag_ids: tuple[str, ...]) -> None:
        def healthy() -> bool:
            try:
                health = httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return False
            parts = ("scheduler", "triggerer", "dag_processor")
            return all((health.get(p) or {}).get("status") == "healthy" for p in parts)

        def parsed() -> bool:
            dags = self.get("/dags")["dags"]
            return {d["dag_id"] for d in dags} >= set(dag_ids)

        self.wait_for("the components to report healthy", healthy, timeout=240, logs=self.components)
        self.wait_for("the DAGs to be parsed", parsed, timeout=120, logs=("dag-processor",))


def run_as(user: str | None) -> dict[str, Any]:
    """The ``subprocess`` arguments that run a process as ``user`` (its group, no other), or as this process."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _kill(proc: psutil.Process) -> None:
    try:
        proc.kill()
        proc.wait(10)
    except (psutil.NoSuchProcess, psutil.TimeoutExpired):
        pass


@contextmanager
def deployed(dep: Deployment, flows: tuple[str, ...], dag_ids: tuple[str, ...], label: str) -> Iterator[Deployment]:
    """Start ``dep`` (the emulator and its flows, then Airflow), yield it, stop everything and remove its directory.

    Also when a test or the start failed (``FLOWSERVICE_DEPLOYMENT_KEEP=1`` keeps the directory and its logs).
    """
    try:
        dep.start_emulator()
        with dep.hook_env() as hook:
            from airflow_flowservice.testing.flows import create_table_flow

            dep.flows = {name: create_table_flow(hook, name=name) for name in flows}
        dep.prepare()
        migrate = dep.airflow("db", "migrate", timeout=300)
        assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
        dep.start_api_server()  # first: the others need its port (the execution API)
        dep.start_components()
        dep.wait_healthy(dag_ids)
        dep.emulator("DELETE", "/requests")  # the scenarios count from here
        sys.stderr.write(f"\n[{label}] up in {time.monotonic() - dep.started:.0f}s\n")
        yield dep
    finally:
        dep.stop_all()
        dep.api.close()
        if os.environ.get("FLOWSERVICE_DEPLOYMENT_KEEP"):  # to read the logs of a failed session
            sys.stderr.write(f"\n[{label}] kept {dep.root}\n")
        else:
            shutil.rmtree(dep.root, ignore_errors=True)


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    """The running deployment (about a minute to start)."""
    with deployed(
        Deployment(Path(tempfile.mkdtemp(prefix="flowservice-deployment-"))), FLOWS, DAG_IDS, "deployment"
    ) as dep:
        yield dep


#: Lines of figures the scenarios measured (the ``measured`` fixture), printed in the terminal summary.
MEASURED: list[str] = []


@pytest.fixture(scope="session")
def measured() -> list[str]:
    """Lines of figures the scenarios measured, printed at the end of the session (also without ``-s``)."""
    return MEASURED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASURED:
        terminalreporter.write_sep("-", "what the deployment scenarios measured")
        for line in MEASURED:
            terminalreporter.write_line(f"[deployment] {line}")


def dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
