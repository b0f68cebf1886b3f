#!/usr/bin/env python3
"""Produce a pip constraints file for one Airflow release and one Python.

    python3 ci/make_constraints.py --airflow 3.0.6 --python /root/.pyenv/versions/3.10.13/bin/python

Creates a venv with the given Python, installs ``apache-airflow==<version>`` plus the provider's
runtime, test and testing requirements (REQUIREMENTS below) and the lower pins that the Airflow
line needs to work at all (KNOWN_PINS), smoke-tests the result (import, ``airflow db migrate``,
``dag.test()`` of a one-task DAG) and writes ``pip freeze`` (without the provider itself and
without editable or direct-URL lines) to ``ci/constraints/airflow-<major>.<minor>.txt``, or
``airflow-<major>.<minor>-py<XY>.txt`` for a Python other than BASE_PYTHON.

The result is meant for::

    pip install -c ci/constraints/airflow-3.0.txt 'apache-airflow==3.0.6' -e '.[test]'

With ``--extras celery,postgres`` it installs ``apache-airflow[celery,postgres]`` on top of the line's
constraints file (which must exist: it is passed with ``-c``, so every pin of it holds), applies
EXTRA_PINS, checks that the extras' providers import, and writes only the packages the extras add
(``airflow-<major>.<minor>[-pyXY]-celery-postgres.txt``), to be used next to the line's file::

    pip install -c ci/constraints/airflow-3.3.txt -c ci/constraints/airflow-3.3-celery-postgres.txt \
        'apache-airflow[celery,postgres]==3.3.2' -e '.[test]'

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONSTRAINTS_DIR = HERE / "constraints"
PROVIDER_DIST = "airflow-provider-flowservice"
BASE_PYTHON = (3, 10)

# Runtime deps, the [test] extra and the (planned) [testing] extra of pyproject.toml. Kept unpinned
# here: the constraints file records what they resolved to next to the given Airflow release.
REQUIREMENTS: tuple[str, ...] = (
    "apache-airflow-providers-common-compat",
    "apache-airflow-providers-openlineage",
    "httpx>=0.27",
    "pydantic>=2.6",
    "pendulum>=3.0",
    "tenacity>=8.2",
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "jsonschema>=4.20",
    "pyyaml>=6",
    "fastapi",
    "uvicorn",
)

# Lower pins an Airflow line needs because newer releases of its dependencies break Airflow itself
# (found by the smoke test below; see the comment of each pin). Keyed by "<major>.<minor>".
KNOWN_PINS: dict[str, tuple[tuple[str, str], ...]] = {
    "3.0": (
        (
            "fastapi<0.121",
            "fastapi>=0.121 needs cadwyn>=5.6, whose versioned routers break 3.0's execution API "
            "(TypeError: unhashable type 'Depends'; with cadwyn 8: 422 'Input should be a valid "
            "dictionary' on PATCH task-instances/{id}/run), so every task fails",
        ),
        ("cadwyn<5.6", "cadwyn 5.6 with fastapi 0.120: TypeError: unhashable type: 'Depends'"),
    ),
    "3.1": (),  # 3.1.8 caps fastapi<0.118 itself; latest everything else works
    "3.2": (
        (
            "svcs<26",
            "svcs 26's lifespan leaves app.state.svcs_registry unset in 3.2's in-process execution "
            "API: AttributeError 'State' object has no attribute 'svcs_registry', every task fails",
        ),
        (
            "fastapi<0.137",
            "fastapi>=0.156.1 fails building 3.2's execution API routes (PydanticUserError: Model "
            "'TITerminalStatePayload' needs a discriminator field); <0.137 is Airflow 3.3's own cap",
        ),
    ),
    "3.3": (),  # 3.3.2 caps fastapi<0.137 itself; latest everything else works
}

# Lower pins the extras need (same form as KNOWN_PINS), keyed by "<major>.<minor>".
EXTRA_PINS: dict[str, tuple[tuple[str, str], ...]] = {
    "3.3": (
        (
            "celery<5.7",
            "celery 5.7.0 breaks the import of apache-airflow-providers-celery 3.26.0 (issue 26); with the pins "
            "of airflow-3.3.txt pip also resolves 5.6 (5.7.0 needs a newer python-dateutil)",
        ),
    ),
}

# What must import once the extras are installed (the executor and the hook the deployment tier uses).
EXTRA_IMPORTS: dict[str, str] = {
    "celery": "airflow.providers.celery.executors.celery_executor",
    "postgres": "airflow.providers.postgres.hooks.postgres",
}

SMOKE_DAG = """\
import pendulum
from airflow.sdk import DAG, task

