#!/usr/bin/env python3
"""One entry point for developers and CI; needs only Python 3 (3.10+).

    python3 dev.py test [--coverage]  # create .venv, install the provider with test extras, run the test suite
    python3 dev.py demo           # same set-up, then run every example DAG against the bundled emulator
    python3 dev.py lint           # ruff + mypy
    python3 dev.py bench          # benchmarks/ (writes BENCHMARKS.md figures to stdout)
    python3 dev.py matrix         # unit + integration tiers on every supported Airflow line (ci/matrix.json)
    python3 dev.py matrix-table   # ci.yml's matrix and the README's Compatibility table from ci/matrix*.json
    python3 dev.py lowest         # unit + integration tiers with the declared floors of the runtime dependencies
    python3 dev.py celery         # the deployment tier on CeleryExecutor, PostgreSQL, Redis (tests/deployment/celery)
    python3 dev.py docs           # the API reference (docs/api) into build/docs/html, warnings as errors

Each command creates ``.venv`` on first use and re-installs when pyproject.toml changed (pip's
output goes to ``.venv/pip-install.log``; a progress line every few seconds). Airflow runs with a
temporary AIRFLOW_HOME, never ~/airflow, removed afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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
from typing import Any, NamedTuple, TextIO

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
    """The whole suite, one tier at a time with its time; with arguments, pytest with those arguments.

    ``--coverage`` measures what the suite covers of ``airflow_flowservice`` (in the test processes, not
    in the processes they start) and fails under the floor (pyproject.toml ``[tool.coverage.report]``).
    The whole suite's result goes to ci/matrix-results.json under CI or with ``--record`` (see recording).
    """
    ensure_venv()
    record, args = recording(args)
    coverage = "--coverage" in args
    args = [a for a in args if a != "--coverage"]
    pytest: list[str | Path] = [PY, "-m", "coverage", "run", "-m", "pytest"] if coverage else [PY, "-m", "pytest"]
    if coverage:
        run(PY, "-m", "coverage", "erase")
    # The suite sets its own temporary AIRFLOW_HOME in tests/conftest.py.
    if args:
        run(*pytest, "-q", *args)
        if coverage:
            coverage_report()
        return
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    lines: list[str] = []
    failed: list[str] = []
    started_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flowservice-junit-") as junit_dir:
        for tier in suite_tiers():
            report = Path(junit_dir) / f"{tier}.xml"
            started = time.monotonic()
            print(f"::: tests/{tier}", flush=True)
            code = subprocess.run(
                # The Celery tier needs its own venv and servers: `python3 dev.py celery` runs it.
                [*map(str, pytest), "-q", f"tests/{tier}", f"--junitxml={report}", f"--ignore={CELERY_TESTS}"],
                cwd=ROOT,
            ).returncode
            elapsed = time.monotonic() - started
            counts = junit_counts(report)
            for key in totals:
                totals[key] += counts[key]
            bad = code != 0 or counts["tests"] == 0
            if bad:
                failed.append(tier)
            lines.append(
                f"  {tier:<18} {counts['passed']:>4} passed "
                f"{counts['failed']:>3} failed {counts['skipped']:>3} skipped  {elapsed:6.1f} s"
                + ("  <- FAILED" if bad else "")
            )
    print("\nTiers:")
    print("\n".join(lines))
    passed = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    print(f"{passed} passed, {totals['failures'] + totals['errors']} failed, {totals['skipped']} skipped")
    below = coverage_report() if coverage else ""
    if record:
        record_suite(started_all, passed, totals, failed)
    if failed:
        sys.exit(f"FAILED tiers: {', '.join(failed)}" + (f"; {below}" if below else ""))
    if below:
        sys.exit(below)


def record_suite(started: float, passed: int, totals: dict[str, int], failed: list[str]) -> None:
    """The whole suite's result, with the Airflow release and the Python it ran on."""
    versions = subprocess.run(
        [str(PY), "-c", "import sys, airflow; print(airflow.__version__, '%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.split()
    record_result(
        "suite",
        {
            "airflow": versions[0] if versions else "?",
            "python": versions[1] if len(versions) > 1 else "?",
            "status": "FAILED" if failed else "passed",
            "passed": passed,
            "failed": totals["failures"] + totals["errors"],
            "skipped": totals["skipped"],
            "seconds": round(time.monotonic() - started),
        },
    )


def junit_counts(report: Path) -> dict[str, int]:
    """A JUnit XML report's tests, failures, errors and skipped, and passed and failed (failures + errors)."""
    import xml.etree.ElementTree as ET

    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if report.exists():
        for suite in ET.parse(report).getroot().iter("testsuite"):
            for key in counts:
                counts[key] += int(suite.get(key, 0))
    failed = counts["failures"] + counts["errors"]
    return {**counts, "failed": failed, "passed": counts["tests"] - failed - counts["skipped"]}


def coverage_report() -> str:
    """Combine the tiers' coverage data, print the report and the total; what is wrong if under the floor."""

    def coverage(*args: str) -> str:
        return subprocess.run([str(PY), "-m", "coverage", *args], cwd=ROOT, capture_output=True, text=True).stdout

    coverage("combine", "-q")
    print(coverage("report", "--skip-covered", "--fail-under=0"), end="")
    total = coverage("report", "--format=total", "--fail-under=0").strip()
    probe = "import coverage; print(coverage.Coverage().get_option('report:fail_under'))"
    floor = float(subprocess.run([str(PY), "-c", probe], cwd=ROOT, capture_output=True, text=True).stdout or 0)
    print(f"Coverage of airflow_flowservice: {total}% (floor {floor:g}%: pyproject.toml [tool.coverage.report])")
    try:
        return "" if float(total) >= floor else f"coverage {total}% is under the floor of {floor:g}%"
    except ValueError:
        return f"coverage: no total (coverage report said {total!r})"


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


#: The Celery tier's tests (``python3 dev.py celery``): not part of ``python3 dev.py test``.
CELERY_TESTS = "tests/deployment/celery"
Step = Callable[..., int]
# The supported Airflow lines are defined once, in ci/matrix.json (see its "about"); the results of their
# last runs are in ci/matrix-results.json. ci.yml's matrix and the README's Compatibility table are written
# from both by `python3 dev.py matrix-table`.
MATRIX_FILE = ROOT / "ci" / "matrix.json"
RESULTS_FILE = ROOT / "ci" / "matrix-results.json"
CI_FILE = ROOT / ".github" / "workflows" / "ci.yml"
README = ROOT / "README.md"
_RESULTS_LOCK = threading.Lock()  # the matrix's threads; fcntl.flock for .ci/run's processes (record_result)


class Line(NamedTuple):
    """One supported line: an Airflow release on one Python, installed with one constraints file."""

    airflow: str
    python: str
    constraints: str

    @property
    def label(self) -> str:
        return f"airflow-{self.airflow}-py{self.python}"


def matrix_definition() -> dict[str, Any]:
    return dict(json.loads(MATRIX_FILE.read_text()))


def matrix_lines() -> list[Line]:
    return [Line(entry["airflow"], entry["python"], entry["constraints"]) for entry in matrix_definition()["lines"]]


def matrix_results() -> dict[str, dict[str, Any]]:
    return dict(json.loads(RESULTS_FILE.read_text())) if RESULTS_FILE.exists() else {}


def recording(args: list[str]) -> tuple[bool, list[str]]:
    """Whether a run records its result in ci/matrix-results.json: under CI (``.ci/run`` sets ``CI``) or with
    ``--record``; a developer's runs leave the tracked file alone. ``args`` without ``--record``."""
    return bool(os.environ.get("CI")) or "--record" in args, [a for a in args if a != "--record"]


def record_result(key: str, result: dict[str, Any]) -> None:
    """Write one line's (or the suite's) last result into ci/matrix-results.json, keeping the others."""
    entry = {**result, "date": time.strftime("%Y-%m-%d"), "by": "CI" if os.environ.get("CI") else "dev.py"}
    # .ci/run records from two processes at once (the suite's, the matrix's): a lock file held across the
    # read and the write, and the write an atomic rename, so a reader (tests/unit/test_dev_tools.py) never
    # sees half a file.
    with _RESULTS_LOCK, (RESULTS_FILE.parent / ".matrix-results.lock").open("w") as lock:
        if os.name != "nt":
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        results = matrix_results()
        results[key] = dict(sorted(entry.items()))
        rows = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(results.items())]
        written = RESULTS_FILE.with_suffix(".json.tmp")
        written.write_text("{\n" + ",\n".join(rows) + "\n}\n")
        os.replace(written, RESULTS_FILE)


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


def _matrix_line(line: Line, tiers: list[str], log: Path) -> dict[str, Any]:
    """Install (when the pins changed) and test one line, its output in ``log``; its result (see record_result)."""
    started = time.monotonic()
    env_dir = ROOT / f".venv-{line.label}"
    py = env_dir / "bin" / "python"
    report = log.with_suffix(".xml")
    report.unlink(missing_ok=True)
    with log.open("w") as out:

        def step(*cmd: str | Path) -> int:
            out.write("+ " + " ".join(str(c) for c in cmd) + "\n")
            out.flush()
            return subprocess.run([str(c) for c in cmd], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode

        requirements = (f"apache-airflow=={line.airflow}", "-e", ".[test]")
        if not install_pinned(env_dir, find_python(line.python), (line.constraints,), requirements, step):
            elapsed = round(time.monotonic() - started)
            return {"status": "INSTALL FAILED", "install_seconds": elapsed, "seconds": elapsed}
        installed = time.monotonic() - started
        code = step(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *tiers)
    return tested_result(code, report, installed, started)


def tested_result(code: int, report: Path, installed: float, started: float) -> dict[str, Any]:
    """A matrix line's or the Celery tier's result (see record_result): pytest's exit ``code``, its JUnit
    ``report``'s counts, the install's seconds and the seconds since ``started``."""
    counts = junit_counts(report)
    return {
        "status": "passed" if code == 0 and counts["tests"] else f"FAILED (exit {code})",
        "passed": counts["passed"],
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "install_seconds": round(installed),
        "seconds": round(time.monotonic() - started),
    }


def cmd_matrix(args: list[str]) -> None:
    """Unit and integration tiers on each supported Airflow line (ci/matrix.json), each in its own pinned venv.

    ``--jobs N`` runs N lines at once (default 2: the tests mostly wait on the emulator); any other
    argument picks lines by label (``airflow-3.0.6-py3.10``) or Airflow version. Under CI or with
    ``--record``, each line's result goes to ci/matrix-results.json (``python3 dev.py matrix-table`` puts it
    in the README).
    """
    from concurrent.futures import ThreadPoolExecutor

    record, args = recording(args)
    jobs = 2
    if "--jobs" in args:
        at = args.index("--jobs")
        jobs = int(args[at + 1])
        args = args[:at] + args[at + 2 :]
    wanted = set(args)
    lines = [line for line in matrix_lines() if not wanted or line.label in wanted or line.airflow in wanted]
    if not lines:
        sys.exit(f"no line of ci/matrix.json matches {' '.join(args)}")
    tiers = list(matrix_definition()["tiers"])
    logs = ROOT / ".matrix-logs"
    logs.mkdir(exist_ok=True)

    def say(text: str) -> None:  # one write per line: print() writes the newline apart, and two lines run at once
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def one(line: Line) -> tuple[str, dict[str, Any]]:
        say(f"== {line.label}: started (log .matrix-logs/{line.label}.log)")
        result = _matrix_line(line, tiers, logs / f"{line.label}.log")
        if record:
            record_result(line.label, result)
        say(f"== {line.label}: {result['status']} in {result['seconds']} s (install {result['install_seconds']} s)")
        return line.label, result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, lines))
    for label, result in results:
        if result["status"] != "passed":
            tail = (logs / f"{label}.log").read_text(errors="replace").splitlines()[-60:]
            print(f"\n---- {label}: last lines of its log ----\n" + "\n".join(tail))
    print(f"\nCompatibility matrix ({', '.join(tiers)}; results in {RESULTS_FILE.relative_to(ROOT)}):")
    for label, result in results:
        print(
            f"  {label:<24} {result['status']:<22} install {result['install_seconds']:4d} s   "
            f"total {result['seconds']:5d} s"
        )
    if any(result["status"] != "passed" for _, result in results):
        sys.exit(1)


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
    provider with the release, Python and pins of ci/matrix.json's ``celery``. Arguments go to pytest
    (``-k triggerer``). Under CI or with ``--record``, its result goes to ci/matrix-results.json (the
    README's Compatibility table shows it in its release's and Python's cell).
    """
    started = time.monotonic()
    record, args = recording(args)
    servers = ensure_servers()
    line = matrix_definition()["celery"]
    airflow, python, constraints = line["airflow"], line["python"], tuple(line["constraints"])

    def step(*cmd: str | Path) -> int:
        print("+", " ".join(str(c) for c in cmd), flush=True)
        return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode

    requirements = (f"apache-airflow[celery,postgres]=={airflow}", "-e", ".[test]")
    if not install_pinned(CELERY_VENV, find_python(python), constraints, requirements, step):
        sys.exit("FATAL: installing the Celery tier's venv failed (pip's output above)")
    installed = time.monotonic() - started
    env = {**os.environ, "FLOWSERVICE_CELERY_TIER": "1", **servers}
    logs = ROOT / ".matrix-logs"
    logs.mkdir(exist_ok=True)
    report = logs / "celery.xml"
    report.unlink(missing_ok=True)
    pytest = [
        *(str(CELERY_VENV / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        *(f"--junitxml={report}", CELERY_TESTS, *args),
    ]
    print("+", " ".join(pytest), flush=True)
    code = subprocess.run(pytest, cwd=ROOT, env=env).returncode
    print(f"Celery tier: install {installed:.0f} s, tests {time.monotonic() - started - installed:.0f} s", flush=True)
    if record:
        result = tested_result(code, report, installed, started)
        record_result("celery", {"airflow": airflow, "python": python, **result})
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


# -- the files written from ci/matrix.json ------------------------------------------------------------------

TABLE_BEGIN = "<!-- matrix-table: written by `python3 dev.py matrix-table` from ci/matrix*.json -->"
TABLE_END = "<!-- /matrix-table -->"
CI_BEGIN = "# BEGIN matrix: written by `python3 dev.py matrix-table` from ci/matrix.json"
CI_END = "# END matrix"


def _minutes(result: dict[str, Any]) -> str:
    return f"{result['seconds'] / 60:.1f} min"


def _counts(result: dict[str, Any]) -> str:
    if not any(result.get(key) for key in ("passed", "failed", "skipped")):
        return "no test report (the test process ended early, e.g. at a pytest-timeout)"
    parts = [f"{result['failed']} failed"] if result.get("failed") else []
    parts.append(f"{result['passed']} passed")
    parts += [f"{result['skipped']} skipped"] if result.get("skipped") else []
    return ", ".join(parts)


def readme_table(definition: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    """The README's Compatibility table: a row per Airflow release, a column per supported Python."""
    pythons: list[str] = definition["pythons"]
    lines = [Line(e["airflow"], e["python"], e["constraints"]) for e in definition["lines"]]
    suite = results.get("suite")
    celery_release = [results["celery"]["airflow"]] if "celery" in results else []
    releases = list(
        dict.fromkeys([line.airflow for line in lines] + ([suite["airflow"]] if suite else []) + celery_release)
    )
    cells: dict[tuple[str, str], str] = {}
    for line in lines:
        result = results.get(line.label)
        if result is None:
            cells[line.airflow, line.python] = "not run yet"
        elif result["status"] == "passed":
            cells[line.airflow, line.python] = f"{_counts(result)} ({_minutes(result)})"
        else:
            cells[line.airflow, line.python] = f"**{result['status']}**: {_counts(result)} ({_minutes(result)})"
    if suite:
        outcome = _counts(suite) if suite["status"] == "passed" else f"**{suite['status']}**: {_counts(suite)}"
        cells[suite["airflow"], suite["python"]] = f"every tier (`python3 dev.py test`): {outcome} ({_minutes(suite)})"
    celery = results.get("celery")
    if celery:
        outcome = _counts(celery) if celery["status"] == "passed" else f"**{celery['status']}**: {_counts(celery)}"
        cell = f"deployment on Celery (`python3 dev.py celery`): {outcome} ({_minutes(celery)})"
        at = (celery["airflow"], celery["python"])
        cells[at] = f"{cells[at]}; {cell}" if at in cells else cell
    rows = [
        "| Airflow \\ Python | " + " | ".join(pythons) + " |",
        "|---" * (len(pythons) + 1) + "|",
        *(
            "| " + " | ".join([release, *(cells.get((release, py), "-") for py in pythons)]) + " |"
            for release in releases
        ),
    ]
    runs: dict[tuple[str, str], list[str]] = {}
    for line in lines:
        if line.label in results:
            runs.setdefault((results[line.label]["date"], results[line.label]["by"]), []).append(
                f"{line.airflow} on {line.python}"
            )
    if suite:
        runs.setdefault((suite["date"], suite["by"]), []).append("every tier")
    if celery:
        runs.setdefault((celery["date"], celery["by"]), []).append("Celery")
    by = {"CI": "`.ci/run` or CI", "dev.py": "`python3 dev.py` on a developer machine"}
    when = "; ".join(
        f"{date}, {by.get(who, who)}" + ("" if len(runs) == 1 else f" ({', '.join(which)})")
        for (date, who), which in sorted(runs.items())
    )
    note = ["`-`: not in the matrix. Each time includes the line's install (none when its pins did not change)."]
    note += [f"Last runs: {when}."] if when else []
    lowest = results.get("lowest")
    if lowest:
        floors = ", ".join(f"{name} {version}" for name, version in lowest["versions"].items())
        outcome = _counts(lowest) if lowest["status"] == "passed" else f"**{lowest['status']}**: {_counts(lowest)}"
        pinned = f" (and {', '.join(lowest['with'])} by hand)" if lowest.get("with") else ""
        note += [
            "",
            f"Declared floors (`python3 dev.py lowest`, {lowest['date']}): {floors}{pinned} on Python "
            f"{lowest['python']}, with the {lowest['line']} line's pins for the rest: "
            f"{', '.join(definition['tiers'])}: {outcome} ({_minutes(lowest)}).",
        ]
    return "\n".join([TABLE_BEGIN, *rows, "", *note, TABLE_END])


def ci_matrix(definition: dict[str, Any], indent: str) -> str:
    """The ``include:`` list of ci.yml's matrix job, between its markers."""
    include = [f'{indent}  - {{ airflow: "{e["airflow"]}", python: "{e["python"]}" }}' for e in definition["lines"]]
    return "\n".join([f"{indent}{CI_BEGIN}", f"{indent}include:", *include, f"{indent}{CI_END}"])


def _replace_between(text: str, begin: str, end: str, block: str, where: Path) -> str:
    """``text`` with the lines from the one holding ``begin`` to the one holding ``end`` replaced by ``block``."""
    rows = text.split("\n")
    starts = [i for i, row in enumerate(rows) if begin in row]
    ends = [i for i, row in enumerate(rows) if end in row]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        sys.exit(f"{where.relative_to(ROOT)}: expected one {begin!r} line, then one {end!r} line")
    return "\n".join([*rows[: starts[0]], block, *rows[ends[0] + 1 :]])


def matrix_files() -> dict[Path, str]:
    """ci.yml and README.md as ci/matrix.json and ci/matrix-results.json say they should read."""
    definition, results = matrix_definition(), matrix_results()
    ci = CI_FILE.read_text()
    indent = next((row.split(CI_BEGIN)[0] for row in ci.split("\n") if CI_BEGIN in row), "")
    return {
        CI_FILE: _replace_between(ci, CI_BEGIN, CI_END, ci_matrix(definition, indent), CI_FILE),
        README: _replace_between(README.read_text(), TABLE_BEGIN, TABLE_END, readme_table(definition, results), README),
    }


def cmd_matrix_table(args: list[str]) -> None:
    """Rewrite ci.yml's matrix and the README's Compatibility table; ``--check``: fail if either is stale."""
    stale = [path for path, text in matrix_files().items() if path.read_text() != text]
    if "--check" in args:
        if stale:
            sys.exit(f"out of date: {', '.join(str(p.relative_to(ROOT)) for p in stale)} (python3 dev.py matrix-table)")
        return
    for path, text in matrix_files().items():
        path.write_text(text)
    print("rewritten: " + (", ".join(str(p.relative_to(ROOT)) for p in stale) or "nothing (up to date)"))


# -- the declared floors ---------------------------------------------------------------------------------------

UV_VENV = ROOT / ".venv-uv"  # uv, in a venv of its own (its cache in UV_VENV / "cache": nothing global)
UV = "uv==0.13.9"  # the release this job was written against; raise it deliberately
LOWEST_VENV = ROOT / ".venv-lowest"
# Released in lockstep with a direct dependency (which pins them exactly): unpinned with it, or the line's
# pins would hold the dependency at the line's version.
LOCKSTEP = {"apache-airflow": ("apache-airflow-core", "apache-airflow-task-sdk"), "pydantic": ("pydantic-core",)}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_floors() -> dict[str, str]:
    """pyproject.toml's ``dependencies``: {name: floor} (read without tomllib, which Python 3.10 lacks)."""
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S)
    assert block, "pyproject.toml: no dependencies = [...]"
    floors = {}
    for spec in re.findall(r'^\s*"([^"]+)"', block.group(1), re.M):
        match = re.fullmatch(r"([A-Za-z0-9._-]+)\s*>=\s*([0-9][^,;\s]*)\s*(?:,.*)?", spec)
        if not match:
            sys.exit(f"pyproject.toml: dependency {spec!r} has no >= floor (python3 dev.py lowest tests floors)")
        floors[canonical(match.group(1))] = match.group(2)
    return floors


