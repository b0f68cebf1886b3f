#!/usr/bin/env python3
"""One entry point for developers and CI; needs only Python 3 (3.10+).

    python3 dev.py test    # create .venv, install the provider with test extras, run the test suite
    python3 dev.py demo    # same set-up, then run every example DAG against the bundled emulator
    python3 dev.py lint    # ruff + mypy
    python3 dev.py bench   # benchmarks/ (writes BENCHMARKS.md figures to stdout)
    python3 dev.py matrix  # unit + integration tiers on every supported Airflow line (ci/constraints/)
    python3 dev.py celery  # the deployment tier on CeleryExecutor, PostgreSQL and Redis (tests/deployment/celery)

Each command creates ``.venv`` on first use and re-installs when pyproject.toml changed (pip's
output goes to ``.venv/pip-install.log``; a progress line every few seconds). Airflow runs with a
temporary AIRFLOW_HOME, never ~/airflow, removed afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
EXTRAS = "dev"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv(extras: str = EXTRAS) -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py is run by whatever python3 the machine has
        sys.exit(f"Python >= 3.10 is required (this is {sys.version.split()[0]}).")
    if not PY.exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    log = VENV / "pip-install.log"
    print(f"Installing the provider with [{extras}] into .venv (first time 1-3 minutes; pip's output: {log})")
    started = time.monotonic()
    with log.open("w") as out:
        pip_install(["--upgrade", "pip"], out)
        pip_install(["-e", f".[{extras}]"], out)
    stamp.write_text(digest)
    print(f"Installed in {time.monotonic() - started:.0f}s", flush=True)


def pip_install(args: list[str], out: TextIO) -> None:
    """``pip install``, its output to ``out``; a progress line every 5 s (pip can be silent for a minute)."""
    cmd = [str(PY), "-m", "pip", "install", "--progress-bar", "off", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = {"collected": 0, "step": "resolving"}
    started = time.monotonic()
    done = threading.Event()

    def report() -> None:
        while not done.wait(5):
            elapsed = time.monotonic() - started
            print(f"  ... {elapsed:3.0f}s  {seen['collected']} packages collected, {seen['step']}", flush=True)

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        out.write(line)
        tail = [*tail[-19:], line.rstrip()]
        if line.startswith("Collecting "):
            seen["collected"] += 1
            seen["step"] = f"collecting {line.split()[1]}"
        elif line.startswith(("Building wheel", "Building editable")):
            seen["step"] = "building"
        elif line.startswith("Installing collected packages"):
            seen["step"] = "installing"
    code = proc.wait()
    done.set()
    reporter.join()
    if code != 0:
        print("\n".join(["pip failed; its last lines:", *tail]), file=sys.stderr)
        sys.exit(code)


@contextmanager
def airflow_env() -> Iterator[dict[str, str]]:
    """The environment for Airflow commands: a temporary AIRFLOW_HOME, removed on exit."""
    env = dict(os.environ)
    home = tempfile.mkdtemp(prefix="flowservice-airflow-home-")
    env.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "PYTHONPATH": str(ROOT),
        }
    )
    try:
        yield env
    finally:
        shutil.rmtree(home, ignore_errors=True)


# The tiers of the suite, in the order they run (fast and narrow first). A test folder missing here
# still runs, after these: nothing is skipped by forgetting to list it.
TIERS = (
    "unit",
    "emulator",
    "security",
    "bad_input",
    "integration",
    "dataflows_as_code",
    "docs",
    "faults",
    "race",
    "deployment",
)


def suite_tiers() -> list[str]:
    """``tests/<tier>`` folders that hold tests, in :data:`TIERS` order, then any other."""
    present = sorted(d.name for d in (ROOT / "tests").iterdir() if d.is_dir() and any(d.glob("test_*.py")))
    return [t for t in TIERS if t in present] + [t for t in present if t not in TIERS]


def cmd_test(args: list[str]) -> None:
    """The whole suite, one tier at a time with its time; with arguments, pytest with those arguments."""
    ensure_venv()
    # The suite sets its own temporary AIRFLOW_HOME in tests/conftest.py.
    if args:
        run(PY, "-m", "pytest", "-q", *args)
        return
    import xml.etree.ElementTree as ET

    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    lines: list[str] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="flowservice-junit-") as junit_dir:
        for tier in suite_tiers():
            report = Path(junit_dir) / f"{tier}.xml"
            started = time.monotonic()
            print(f"::: tests/{tier}", flush=True)
            code = subprocess.run(
                # The Celery tier needs its own venv and servers: `python3 dev.py celery` runs it.
                [str(PY), "-m", "pytest", "-q", f"tests/{tier}", f"--junitxml={report}", f"--ignore={CELERY_TESTS}"],
                cwd=ROOT,
            ).returncode
            elapsed = time.monotonic() - started
            counts = {k: 0 for k in totals}
            if report.exists():
                for suite in ET.parse(report).getroot().iter("testsuite"):
                    for key in counts:
                        counts[key] += int(suite.get(key, 0))
            for key in totals:
                totals[key] += counts[key]
            bad = code != 0 or counts["tests"] == 0
            if bad:
                failed.append(tier)
            lines.append(
                f"  {tier:<18} {counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']:>4} passed "
                f"{counts['failures'] + counts['errors']:>3} failed {counts['skipped']:>3} skipped  {elapsed:6.1f} s"
                + ("  <- FAILED" if bad else "")
            )
    print("\nTiers:")
    print("\n".join(lines))
    passed = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    print(f"{passed} passed, {totals['failures'] + totals['errors']} failed, {totals['skipped']} skipped")
    if failed:
        sys.exit(f"FAILED tiers: {', '.join(failed)}")


def cmd_lint(args: list[str]) -> None:
    ensure_venv()
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy", "airflow_flowservice")


def cmd_demo(args: list[str]) -> None:
    ensure_venv()
    with airflow_env() as env:  # the demo writes Airflow's own output to a log file it names
        run(PY, str(ROOT / "scripts" / "demo.py"), *args, env=env)


def cmd_bench(args: list[str]) -> None:
    ensure_venv(extras="dev,benchmark")
    with airflow_env() as env:
        run(PY, str(ROOT / "benchmarks" / "run_all.py"), *args, env=env)


# The supported lines: (Airflow release, Python, constraints file). Each runs the unit and integration
# tiers; the newest line on the default Python runs everything through `python3 dev.py test`.
MATRIX: tuple[tuple[str, str, str], ...] = (
    ("3.0.6", "3.10", "ci/constraints/airflow-3.0.txt"),
    ("3.1.8", "3.10", "ci/constraints/airflow-3.1.txt"),
    ("3.2.2", "3.10", "ci/constraints/airflow-3.2.txt"),
    ("3.3.2", "3.10", "ci/constraints/airflow-3.3.txt"),
    ("3.3.2", "3.13", "ci/constraints/airflow-3.3-py313.txt"),
)
MATRIX_TIERS = ("tests/unit", "tests/integration")
#: The Celery tier's tests (``python3 dev.py celery``): not part of ``python3 dev.py test``.
CELERY_TESTS = "tests/deployment/celery"
Step = Callable[..., int]


def find_python(version: str) -> str:
    """An interpreter of ``version`` (``3.10``): on PATH, or installed by pyenv; fails loudly otherwise."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(c / "bin" / "python") for c in sorted(root.glob(f"{version}.*"), reverse=True)]
    candidates += [found] if (found := shutil.which(f"python{version}")) else []
    for candidate in candidates:  # a pyenv shim on PATH may exist and still not run: try each
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
        if probe.returncode == 0 and probe.stdout.decode().strip() == str(tuple(map(int, version.split(".")))):
            return candidate
    sys.exit(f"FATAL: no Python {version} on PATH or under {root}; the compatibility matrix needs it")


