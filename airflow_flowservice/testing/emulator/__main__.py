"""Command line: ``python -m airflow_flowservice.testing.emulator --port 8081``.

Prints ``FLOWSERVICE_EVENTS_JOURNAL_URL=<url>`` (the I/O Events journal of the default registration) and
then ``AIRFLOW_CONN_FLOWSERVICE_DEFAULT=<uri>``, each on a line of its own (the connection line last:
readers may stop at it), then serves until SIGINT or SIGTERM (exit code 0). ``--journal`` puts the
journal in the connection (extra ``events_journal_url``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ORG_ID,
    DEFAULT_SANDBOX,
    FlowServiceEmulator,
)

#: The command line's default port: not 8080, which is Airflow 3's api-server default (``[api] port``),
#: so the emulator and a local Airflow deployment can run side by side.
DEFAULT_PORT = 8081


def _timeline(value: str) -> tuple[float, float]:
    parts = [p for p in value.replace(" ", "").split(",") if p]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError("expected two numbers: IN_PROGRESS,FINISHED (seconds), e.g. 1,2")
    try:
        return float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_flowservice.testing.emulator",
        description="Local Adobe Flow Service + IMS emulator (binds 127.0.0.1 only).",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT}; 0 = any free port)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--clock", choices=["real", "manual"], default="real")
    parser.add_argument("--run-timeline", type=_timeline, default=(1.0, 2.0), metavar="IN_PROGRESS,FINISHED")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--org-id", default=DEFAULT_ORG_ID)
    parser.add_argument("--sandbox", default=DEFAULT_SANDBOX)
    parser.add_argument("--token-ttl", type=float, default=86399, help="expires_in of issued tokens (seconds)")
    parser.add_argument(
        "--journal",
        action="store_true",
        help="put the I/O Events journal in the printed connection (extra events_journal_url)",
    )
    args = parser.parse_args(argv)
    try:
        emu = FlowServiceEmulator(
            client_id=args.client_id,
            client_secret=args.client_secret,
            org_id=args.org_id,
            sandbox=args.sandbox,
            token_ttl=args.token_ttl,
            clock=args.clock,
            run_timeline=args.run_timeline,
            host=args.host,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        emu.start(port=args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"Flow Service emulator listening on {emu.base_url}", flush=True)
    print(f"  IMS token endpoint: {emu.ims_url}", flush=True)
    print(f"  Flow Service API:   {emu.api_url}", flush=True)
    print(f"  admin endpoints:    {emu.base_url}/_emulator/...", flush=True)
    print(f"FLOWSERVICE_EVENTS_JOURNAL_URL={emu.journal_url}", flush=True)
    print(f"AIRFLOW_CONN_FLOWSERVICE_DEFAULT={emu.connection_uri(journal=args.journal)}", flush=True)
    while not stop.wait(0.5):
        pass
    emu.stop()
    print("Flow Service emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
