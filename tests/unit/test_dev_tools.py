"""The developer entry points: temporary AIRFLOW_HOMEs are removed; the demo keeps Airflow's output in a file."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dev_airflow_env_removes_its_home_also_on_failure() -> None:
    dev = _load("dev", ROOT / "dev.py")
    with dev.airflow_env() as env:
        home = Path(env["AIRFLOW_HOME"])
        (home / "airflow.db").write_text("x")
    assert not home.exists()
    homes: list[Path] = []

    def failing_command() -> None:
        with dev.airflow_env() as env:
            homes.append(Path(env["AIRFLOW_HOME"]))
            raise SystemExit(1)  # what dev.run does when a command fails

    with pytest.raises(SystemExit):
        failing_command()
    assert homes and not homes[0].exists()


def test_the_test_sessions_airflow_home_is_removed_at_exit() -> None:
    probe = (
        "import runpy, os; runpy.run_path(os.path.join('tests', 'conftest.py')); "
        "home = os.environ['AIRFLOW_HOME']; open(os.path.join(home, 'airflow.db'), 'w').close(); print(home)"
    )
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_HOME"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    home = Path(out.stdout.strip().splitlines()[-1])
    assert home.name.startswith("flowservice-airflow-home-")
    assert not home.exists()


DEMO_PROBE = """
import logging, subprocess, sys
sys.path.insert(0, "scripts")
from demo import output_to
with output_to(__import__("pathlib").Path(sys.argv[1])) as terminal:
    terminal.write("step 1 done\\n")
    print("airflow says a lot")
    logging.basicConfig()
    logging.getLogger("airflow").warning("a warning from a logger")
    subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('from a child process')"])
print("after")
"""


def test_demo_sends_airflows_output_to_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    out = subprocess.run(
        [sys.executable, "-c", DEMO_PROBE, str(log)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout == "step 1 done\nafter\n"
    assert out.stderr == ""
    text = log.read_text()
    assert "airflow says a lot" in text and "a warning from a logger" in text and "from a child process" in text


# -- the one matrix definition (ci/matrix.json) and what is written from it ------------------------------------


def _readme_table(dev: Any) -> dict[tuple[str, str], str]:
    """The README's Compatibility table, between its markers: {(Airflow release, Python): cell}."""
    text = (ROOT / "README.md").read_text()
    block = text.split(dev.TABLE_BEGIN, 1)[1].split(dev.TABLE_END, 1)[0]
    rows = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in block.splitlines()]
    rows = [row for row in rows if len(row) > 1 and not row[0].startswith("---")]
    header, body = rows[0], rows[1:]
    assert header[0] == "Airflow \\ Python"
    return {(row[0], python): cell for row in body for python, cell in zip(header[1:], row[1:], strict=True)}


