"""Helpers shared by the benchmark scripts (``benchmarks/bench_*.py``) and ``benchmarks/run_all.py``.

Every benchmark script runs in a fresh process (``python benchmarks/bench_N_name.py [--quick]``),
prints ONE Markdown section (``## N. Title``) to stdout and its diagnostics to stderr. The stable API:

- :func:`setup_airflow_home` -> ``Path``: a fresh temporary ``AIRFLOW_HOME`` (SQLite DB, no examples),
  set in ``os.environ``; call it BEFORE importing airflow. ``migrate=True`` runs ``airflow db migrate``.
- :func:`start_emulator` (context manager): an in-process :class:`FlowServiceEmulator` (server thread),
  with ``AIRFLOW_CONN_FLOWSERVICE_DEFAULT`` pointing at it; yields the emulator.
- :func:`start_emulator_process` (context manager): the emulator's CLI in a separate process (its CPU use
  stays off the measured process); yields an :class:`EmulatorProcess` (``base_url``, ``connection_uri``,
  ``requests()``, ``clear_requests()``, ``add_fault()``, ``clear_faults()``, ``state()``), with
  ``AIRFLOW_CONN_FLOWSERVICE_DEFAULT`` set in this process.
- :func:`md_table` (headers, rows) -> Markdown table; :func:`fmt_ms`, :func:`fmt_ratio`, :func:`verdict`.
- :func:`machine_info` -> dict (CPU count, RAM, Python, Airflow, httpx, platform).
- :func:`percentile`, :func:`median`, :class:`Stopwatch` / :func:`timed`, :func:`rss_bytes`.
- :func:`summary_marker` (benchmark, target, figure, met) -> an HTML comment ``run_all.py`` reads to build
  the summary table; print one per target inside the section (it is invisible in rendered Markdown).
- :func:`parse_args` (the ``--quick`` flag), :func:`log` (to stderr).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_flowservice.testing import FlowServiceEmulator

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
CONN_ENV = "AIRFLOW_CONN_FLOWSERVICE_DEFAULT"
SUMMARY_PREFIX = "<!-- bench-summary: "
SUMMARY_SUFFIX = " -->"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---- process / environment --------------------------------------------------------------------


def log(*parts: object) -> None:
    """Diagnostics go to stderr (stdout carries only the Markdown section)."""
    print(*parts, file=sys.stderr, flush=True)


def parse_args(description: str = "", argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The common command line: ``--quick`` (smaller sizes, a smoke run under 60 s)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run, < 60 s)")
    return parser.parse_args(argv)


def setup_airflow_home(*, migrate: bool = False, prefix: str = "flowservice-bench-") -> Path:
    """Create a fresh temporary AIRFLOW_HOME, set it (and a SQLite DB) in ``os.environ``; return it.

    Call it before importing airflow. The directory is removed when the process exits.
    ``migrate=True`` runs ``airflow db migrate`` in a subprocess (stderr shows its output).
    """
    home = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, home, True)
    dags = home / "dags"
    dags.mkdir()
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    pythonpath = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in pythonpath.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), pythonpath) if p)
    if migrate:
        migrate_db()
    return home


def migrate_db() -> None:
    """``airflow db migrate`` for the current AIRFLOW_HOME (in a subprocess; raises on failure)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0:
        log(result.stdout[-4000:])
        raise RuntimeError(f"airflow db migrate failed with exit code {result.returncode}")


# ---- emulator ---------------------------------------------------------------------------------


@contextlib.contextmanager
def start_emulator(**kwargs: Any) -> Iterator[FlowServiceEmulator]:
    """An in-process emulator (server thread); ``kwargs`` go to ``FlowServiceEmulator``.

    Sets ``AIRFLOW_CONN_FLOWSERVICE_DEFAULT`` for the duration (restored afterwards).
    """
    from airflow_flowservice.testing import FlowServiceEmulator

    emu = FlowServiceEmulator(**kwargs)
    emu.start()
    previous = os.environ.get(CONN_ENV)
    os.environ.update(emu.connection_env())
    try:
        yield emu
    finally:
        emu.stop()
        if previous is None:
            os.environ.pop(CONN_ENV, None)
        else:
            os.environ[CONN_ENV] = previous