def cmd_lowest(args: list[str]) -> None:
    """The declared floors are true: the lowest versions of the direct runtime dependencies that the oldest
    line of ci/matrix.json accepts, with its pins for everything else, pass the unit and integration tiers.

    uv installs them (``--resolution lowest-direct``) into .venv-lowest; a floor that does not install (the
    line needs more) fails the job, naming the version to declare. ``--with SPEC`` (repeatable) adds a
    constraint, e.g. ``--with tenacity==8.2.3``. Its result goes to ci/matrix-results.json under CI or with
    ``--record`` (the README shows it under the Compatibility table).
    """
    started = time.monotonic()
    record, args = recording(args)
    extra = [args[i + 1] for i, arg in enumerate(args) if arg == "--with"]
    oldest = matrix_lines()[0]
    floors = runtime_floors()
    uv = UV_VENV / "bin" / "uv"
    if not uv.exists() or not (UV_VENV / ".installed").exists() or (UV_VENV / ".installed").read_text() != UV:
        run(sys.executable, "-m", "venv", "--clear", UV_VENV)
        run(UV_VENV / "bin" / "python", "-m", "pip", "install", "-q", UV)
        (UV_VENV / ".installed").write_text(UV)
    logs = ROOT / ".matrix-logs"
    logs.mkdir(exist_ok=True)
    unpinned = {*floors, *(c for name in floors for c in LOCKSTEP.get(name, ()))}
    constraints = logs / "lowest-constraints.txt"
    kept = [
        row
        for row in (ROOT / oldest.constraints).read_text().splitlines()
        if row.strip() and not row.startswith("#") and canonical(row.split("==")[0]) not in unpinned
    ]
    constraints.write_text(
        "\n".join([f"# {oldest.constraints} without {', '.join(sorted(unpinned))}", *kept, *extra]) + "\n"
    )
    env = {**os.environ, "UV_CACHE_DIR": str(UV_VENV / "cache"), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
    py = LOWEST_VENV / "bin" / "python"
    run(uv, "venv", "-q", "--clear", "--python", find_python(oldest.python), LOWEST_VENV, env=env)
    run(
        uv, "pip", "install", "-q", "--python", py, "--resolution", "lowest-direct", "-c", constraints, "-e", ".[test]",
        env=env,
    )  # fmt: skip
    installed = time.monotonic() - started
    probe = (
        "import json, sys; from importlib.metadata import version; from packaging.version import Version; "
        "floors = json.loads(sys.argv[1]); "
        "print(json.dumps({n: [version(n), Version(version(n)) == Version(f)] for n, f in floors.items()}))"
    )
    seen = json.loads(subprocess.run([str(py), "-c", probe, json.dumps(floors)], capture_output=True, text=True).stdout)
    print(f"\nInstalled on Python {oldest.python} with {oldest.constraints}'s other pins ({installed:.0f} s):")
    wrong = []
    for name, (version, at_floor) in seen.items():
        print(f"  {name:<40} {version:<10} declared >={floors[name]}" + ("" if at_floor else "  <- NOT THE FLOOR"))
        if not at_floor:
            wrong.append(f"{name} installs as {version}, not its declared floor {floors[name]}")
    tiers = list(matrix_definition()["tiers"])
    report = logs / "lowest.xml"
    report.unlink(missing_ok=True)
    print(f"+ pytest {' '.join(tiers)}", flush=True)
    code = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *tiers], cwd=ROOT
    ).returncode
    counts = junit_counts(report)
    total = time.monotonic() - started
    status = "passed" if code == 0 and counts["tests"] and not wrong else "FAILED"
    if record:
        record_result(
            "lowest",
            {
                "line": oldest.label,
                "python": oldest.python,
                "versions": {name: version for name, (version, _) in seen.items()},
                "with": extra,
                "status": status,
                "passed": counts["passed"],
                "failed": counts["failed"],
                "skipped": counts["skipped"],
                "seconds": round(total),
            },
        )
    print(
        f"\nDeclared floors: {status}: {_counts(counts)} in {total:.0f} s "
        f"(install {installed:.0f} s, tests {total - installed:.0f} s)"
    )
    if wrong:
        sys.exit("Floors not tested: " + "; ".join(wrong) + " (raise them in pyproject.toml)")
    if status != "passed":
        sys.exit(1)


COMMANDS = {
    "test": cmd_test,
    "lint": cmd_lint,
    "demo": cmd_demo,
    "bench": cmd_bench,
    "matrix": cmd_matrix,
    "celery": cmd_celery,
    "docs": cmd_docs,
    "matrix-table": cmd_matrix_table,
    "lowest": cmd_lowest,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [args...]")
    COMMANDS[sys.argv[1]](sys.argv[2:])