def install_pinned(
    env_dir: Path, python: str, constraints: tuple[str, ...], requirements: tuple[str, ...], step: Step
) -> bool:
    """Create ``env_dir`` with ``python`` and install ``requirements`` under ``constraints``, unless already done.

    Re-installs when pyproject.toml, a constraints file or the requirements changed; False when a step failed.
    """
    py = env_dir / "bin" / "python"
    stamp = env_dir / ".installed"
    pins = b"".join((ROOT / c).read_bytes() for c in constraints)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + pins + " ".join(requirements).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return True
    for cmd in (
        (python, "-m", "venv", "--clear", env_dir),
        (py, "-m", "pip", "install", "-qq", "--upgrade", "pip"),
        (py, "-m", "pip", "install", "-qq", *(f"--constraint={c}" for c in constraints), *requirements),
    ):
        if step(*cmd) != 0:
            return False
    stamp.write_text(digest)
    return True


def _matrix_line(airflow: str, python: str, constraints: str, log: Path) -> tuple[str, float, float]:
    """Install (when the pins changed) and test one line, its output in ``log``: (status, install s, total s)."""
    label = f"airflow-{airflow}-py{python}"
    started = time.monotonic()
    env_dir = ROOT / f".venv-{label}"
    py = env_dir / "bin" / "python"
    with log.open("w") as out:

        def step(*cmd: str | Path) -> int:
            out.write("+ " + " ".join(str(c) for c in cmd) + "\n")
            out.flush()
            return subprocess.run([str(c) for c in cmd], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode

        requirements = (f"apache-airflow=={airflow}", "-e", ".[test]")
        if not install_pinned(env_dir, find_python(python), (constraints,), requirements, step):
            return "INSTALL FAILED", time.monotonic() - started, time.monotonic() - started
        installed = time.monotonic() - started
        code = step(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *MATRIX_TIERS)
    status = "passed" if code == 0 else f"FAILED (exit {code})"
    return status, installed, time.monotonic() - started


def cmd_matrix(args: list[str]) -> None:
    """Unit and integration tiers on each supported Airflow line, each in its own pinned venv.

    ``--jobs N`` runs N lines at once (default 2: the tests mostly wait on the emulator); any other
    argument picks lines by label (``airflow-3.0.6-py3.10``) or Airflow version.
    """
    from concurrent.futures import ThreadPoolExecutor

    jobs = 2
    if "--jobs" in args:
        at = args.index("--jobs")
        jobs = int(args[at + 1])
        args = args[:at] + args[at + 2 :]
    wanted = set(args)
    lines = [
        (airflow, python, constraints)
        for airflow, python, constraints in MATRIX
        if not wanted or f"airflow-{airflow}-py{python}" in wanted or airflow in wanted
    ]
    logs = ROOT / ".matrix-logs"
    logs.mkdir(exist_ok=True)

    def say(text: str) -> None:  # one write per line: print() writes the newline apart, and two lines run at once
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def one(line: tuple[str, str, str]) -> tuple[str, str, float, float]:
        airflow, python, constraints = line
        label = f"airflow-{airflow}-py{python}"
        say(f"== {label}: started (log .matrix-logs/{label}.log)")
        status, installed, total = _matrix_line(airflow, python, constraints, logs / f"{label}.log")
        say(f"== {label}: {status} in {total:.0f} s (install {installed:.0f} s)")
        return label, status, installed, total

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, lines))
    for label, status, _, _ in results:
        if status != "passed":
            tail = (logs / f"{label}.log").read_text(errors="replace").splitlines()[-60:]
            print(f"\n---- {label}: last lines of its log ----\n" + "\n".join(tail))
    print("\nCompatibility matrix (unit + integration tiers):")
    for label, status, installed, total in results:
        print(f"  {label:<24} {status:<22} install {installed:4.0f} s   total {total:5.0f} s")
    if any(status != "passed" for _, status, _, _ in results):
        sys.exit(1)


