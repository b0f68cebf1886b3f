"""The developer entry points: temporary AIRFLOW_HOMEs are removed; the demo keeps Airflow's output in a file."""

from __future__ import annotations

import importlib.util
import os
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


def test_pre_commit_runs_the_lint_jobs_tools_from_the_venv() -> None:
    import yaml

    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert all(repo["repo"] == "local" for repo in config["repos"]), "nothing fetched at commit time"
    assert hooks["ruff-check"]["entry"].startswith(".venv/bin/ruff check")
    assert hooks["ruff-format"]["entry"].startswith(".venv/bin/ruff format")
    assert hooks["mypy"]["entry"] == ".venv/bin/mypy airflow_flowservice"
    assert '"ASYNC"' in (ROOT / "pyproject.toml").read_text().split("[tool.ruff.lint]")[1].split("\n[")[0]