class EmulatorProcess:
    """A CLI-started emulator in a child process, steered through its admin endpoints."""

    def __init__(self, proc: subprocess.Popen[str], base_url: str, connection_uri: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.connection_uri = connection_uri

    @property
    def pid(self) -> int:
        return self.proc.pid

    def admin(self, method: str, path: str, body: Any = None, timeout: float = 120.0) -> Any:
        """Call ``/_emulator/<path>``; returns the parsed JSON answer (``None`` when empty)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.base_url}/_emulator/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # loopback only
            raw = resp.read()
        return json.loads(raw) if raw else None

    def requests(self, method: str | None = None, path_prefix: str | None = None) -> list[dict[str, Any]]:
        """The emulator's request log (records as dicts: method, path, status, time, duration, fault)."""
        query = "&".join(f"{k}={v}" for k, v in (("method", method), ("path_prefix", path_prefix)) if v)
        answer = self.admin("GET", "requests" + (f"?{query}" if query else ""))
        return list(answer["requests"])

    def clear_requests(self) -> None:
        self.admin("DELETE", "requests")

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Same keyword arguments as ``emu.faults.add`` (e.g. ``kind="latency", delay=0.2``)."""
        return dict(self.admin("POST", "faults", rule))

    def clear_faults(self) -> None:
        self.admin("DELETE", "faults")

    def state(self) -> dict[str, Any]:
        return dict(self.admin("GET", "state"))


@contextlib.contextmanager
def start_emulator_process(
    *, run_timeline: tuple[float, float] = (1.0, 2.0), clock: str = "real", timeout: float = 60.0, journal: bool = False
) -> Iterator[EmulatorProcess]:
    """Start ``python -m airflow_flowservice.testing.emulator --port 0`` and wait until it listens.

    Sets ``AIRFLOW_CONN_FLOWSERVICE_DEFAULT`` for the duration (with ``journal``, a connection reading the
    emulator's I/O Events journal); stops the process (SIGTERM) at exit.
    """
    cmd = [
        sys.executable,
        "-m",
        "airflow_flowservice.testing.emulator",
        "--port",
        "0",
        "--clock",
        clock,
        "--run-timeline",
        f"{run_timeline[0]},{run_timeline[1]}",
        *(["--journal"] if journal else []),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=dict(os.environ))
    base_url = uri = ""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while not uri:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"the emulator process did not start (exit code {proc.poll()})")
        line = proc.stdout.readline()
        if line.startswith("Flow Service emulator listening on "):
            base_url = line.split(" on ", 1)[1].strip()
        elif line.startswith(f"{CONN_ENV}="):
            uri = line.split("=", 1)[1].strip()
    previous = os.environ.get(CONN_ENV)
    os.environ[CONN_ENV] = uri
    try:
        yield EmulatorProcess(proc, base_url, uri)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if previous is None:
            os.environ.pop(CONN_ENV, None)
        else:
            os.environ[CONN_ENV] = previous


# ---- measuring --------------------------------------------------------------------------------


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds`` (perf_counter based)."""

    def __init__(self) -> None:
        self.start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def timed() -> Stopwatch:
    """Alias: ``with timed() as t: ...; t.seconds``."""
    return Stopwatch()


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    data = sorted(values)
    k = (len(data) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (this one by default): psutil, else /proc, else ru_maxrss."""
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        pass
    status = Path(f"/proc/{pid or 'self'}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def machine_info() -> dict[str, Any]:
    """CPU count, RAM (GiB), Python, Airflow, httpx and platform of this machine."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    ram = math.nan
    try:
        import psutil

        ram = psutil.virtual_memory().total / 2**30
    except ImportError:
        meminfo = Path("/proc/meminfo")
        if meminfo.exists():
            ram = int(meminfo.read_text().split("MemTotal:")[1].split()[0]) / 2**20
    return {
        "cpus": os.cpu_count(),
        "ram_gib": round(ram, 1),
        "python": platform.python_version(),
        "airflow": version("apache-airflow"),
        "httpx": version("httpx"),
        "platform": platform.platform(),
    }


# ---- Markdown ---------------------------------------------------------------------------------


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table (cells converted with ``str``; ``|`` escaped)."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_ms(seconds: float, digits: int = 1) -> str:
    """Seconds rendered as milliseconds, e.g. ``12.3 ms``."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.{digits}f} ms"


def fmt_ratio(value: float, baseline: float, digits: int = 2) -> str:
    """``value / baseline`` as ``1.23x`` (``n/a`` when the baseline is 0 or NaN)."""
    if not baseline or math.isnan(baseline) or math.isnan(value):
        return "n/a"
    return f"{value / baseline:.{digits}f}x"


def verdict(met: bool) -> str:
    return "met" if met else "missed"


def summary_marker(benchmark: str, target: str, figure: str, met: bool | None) -> str:
    """An HTML comment run_all.py turns into a row of the summary table (``met=None``: no verdict)."""
    result = "n/a" if met is None else verdict(met)
    payload = {"benchmark": benchmark, "target": target, "figure": figure, "result": result}
    return SUMMARY_PREFIX + json.dumps(payload).replace("--", "- -") + SUMMARY_SUFFIX


def parse_summary_markers(text: str) -> list[dict[str, str]]:
    """The :func:`summary_marker` payloads found in a section."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(SUMMARY_PREFIX) and line.endswith(SUMMARY_SUFFIX):
            found.append(json.loads(line[len(SUMMARY_PREFIX) : -len(SUMMARY_SUFFIX)]))
    return found