# The deployment tier on a distributed engine (tests/deployment/celery): its Airflow release, Python and pins
# (the line's constraints, then what the celery and postgres extras add: ci/make_constraints.py --extras).
CELERY_LINE = (
    "3.3.2",
    "3.10",
    ("ci/constraints/airflow-3.3.txt", "ci/constraints/airflow-3.3-celery-postgres.txt"),
)
CELERY_VENV = ROOT / ".venv-celery"


def server_programs() -> dict[str, str]:
    """Where PostgreSQL's server programs and redis-server are ("" when missing), as the Celery tier reads them."""
    initdb = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    found_initdb = str(initdb[-1]) if initdb else shutil.which("initdb")
    return {
        "FLOWSERVICE_PG_BINDIR": str(Path(found_initdb).parent) if found_initdb else "",
        "FLOWSERVICE_REDIS_SERVER": shutil.which("redis-server") or "",
    }


def ensure_servers() -> dict[str, str]:
    """PostgreSQL and Redis, installed from Debian's packages when missing (apt-get, as root); fails loudly."""
    found = server_programs()
    packages = {"FLOWSERVICE_PG_BINDIR": "postgresql", "FLOWSERVICE_REDIS_SERVER": "redis-server"}
    missing = [packages[key] for key, path in found.items() if not path]
    if not missing:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"FATAL: the Celery tier needs {' and '.join(missing)} (Debian: apt-get install {' '.join(missing)})")
    apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-qq", env=apt)
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=apt)
    found = server_programs()
    if not all(found.values()):
        sys.exit(f"FATAL: after apt-get install {' '.join(missing)}, still missing: {found}")
    return found


