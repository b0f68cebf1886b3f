"""A distributed Airflow deployment for the Celery tier: CeleryExecutor on PostgreSQL and Redis.

Run it with ``python3 dev.py celery``: it installs PostgreSQL and Redis from Debian packages when they
are missing, and ``apache-airflow[celery,postgres]`` 3.3.2 in ``.venv-celery`` with the pins of
``ci/constraints/airflow-3.3.txt`` and ``ci/constraints/airflow-3.3-celery-postgres.txt``. Elsewhere
(``.venv``, without them) the scenarios are skipped; under ``python3 dev.py celery`` a missing piece fails.

One deployment per session, every part a process of its own, on free ports of 127.0.0.1: PostgreSQL
(the metadata DB and Celery's result backend) and Redis (the broker), each run as its own system user
when the tests run as root, their data in the session's temporary directory; the emulator; Airflow's
api-server, **two schedulers**, a dag-processor, **two triggerers** and **two Celery workers**, each
consuming a queue of its own (:data:`QUEUES`). Each Airflow component has an ``AIRFLOW_HOME`` of its
own, as on a machine of its own: nothing reaches it through a shared ``airflow.cfg``, only through
:meth:`CeleryDeployment.settings` (what docs/deploying.md lists), the DAGs folder and the log folder
(shared, so that the scenarios read task logs as files).

Processes carry the base tier's marker (``FLOWSERVICE_DEPLOYMENT``) and are torn down the same way
(:meth:`Deployment.stop_all`), the database servers last; the directory is removed unless
``FLOWSERVICE_DEPLOYMENT_KEEP=1``.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.deployment.conftest import MARKER, Deployment, deployed, free_port, run_as

DAGS = Path(__file__).resolve().parent / "dags"
#: The worker of each queue (the DAGs of celery_dags.py put one DAG of each racing pair on each).
QUEUES = {"worker-a": "flowservice_a", "worker-b": "flowservice_b"}
#: The Airflow components, in the order they start (the api-server first).
COMPONENTS = (
    "api-server",
    "dag-processor",
    "worker-a",
    "worker-b",
    "scheduler-a",
    "triggerer-a",
    "scheduler-b",
    "triggerer-b",
)
#: The components that run as a job of their own (``GET /api/v2/jobs``): their job ids tell them apart.
JOB_TYPES = {"scheduler": "SchedulerJob", "triggerer": "TriggererJob"}
FLOWS = ("flow_pool", "flow_race", "flow_worker", "flow_deferred")
DAG_IDS = (
    "celery_pool_a",
    "celery_pool_b",
    "celery_race_a",
    "celery_race_b",
    "celery_worker",
    "celery_deferred",
)
#: The pool of one slot of the pooled race (named in dags/celery_dags.py).
POOL = "flowservice_celery_race"
#: Seconds without a heartbeat after which the scheduler fails a task whose worker died (Airflow: 300).
HEARTBEAT_TIMEOUT = 30
WORKER_CONCURRENCY = 4
#: The database servers' system users (Debian's packages create them), when the tests run as root.
SERVER_USERS = {"postgres": "postgres", "redis": "redis"}


def kind(name: str) -> str:
    """``scheduler`` for ``scheduler-a``: the component a process name runs."""
    return name.rsplit("-", 1)[0] if name.endswith(("-a", "-b")) else name


def postgres_bindir() -> Path | None:
    """PostgreSQL's server programs: ``$FLOWSERVICE_PG_BINDIR`` (dev.py sets it), Debian's layout, or PATH."""
    if found := os.environ.get("FLOWSERVICE_PG_BINDIR"):
        return Path(found)
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def redis_server() -> str | None:
    return os.environ.get("FLOWSERVICE_REDIS_SERVER") or shutil.which("redis-server")


def missing_prerequisites() -> list[str]:
    missing = []
    for module, dist in (
        ("airflow.providers.celery", "apache-airflow-providers-celery"),
        ("airflow.providers.postgres", "apache-airflow-providers-postgres"),
        ("psycopg2", "psycopg2-binary"),
    ):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(dist)
    if postgres_bindir() is None:
        missing.append("the PostgreSQL server (Debian: postgresql)")
    if redis_server() is None:
        missing.append("redis-server (Debian: redis-server)")
    return missing


class CeleryDeployment(Deployment):
    """The base tier's deployment on CeleryExecutor, PostgreSQL and Redis; two schedulers, triggerers, workers."""

    components = COMPONENTS
    default_logs = ("scheduler-a", "scheduler-b", "worker-a", "worker-b")

    def __init__(self, root: Path) -> None:
        super().__init__(root, dags=DAGS)
        root.chmod(0o711)  # the database servers' users go through it to their directories
        (root / "homes").mkdir()
        self.pg_port = 0
        self.redis_port = 0
        self.fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.job_ids: dict[str, int] = {}  # component -> its current job id (schedulers, triggerers)

    # -- settings -------------------------------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        """What every component needs beyond the base tier's settings (docs/deploying.md lists them all)."""
        database = f"postgresql+psycopg2://airflow@127.0.0.1:{self.pg_port}/airflow"
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{database}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            # Longer than any wait in a worker (a task Redis has not seen acknowledged by then is sent again);
            # Airflow warns when it is not set.
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__CORE__PARALLELISM": "32",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
        }

    def env(self) -> dict[str, str]:
        # The base's: execution API URL, JWT secret, [api] secret_key, the connection and the variables.
        env = super().env()
        env.update(self.settings())
        return env

    def component_env(self, name: str) -> dict[str, str]:
        env = self.env()
        home = self.root / "homes" / name  # as on a machine of its own: no airflow.cfg shared with the others
        home.mkdir(exist_ok=True)
        env["AIRFLOW_HOME"] = str(home)
        return env

    def command(self, name: str) -> list[str]:
        # Workers and triggerers serve no logs here: Airflow's log server listens on every interface (no setting
        # of its host), and the components share one log folder, which the api-server reads. Where it runs, two
        # on one host need a worker_log_server_port (trigger_log_server_port) each (docs/deploying.md).
        if kind(name) == "worker":
            return [
                *("celery", "worker", "--queues", QUEUES[name], "--celery-hostname", f"{name}@%h"),
                *("--concurrency", str(WORKER_CONCURRENCY), "--skip-serve-logs"),
            ]
        if kind(name) == "triggerer":
            return ["triggerer", "--skip-serve-logs"]
        return [kind(name)]

    # -- components -----------------------------------------------------------------------------------------

    def start(self, name: str) -> None:
        """Start a component; a scheduler or triggerer is waited for until its job is alive (its id recorded)."""
        job_type = JOB_TYPES.get(kind(name))
        known = self.alive_jobs(job_type) if job_type else set()
        super().start(name)
        if job_type:
            self.job_ids[name] = self.wait_for(
                f"{name}'s {job_type} to be alive",
                lambda: next(iter(self.alive_jobs(job_type) - known), None),
                timeout=180,
                logs=(name,),
            )

    def alive_jobs(self, job_type: str) -> set[int]:
        jobs = self.get("/jobs", job_type=job_type, is_alive=True, limit=100)["jobs"]
        return {job["id"] for job in jobs}

    def component_of_job(self, job_id: int) -> str:
        (name,) = [name for name, known in self.job_ids.items() if known == job_id]
        return name

    def start_components(self) -> None:
        """One scheduler and one triggerer at a time: a new job id is then the component just started."""
        for name in self.components[1:]:
            self.start(name)

    def wait_healthy(self, dag_ids: tuple[str, ...]) -> None:
        super().wait_healthy(dag_ids)
        # The api-server builds its execution API on the first call (20 s on a busy machine): not in a scenario.
        assert httpx.get(f"{self.api_url}/execution/health", timeout=180).status_code == 200
        for worker in QUEUES:
            self.wait_for(
                f"{worker} to be ready",
                lambda worker=worker: " ready." in (self.logs / f"{worker}.log").read_text(errors="replace"),
                timeout=180,
                logs=(worker,),
            )

    def stop_all(self) -> None:
        for name in reversed(self.components):
            self.stop(name, timeout=20)
        self.stop("redis", timeout=20)
        self.stop("postgres", signal.SIGINT, timeout=30)  # SIGINT: PostgreSQL's fast shutdown
        super().stop_all()  # anything left, and any process still carrying the marker

    # -- PostgreSQL and Redis -------------------------------------------------------------------------------

    def prepare(self) -> None:
        self.start_postgres()
        self.start_redis()

    def server_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PG"))}
        return {**env, MARKER: self.token, "LC_ALL": "C"}

    def server_dir(self, name: str) -> tuple[Path, str | None]:
        """``<root>/<name>``, owned by the server's system user (root's own processes run none of them)."""
        user = SERVER_USERS[name] if os.geteuid() == 0 else None
        path = self.root / name
        path.mkdir(mode=0o700)
        if user:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return path, user

    def start_server(self, name: str, argv: Callable[[int], list[str]], ready: Callable[[int], bool]) -> int:
        """Start a server on a free port (another, if a process took it meanwhile); returns the port."""
        user = SERVER_USERS[name] if os.geteuid() == 0 else None
        for _ in range(3):
            port = free_port()
            self.spawn(name, argv(port), env=self.server_env(), user=user)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.procs[name].poll() is None:
                if ready(port):
                    return port
                time.sleep(0.2)
            tail = self.log_tail(name)
            self.stop(name)
            if "already in use" not in tail:
                raise AssertionError(f"{name} did not start\n{tail}")
        raise AssertionError(f"no free port for {name}\n{self.log_tail(name)}")

    def start_postgres(self) -> None:
        bindir = postgres_bindir()
        assert bindir is not None
        data, user = self.server_dir("postgres")
        init = subprocess.run(
            [bindir / "initdb", "-D", data / "data", "-U", "airflow", "--auth=trust", "-E", "UTF8", "--no-locale"],
            env=self.server_env(),
            cwd=self.root,
            **run_as(user),
            capture_output=True,
            text=True,
            check=False,
        )
        assert init.returncode == 0, init.stdout + init.stderr

        def argv(port: int) -> list[str]:
            return [
                *(str(bindir / "postgres"), "-D", str(data / "data"), "-h", "127.0.0.1", "-p", str(port), "-k", ""),
                *("-c", "max_connections=300", "-c", "fsync=off", "-c", "synchronous_commit=off"),
                *("-c", "full_page_writes=off", "-c", "log_min_messages=warning"),
            ]

        def ready(port: int) -> bool:
            probe = [bindir / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", "-d", "postgres"]
            return subprocess.run(probe, check=False).returncode == 0

        self.pg_port = self.start_server("postgres", argv, ready)
        create = [bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "airflow", "airflow"]
        created = subprocess.run(create, capture_output=True, text=True, check=False)
        assert created.returncode == 0, created.stderr

    def start_redis(self) -> None:
        server = redis_server()
        assert server is not None
        data, _ = self.server_dir("redis")

        def argv(port: int) -> list[str]:
            return [
                *(server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data), "--protected-mode", "yes"),
                *("--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"),
            ]

        self.redis_port = self.start_server("redis", argv, _redis_answers)

    # -- what the scenarios observe -------------------------------------------------------------------------

    def token_requests(self) -> int:
        """How many IMS token requests the emulator has answered (every process of the deployment, and the tests)."""
        return len(self.emulator("GET", "/requests", params={"method": "POST", "path_prefix": "/ims"})["requests"])

    def log_lines(self, name: str, text: str) -> list[str]:
        """The lines of a process's log that contain ``text``."""
        path = self.logs / f"{name}.log"
        return [line for line in path.read_text(errors="replace").splitlines() if text in line] if path.exists() else []


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def celery_deployment() -> Iterator[CeleryDeployment]:
    """The running Celery deployment (a minute or two to start)."""
    if missing := missing_prerequisites():
        message = f"the Celery tier needs {', '.join(missing)}: run it with `python3 dev.py celery`"
        if os.environ.get("FLOWSERVICE_CELERY_TIER"):  # set by dev.py celery, which installs them all
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="flowservice-celery-"))
    with deployed(CeleryDeployment(root), FLOWS, DAG_IDS, "celery") as dep:
        yield dep