try:
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:
    from airflow.operators.python import PythonOperator

with DAG("smoke", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False) as dag:
    first = PythonOperator(task_id="first", python_callable=lambda: 41)

    @task
    def plus_one(x):
        return x + 1

    plus_one(first.output)

if __name__ == "__main__":
    run = dag.test()
    raise SystemExit(0 if run.state == "success" else f"dag run ended {run.state}")
"""


def line_of(airflow_version: str) -> str:
    match = re.fullmatch(r"(\d+)\.(\d+)\.\d+(?:\S*)", airflow_version)
    if not match:
        raise SystemExit(f"--airflow must be a full release such as 3.0.6, not {airflow_version!r}")
    return f"{match.group(1)}.{match.group(2)}"


def python_version(python: str) -> tuple[int, int, int]:
    out = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:3])"], check=True, capture_output=True, text=True
    ).stdout
    major, minor, micro = (int(part) for part in out.split())
    return major, minor, micro


def default_output(line: str, py: tuple[int, int, int], extras: list[str] | None = None) -> Path:
    suffix = "" if py[:2] == BASE_PYTHON else f"-py{py[0]}{py[1]}"
    suffix += "".join(f"-{extra}" for extra in extras or [])
    return CONSTRAINTS_DIR / f"airflow-{line}{suffix}.txt"


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, quiet: bool = False) -> None:
    """Run ``cmd``; with ``quiet`` its output is shown only when it fails (Airflow logs a lot)."""
    print("+", shlex.join(cmd), flush=True)
    if not quiet:
        subprocess.run(cmd, check=True, env=env, cwd=cwd)
        return
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout[-20000:], result.stderr[-20000:], sep="\n", file=sys.stderr, flush=True)
        raise subprocess.CalledProcessError(result.returncode, cmd)


def smoke_test(venv_python: Path) -> None:
    """Import the SDK, migrate a sqlite metadata DB and run a two-task DAG through dag.test()."""
    with tempfile.TemporaryDirectory(prefix="constraints-airflow-home-") as home:
        dags = Path(home) / "dags"
        dags.mkdir()
        (dags / "smoke_dag.py").write_text(SMOKE_DAG)
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
        run([str(venv_python), "-c", "import airflow; from airflow.sdk import DAG; print(airflow.__version__)"], env)
        run([str(venv_python), "-m", "airflow", "db", "migrate"], env, quiet=True)
        run([str(venv_python), str(dags / "smoke_dag.py")], env, cwd=Path(home), quiet=True)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def frozen_lines(venv_python: Path) -> list[str]:
    out = subprocess.run(
        [str(venv_python), "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout
    lines = []
    for raw in out.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-e", "--")) or " @ " in line:
            continue
        if normalise(line.split("==", 1)[0]) == PROVIDER_DIST:
            continue
        lines.append(line)
    return sorted(lines, key=lambda entry: normalise(entry.split("==", 1)[0]))


def frozen_lines_of(constraints: Path) -> list[str]:
    """The ``name==version`` lines of a constraints file."""
    return [line.strip() for line in constraints.read_text().splitlines() if "==" in line and not line.startswith("#")]


def header(
    argv: list[str],
    airflow_version: str,
    py: tuple[int, int, int],
    pins: list[tuple[str, str]],
    name: str,
    base: str | None = None,
    extras: str = "",
) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        f"# Constraints for apache-airflow=={airflow_version} on Python {'.'.join(map(str, py))}.",
        f"# Produced {now} by: python3 ci/{Path(__file__).name} {shlex.join(argv)}",
    ]
    if base is None:
        rows += [
            "# = pip freeze of a fresh venv with apache-airflow==<version> plus ci/make_constraints.py's REQUIREMENTS",
            "#   (provider runtime deps, [test] and [testing] extras), smoke-tested (db migrate + dag.test()).",
            f"# Use: pip install -c ci/constraints/{name} 'apache-airflow=={airflow_version}' -e '.[test]'",
        ]
    else:
        rows += [
            f"# = what apache-airflow[{extras}] adds to {base} (installed with -c {base}, so its pins hold),",
            "#   smoke-tested (db migrate + dag.test(), and the extras' providers import).",
            f"# Use: pip install -c ci/constraints/{base} -c ci/constraints/{name} \\",
            f"#        'apache-airflow[{extras}]=={airflow_version}' -e '.[test]'",
        ]
    if pins:
        rows.append("# Lower pins applied because newer releases break this Airflow line:")
        rows += [f"#   {spec}: {why}" for spec, why in pins]
    else:
        rows.append("# No lower pins were needed for this Airflow line.")
    return "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--airflow", required=True, help="full apache-airflow release, e.g. 3.0.6")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the venv (default: this one)")
    parser.add_argument("--venv", type=Path, help="venv directory to (re)create and keep (default: a temp dir)")
    parser.add_argument("--output", type=Path, help="constraints file (default: ci/constraints/airflow-X.Y[-pyXY].txt)")
    parser.add_argument("--no-smoke", action="store_true", help="skip the import/db migrate/dag.test() check")
    parser.add_argument(
        "--without-known-pins", action="store_true", help="skip KNOWN_PINS (to check whether they are still needed)"
    )
    parser.add_argument(
        "--extras",
        default="",
        help="Airflow extras, e.g. celery,postgres: write only what they add to the line's constraints file",
    )
    args = parser.parse_args(argv)

    line = line_of(args.airflow)
    py = python_version(args.python)
    extras = [extra.strip() for extra in args.extras.split(",") if extra.strip()]
    pins = [] if args.without_known_pins else list(KNOWN_PINS.get(line, ()))
    base: Path | None = None
    if extras:
        base = default_output(line, py)
        if not base.exists():
            raise SystemExit(f"--extras needs {base} first (run this script without --extras)")
        pins += [] if args.without_known_pins else list(EXTRA_PINS.get(line, ()))
    output: Path = args.output or default_output(line, py, extras)

    keep_venv = args.venv is not None
    venv_dir: Path = args.venv if keep_venv else Path(tempfile.mkdtemp(prefix="constraints-venv-"))
    venv_python = venv_dir / "bin" / "python"
    started = time.monotonic()
    try:
        run([args.python, "-m", "venv", "--clear", str(venv_dir)])
        run([str(venv_python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run(
            [
                str(venv_python),
                "-m",
                "pip",
                "install",
                "--quiet",
                *(["-c", str(base)] if base else []),
                f"apache-airflow[{','.join(extras)}]=={args.airflow}" if extras else f"apache-airflow=={args.airflow}",
                *REQUIREMENTS,
                *(spec for spec, _ in pins),
            ]
        )
        installed = time.monotonic() - started
        if not args.no_smoke:
            smoke_test(venv_python)
            for extra in extras:
                if extra in EXTRA_IMPORTS:
                    run([str(venv_python), "-c", f"import {EXTRA_IMPORTS[extra]}"], quiet=True)
        lines = frozen_lines(venv_python)
        if base is not None:
            pinned = {normalise(entry.split("==", 1)[0]) for entry in frozen_lines_of(base)}
            lines = [entry for entry in lines if normalise(entry.split("==", 1)[0]) not in pinned]
    finally:
        if not keep_venv:
            shutil.rmtree(venv_dir, ignore_errors=True)

    output.parent.mkdir(parents=True, exist_ok=True)
    head = header(argv, args.airflow, py, pins, output.name, base.name if base else None, ",".join(extras))
    output.write_text(head + "\n".join(lines) + "\n")
    print(f"wrote {output} ({len(lines)} pins); venv install took {installed:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
