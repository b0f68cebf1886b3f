#!/usr/bin/env python3
"""One entry point for developers and CI; needs only Python 3 (3.10+).

    python3 dev.py test    # create .venv, install the provider with test extras, run the test suite
    python3 dev.py demo    # same set-up, then run every example DAG against the bundled emulator
    python3 dev.py lint    # ruff + mypy
    python3 dev.py bench   # benchmarks/ (writes BENCHMARKS.md figures to stdout)

Each command creates ``.venv`` on first use and re-installs when pyproject.toml changed. Airflow
runs with a temporary AIRFLOW_HOME, never ~/airflow.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
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


COMMANDS = {"test": cmd_test, "lint": cmd_lint, "demo": cmd_demo, "bench": cmd_bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [args...]")
    COMMANDS[sys.argv[1]](sys.argv[2:])
