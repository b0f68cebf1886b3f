"""The CLI (``python -m airflow_flowservice.testing.emulator``) and the pytest plugin fixtures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import pytest

from airflow_flowservice.testing import FlowServiceEmulator

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_cleanly(sig: signal.Signals) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_flowservice.testing.emulator",
            "--port",
            str(port),
            "--clock",
            "manual",
            "--run-timeline",
            "1,2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        uri, journal_url = _read_startup(proc)
        parts = urlsplit(uri)
        assert parts.scheme == "adobe-flowservice"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert "events_journal_url" not in query  # without --journal, the connection polls as before
        assert journal_url == (
            f"http://127.0.0.1:{port}/events/organizations/emulator-consumer-org/integrations/emulator-integration"
            "/emulator-flow-runs"
        )
        assert query["ims_url"] == f"http://127.0.0.1:{port}/ims/token/v3"
        assert query["api_url"] == f"http://127.0.0.1:{port}/data/foundation/flowservice"
        r = httpx.post(
            query["ims_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": unquote(parts.username or ""),
                "client_secret": unquote(parts.password or ""),
                "scope": "openid",
            },
        )
        assert r.status_code == 200 and r.json()["token_type"] == "bearer"
        headers = {
            "Authorization": f"Bearer {r.json()['access_token']}",
            "x-api-key": unquote(parts.username or ""),
            "x-gw-ims-org-id": query["org_id"],
            "x-sandbox-name": query["sandbox"],
        }
        assert httpx.get(query["api_url"] + "/flows", headers=headers).json() == {"items": [], "_links": {}}
        # the admin endpoints steer the CLI emulator from another process
        clock = httpx.post(f"http://127.0.0.1:{port}/_emulator/clock", json={"advance": 10}).json()
        assert clock["mode"] == "manual"
    finally:
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0


def _read_startup(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """``(connection URI, journal URL)`` the CLI prints, each on a line of its own, the connection last."""
    uri = journal_url = ""
    assert proc.stdout is not None
    for _ in range(20):
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("FLOWSERVICE_EVENTS_JOURNAL_URL="):
            journal_url = line.strip().split("=", 1)[1]
        if line.startswith("AIRFLOW_CONN_FLOWSERVICE_DEFAULT="):
            uri = line.strip().split("=", 1)[1]
            break
    assert uri and journal_url, proc.stderr.read() if proc.stderr else "no output"
    return uri, journal_url


def test_cli_journal_flag_puts_the_journal_in_the_connection() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "airflow_flowservice.testing.emulator", "--port", "0", "--journal"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        uri, journal_url = _read_startup(proc)
        query = {k: v[0] for k, v in parse_qs(urlsplit(uri).query).items()}
        assert query["events_journal_url"] == journal_url
        parts = urlsplit(uri)
        token = httpx.post(
            query["ims_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": unquote(parts.username or ""),
                "client_secret": unquote(parts.password or ""),
            },
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": unquote(parts.username or ""),
            "x-ims-org-id": query["org_id"],
        }
        answer = httpx.get(journal_url, headers=headers, params={"latest": "true"})
        assert answer.status_code == 204 and answer.headers["link"].startswith(f"<{journal_url}?since=")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=15) == 0
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def test_cli_rejects_non_loopback_host() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "airflow_flowservice.testing.emulator", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert proc.returncode == 2 and "loopback" in proc.stderr


def test_default_port_is_not_airflows_api_server_port() -> None:
    """The CLI default and every documented command line keep off Airflow 3's api-server port."""
    from airflow.configuration import conf

    from airflow_flowservice.testing.emulator.__main__ import DEFAULT_PORT

    api_server_port = conf.getint("api", "port")
    assert api_server_port == 8080 and DEFAULT_PORT == 8081
    documented = [REPO_ROOT / "README.md", *REPO_ROOT.glob("docs/*.md"), *REPO_ROOT.glob("example_dags/*.py")]
    for path in documented:
        for line in path.read_text().splitlines():
            if "testing.emulator --port" in line or "emulator listening on" in line:
                assert f":{api_server_port}" not in line and f"--port {api_server_port}" not in line, (path, line)


def test_connection_uri_round_trips_through_airflow() -> None:
    from airflow.models.connection import Connection

    emu = FlowServiceEmulator(client_id="id with:odd/chars", client_secret="p@ss:w/rd?#", sandbox="my-sandbox")
    emu._port = 8081  # no need to serve for this check
    conn = Connection(conn_id="flowservice_default", uri=emu.connection_uri())
    assert conn.conn_type == "adobe_flowservice"
    assert conn.login == "id with:odd/chars"
    assert conn.password == "p@ss:w/rd?#"
    assert conn.extra_dejson == {
        "org_id": emu.org_id,
        "sandbox": "my-sandbox",
        "ims_url": "http://127.0.0.1:8081/ims/token/v3",
        "api_url": "http://127.0.0.1:8081/data/foundation/flowservice",
    }
    assert emu.connection_env() == {"AIRFLOW_CONN_FLOWSERVICE_DEFAULT": emu.connection_uri()}


def test_connection_with_the_journal_round_trips_through_airflow_and_the_provider() -> None:
    from airflow.models.connection import Connection

    from airflow_flowservice.hooks.connection import journal_url_of

    emu = FlowServiceEmulator()
    emu._port = 8081  # no need to serve for this check
    journal = "http://127.0.0.1:8081/events/organizations/emulator-consumer-org/integrations/emulator-integration/emulator-flow-runs"
    assert emu.journal_url == journal
    (uri,) = emu.connection_env(journal=True).values()
    assert (
        uri
        == emu.connection_uri(journal=True)
        == emu.connection_uri() + "&events_journal_url=" + quote(journal, safe="")
    )
    extra = Connection(conn_id="flowservice_default", uri=uri).extra_dejson
    assert extra["events_journal_url"] == journal
    assert journal_url_of("flowservice_default", extra) == journal  # http is accepted on loopback


def test_plugin_fixture(flowservice_emulator: FlowServiceEmulator) -> None:
    assert os.environ["AIRFLOW_CONN_FLOWSERVICE_DEFAULT"] == flowservice_emulator.connection_uri()
    assert "events_journal_url" not in os.environ["AIRFLOW_CONN_FLOWSERVICE_DEFAULT"]  # the fixture polls, as before
    assert flowservice_emulator.journal_url.startswith(flowservice_emulator.base_url + "/events/organizations/")
    assert flowservice_emulator.base_url.startswith("http://127.0.0.1:")
    r = httpx.post(
        flowservice_emulator.ims_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "emulator-client",
            "client_secret": "emulator-secret",
        },
    )
    assert r.status_code == 200
    assert flowservice_emulator.clock.mode == "real"


def test_plugin_session_fixture(flowservice_emulator_session: FlowServiceEmulator) -> None:
    assert flowservice_emulator_session.base_url.startswith("http://127.0.0.1:")
    flowservice_emulator_session.reset()


def test_context_manager_and_restart() -> None:
    emu = FlowServiceEmulator()
    with emu:
        url = emu.base_url
        assert httpx.get(url + "/_emulator/clock").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_emulator/clock", timeout=2)
    emu.stop()  # idempotent


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FlowServiceEmulator(host="0.0.0.0")
    with pytest.raises(ValueError, match="run_timeline"):
        FlowServiceEmulator(run_timeline=(2.0, 1.0))
    with pytest.raises(ValueError, match="clock"):
        FlowServiceEmulator(clock="fast")
