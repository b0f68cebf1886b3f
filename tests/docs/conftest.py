"""Fixtures of the docs tier: temporary Airflow homes for shell blocks, DAG files from blocks, a port lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.docs.blocks import block
from tests.example_connections import set_credentials

TIMEOUT = 600
BIN = Path(sys.executable).parent


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The extra connections, in this process and for the shell blocks."""
    return set_credentials(monkeypatch)


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's shell: this venv first on PATH, a fresh AIRFLOW_HOME, none of this session's Airflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["AIRFLOW_HOME"] = str(home)
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``airflow db migrate`` once, in a home of its own; tests copy the resulting airflow.db."""
    home = tmp_path_factory.mktemp("migrated-home")
    result = subprocess.run(
        [BIN / "airflow", "db", "migrate"], env=user_env(home), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return home / "airflow.db"


@pytest.fixture
def airflow_home(tmp_path: Path) -> Path:
    home = tmp_path / "airflow-home"
    home.mkdir()
    return home


@pytest.fixture
def migrated_home(airflow_home: Path, migrated_db: Path) -> Path:
    """An AIRFLOW_HOME whose metadata DB is already migrated (what ``airflow db migrate`` leaves)."""
    shutil.copyfile(migrated_db, airflow_home / "airflow.db")
    return airflow_home


class Shell:
    """Runs a doc's shell block with bash, as a user would paste it, and keeps what it printed."""

    def __init__(self) -> None:
        self.groups: list[int] = []

    def run(self, script: str, env: dict[str, str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        # Output goes to a file, not a pipe: a job the block leaves in the background (`... &`) keeps
        # its stdout open after bash exits, and reading a pipe to its end would wait for that job.
        with tempfile.TemporaryFile("w+") as output:
            proc = subprocess.Popen(
                ["bash", "-e", "-c", script],
                cwd=cwd,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its own process group: background jobs are ended with it
            )
            self.groups.append(proc.pid)
            proc.wait(timeout=TIMEOUT)
            output.seek(0)
            out = output.read()
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, "")
        if check:
            assert result.returncode == 0, f"exit {result.returncode}:\n{out[-6000:]}"
        return result

    def stop(self) -> None:
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError):  # nothing of the block is left running
                os.killpg(group, signal.SIGTERM)


@pytest.fixture
def shell() -> Iterator[Shell]:
    runner = Shell()
    try:
        yield runner
    finally:
        runner.stop()


def run_script(path: Path, env: dict[str, str], cwd: Path) -> str:
    """``python <path>`` in a user's environment; its output."""
    result = subprocess.run(
        [BIN / "python", str(path)], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result.stdout


@pytest.fixture
def write_block(tmp_path: Path) -> Callable[..., Path]:
    """``write_block(block_id, path)``: the block's text, unchanged, in a file (relative paths under tmp_path)."""

    def write(block_id: str, path: str | Path) -> Path:
        target = Path(path) if Path(path).is_absolute() else tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block(block_id).text)
        return target

    return write


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def port_8081() -> Iterator[int]:
    """The docs' emulator port (8081), held by one test at a time on this machine (a lock file)."""
    with open(os.path.join("/tmp", "airflow-flowservice-docs-port-8081.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            assert _port_free(8081), "port 8081 (the docs' emulator port) is in use by another program"
            yield 8081
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