def test_the_matrix_definition_ci_workflow_readme_table_and_constraints_agree() -> None:
    import yaml

    dev = _load("dev", ROOT / "dev.py")
    definition, lines = dev.matrix_definition(), dev.matrix_lines()
    labels = [line.label for line in lines]
    assert len(set(labels)) == len(labels), labels

    def key(line: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(map(int, line.airflow.split("."))), tuple(map(int, line.python.split(".")))

    assert lines[0] == min(lines, key=key), "the first line is the oldest (python3 dev.py lowest tests it)"

    # The supported Pythons are pyproject.toml's classifiers; every line and the suite run one of them.
    classifiers = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', (ROOT / "pyproject.toml").read_text())
    assert definition["pythons"] == classifiers
    assert {line.python for line in lines} | {definition["suite_python"]} <= set(classifiers)
    assert all((ROOT / tier).is_dir() for tier in definition["tiers"])

    # ci.yml: the matrix job runs exactly the lines, the suite job the suite's Python, the floors job the oldest line's.
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    include = [{"airflow": line.airflow, "python": line.python} for line in lines]
    assert jobs["matrix"]["strategy"]["matrix"]["include"] == include
    assert "python3 dev.py matrix airflow-${{ matrix.airflow }}-py${{ matrix.python }}" in str(jobs["matrix"]["steps"])

    def pythons(job: str) -> list[str]:
        return [step["with"]["python-version"] for step in jobs[job]["steps"] if "setup-python" in step.get("uses", "")]

    assert pythons("suite")[0] == definition["suite_python"]
    assert pythons("lowest")[0] == lines[0].python
    # ... and ci.yml reads as `python3 dev.py matrix-table` writes it.
    assert dev.matrix_files()[dev.CI_FILE] == dev.CI_FILE.read_text(), "run python3 dev.py matrix-table"

    # The README table: a row per release, a cell per line, '-' where no line is; the suite's cell on its Python.
    table = _readme_table(dev)
    assert list(dict.fromkeys(python for _, python in table)) == definition["pythons"]
    suite = dev.matrix_results().get("suite")
    expected = {(line.airflow, line.python) for line in lines} | (
        {(suite["airflow"], suite["python"])} if suite else set()
    )
    celery_result = dev.matrix_results().get("celery")
    expected |= {(celery_result["airflow"], celery_result["python"])} if celery_result else set()
    assert {cell for cell, text in table.items() if text != "-"} == expected
    assert {release for release, _ in table} == {release for release, _ in expected}

    # ci/constraints/: a file per line, for its Airflow release and Python, named as make_constraints.py names it.
    make_constraints = _load("make_constraints", ROOT / "ci" / "make_constraints.py")
    for line in lines:
        path = ROOT / line.constraints
        text = path.read_text()
        assert text.startswith(f"# Constraints for apache-airflow=={line.airflow} on Python {line.python}."), path
        assert f"\napache-airflow=={line.airflow}\n" in text, path
        python = tuple(map(int, line.python.split(".")))
        release = ".".join(line.airflow.split(".")[:2])
        assert path == make_constraints.default_output(release, (*python, 0)), path
    files = {p.relative_to(ROOT).as_posix() for p in (ROOT / "ci" / "constraints").glob("*.txt")}
    celery = definition["celery"]
    celery_pins = (ROOT / celery["constraints"][0]).read_text()
    header = f"# Constraints for apache-airflow=={celery['airflow']} on Python {celery['python']}."
    assert celery_pins.startswith(header)
    assert files == {line.constraints for line in lines} | set(celery["constraints"]), "a constraints file no line uses"


def test_the_matrix_table_shows_each_lines_last_result() -> None:
    dev = _load("dev", ROOT / "dev.py")
    definition = {
        "pythons": ["3.10", "3.11"],
        "suite_python": "3.11",
        "tiers": ["tests/unit"],
        "lines": [
            {"airflow": "3.0.6", "python": "3.10", "constraints": "a.txt"},
            {"airflow": "3.1.8", "python": "3.10", "constraints": "b.txt"},
            {"airflow": "3.1.8", "python": "3.11", "constraints": "c.txt"},
        ],
    }
    day = {"date": "2026-12-07", "by": "CI"}
    results = {
        "airflow-3.0.6-py3.10": {**day, "status": "passed", "passed": 301, "failed": 0, "skipped": 3, "seconds": 378},
        "airflow-3.1.8-py3.10": {
            **day,
            "status": "FAILED (exit 1)",
            "passed": 300,
            "failed": 4,
            "skipped": 0,
            "seconds": 60,
        },
        "suite": {
            **day,
            "airflow": "3.3.2",
            "python": "3.11",
            "status": "passed",
            "passed": 648,
            "failed": 0,
            "seconds": 786,
        },
    }
    table = dev.readme_table(definition, results)
    assert table.splitlines()[1:6] == [
        "| Airflow \\ Python | 3.10 | 3.11 |",
        "|---|---|---|",
        "| 3.0.6 | 301 passed, 3 skipped (6.3 min) | - |",
        "| 3.1.8 | **FAILED (exit 1)**: 4 failed, 300 passed (1.0 min) | not run yet |",
        "| 3.3.2 | - | every tier (`python3 dev.py test`): 648 passed (13.1 min) |",
    ]
    assert "Last runs: 2026-12-07, `.ci/run` or CI." in table
    celery = {**day, "airflow": "3.3.2", "python": "3.10", "status": "passed", "passed": 17, "failed": 0}
    celery["seconds"] = 600
    table = dev.readme_table(definition, {**results, "celery": celery})
    assert table.splitlines()[5] == (
        "| 3.3.2 | deployment on Celery (`python3 dev.py celery`): 17 passed (10.0 min) "
        "| every tier (`python3 dev.py test`): 648 passed (13.1 min) |"
    )
    ended = {**day, "status": "FAILED (exit 1)", "passed": 0, "failed": 0, "skipped": 0, "seconds": 330}
    table = dev.readme_table(definition, {**results, "airflow-3.0.6-py3.10": ended})
    assert "| 3.0.6 | **FAILED (exit 1)**: no test report (the test process ended early" in table


def test_every_runtime_dependency_declares_a_floor_the_lowest_job_can_install() -> None:
    dev = _load("dev", ROOT / "dev.py")
    floors = dev.runtime_floors()
    assert "apache-airflow" in floors and "tenacity" in floors
    assert set(dev.LOCKSTEP) <= set(floors)


def test_pre_commit_runs_the_lint_jobs_tools_from_the_venv() -> None:
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert all(repo["repo"] == "local" for repo in config["repos"]), "nothing fetched at commit time"
    assert hooks["ruff-check"]["entry"].startswith(".venv/bin/ruff check")
    assert hooks["ruff-format"]["entry"].startswith(".venv/bin/ruff format")
    assert hooks["mypy"]["entry"] == ".venv/bin/mypy airflow_flowservice"
    assert '"ASYNC"' in (ROOT / "pyproject.toml").read_text().split("[tool.ruff.lint]")[1].split("\n[")[0]