def cmd_celery(args: list[str]) -> None:
    """The deployment tier on CeleryExecutor, PostgreSQL and Redis (tests/deployment/celery), in ``.venv-celery``.

    Installs what it needs: PostgreSQL and Redis (Debian packages), then apache-airflow[celery,postgres] and the
    provider with the pins of :data:`CELERY_LINE`. Arguments go to pytest (``-k triggerer``).
    """
    started = time.monotonic()
    servers = ensure_servers()
    airflow, python, constraints = CELERY_LINE

    def step(*cmd: str | Path) -> int:
        print("+", " ".join(str(c) for c in cmd), flush=True)
        return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode

    requirements = (f"apache-airflow[celery,postgres]=={airflow}", "-e", ".[test]")
    if not install_pinned(CELERY_VENV, find_python(python), constraints, requirements, step):
        sys.exit("FATAL: installing the Celery tier's venv failed (pip's output above)")
    installed = time.monotonic() - started
    env = {**os.environ, "FLOWSERVICE_CELERY_TIER": "1", **servers}
    pytest = [str(CELERY_VENV / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", CELERY_TESTS, *args]
    print("+", " ".join(pytest), flush=True)
    code = subprocess.run(pytest, cwd=ROOT, env=env).returncode
    print(f"Celery tier: install {installed:.0f} s, tests {time.monotonic() - started - installed:.0f} s", flush=True)
    if code != 0:
        sys.exit(code)


def cmd_docs(args: list[str]) -> None:
    """The API reference (docs/api: Sphinx autodoc, pages from the registry) into build/docs/html.

    Every warning is an error (``-W``; ``nitpicky`` in docs/api/conf.py); ``-E`` re-reads every page, so a
    warning is never hidden by a cached page. Arguments go to sphinx-build.
    """
    ensure_venv(extras="dev,docs")
    started = time.monotonic()
    with airflow_env() as env:  # autodoc imports the operators, and so Airflow: a temporary AIRFLOW_HOME
        sphinx = ("-E", "-W", "--keep-going", "-q", "-b", "html", "-d", "build/docs/doctrees")
        run(PY, "-m", "sphinx", *sphinx, "docs/api", "build/docs/html", *args, env=env)
    print(f"API reference: build/docs/html/index.html ({time.monotonic() - started:.0f} s)", flush=True)


COMMANDS = {
    "test": cmd_test,
    "lint": cmd_lint,
    "demo": cmd_demo,
    "bench": cmd_bench,
    "matrix": cmd_matrix,
    "celery": cmd_celery,
    "docs": cmd_docs,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [args...]")
    COMMANDS[sys.argv[1]](sys.argv[2:])
