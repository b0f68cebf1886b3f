#!/usr/bin/env python3
"""One entry point for developers and CI; needs only Python 3 (3.10+).

    python3 dev.py test    # create .venv, install the provider with test extras, run the test suite
    python3 dev.py demo    # same set-up, then run every example DAG against the bundled emulator
    python3 dev.py lint    # ruff + mypy
    python3 dev.py bench   # benchmarks/ (writes BENCHMARKS.md figures to stdout)
    python3 dev.py matrix  # unit + integration tiers on every supported Airflow line (ci/constraints/)

Each command creates ``.venv`` on first use and re-installs when pyproject.toml changed. Airflow
runs with a temporary AIRFLOW_HOME, never ~/airflow.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

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
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
    stamp.write_text(digest)


def airflow_env() -> dict[str, str]:
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
    return env


def cmd_test(args: list[str]) -> None:
    ensure_venv()
    # The suite sets its own temporary AIRFLOW_HOME in tests/conftest.py.
    run(PY, "-m", "pytest", "-q", *args)


def cmd_lint(args: list[str]) -> None:
    ensure_venv()
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy", "airflow_flowservice")


def cmd_demo(args: list[str]) -> None:
    ensure_venv()
    env = airflow_env()
    run(PY, "-m", "airflow", "db", "migrate", env=env)
    run(PY, str(ROOT / "scripts" / "demo.py"), *args, env=env)


def cmd_bench(args: list[str]) -> None:
    ensure_venv(extras="dev,benchmark")
    run(PY, str(ROOT / "benchmarks" / "run_all.py"), *args, env=airflow_env())


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


def cmd_matrix(args: list[str]) -> None:
    """Unit and integration tiers on each supported Airflow line, each in its own pinned venv."""
    wanted = set(args)
    results: list[tuple[str, str, str, float]] = []
    for airflow, python, constraints in MATRIX:
        label = f"airflow-{airflow}-py{python}"
        if wanted and label not in wanted and airflow not in wanted:
            continue
        started = time.monotonic()
        env_dir = ROOT / f".venv-{label}"
        py = env_dir / "bin" / "python"
        stamp = env_dir / ".installed"
        digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + (ROOT / constraints).read_bytes()).hexdigest()
        if not (stamp.exists() and stamp.read_text() == digest):
            print(f"== {label}: creating {env_dir.name} (pip install, constraints {constraints})", flush=True)
            run(find_python(python), "-m", "venv", "--clear", env_dir)
            run(py, "-m", "pip", "install", "-qq", "--upgrade", "pip")
            run(
                py,
                "-m",
                "pip",
                "install",
                "--progress-bar",
                "off",
                "-qq",
                "-c",
                constraints,
                f"apache-airflow=={airflow}",
                "-e",
                ".[test]",
            )
            stamp.write_text(digest)
        installed = time.monotonic() - started
        print(f"== {label}: unit + integration tiers", flush=True)
        result = subprocess.run([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", *MATRIX_TIERS], cwd=ROOT)
        elapsed = time.monotonic() - started
        status = "passed" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        results.append((label, status, f"install {installed:.0f} s", elapsed))
        print(f"== {label}: {status} in {elapsed:.0f} s", flush=True)
    print("\nCompatibility matrix (unit + integration tiers):")
    for label, status, install, elapsed in results:
        print(f"  {label:<24} {status:<22} {install:<14} total {elapsed:.0f} s")
    if any(status != "passed" for _, status, _, _ in results):
        sys.exit(1)


COMMANDS = {"test": cmd_test, "lint": cmd_lint, "demo": cmd_demo, "bench": cmd_bench, "matrix": cmd_matrix}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [args...]")
    COMMANDS[sys.argv[1]](sys.argv[2:])
