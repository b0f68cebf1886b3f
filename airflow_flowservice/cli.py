"""The ``flowservice`` console script (also ``python -m airflow_flowservice``): dataflows as code.

::

    flowservice export --flow-id ID [--flow-id ID ...] [-o FILE]
    flowservice plan FILE [--prune] [--detailed-exitcode] [--json]
    flowservice apply FILE [--auto-approve] [--prune]

Every command works through an Airflow connection (``--conn-id``, default ``flowservice_default``),
read as Airflow reads it (``AIRFLOW_CONN_*`` variables, a secrets backend or the metadata DB).
Exit codes, as ``terraform plan -detailed-exitcode``: 0 no change (or success), 1 error, 2 changes
(``plan --detailed-exitcode`` only).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_flowservice import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--conn-id",
        default=DEFAULT_CONN_ID,
        help=f"Airflow connection of type adobe_flowservice (default {DEFAULT_CONN_ID})",
    )
    parser = argparse.ArgumentParser(
        prog="flowservice", description="Adobe Experience Platform dataflows as code: export, plan, apply."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", parents=[common], help="write the file for existing dataflows")
    export.add_argument("--flow-id", action="append", required=True, help="a flow to export (repeatable)")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.add_argument(
        "--credentials-conn-id",
        action="append",
        default=[],
        metavar="BASE=CONN_ID",
        help="Airflow connection holding a base connection's credentials (BASE: its id or name; repeatable)",
    )
    plan = sub.add_parser("plan", parents=[common], help="show what apply would change")
    plan.add_argument("file")
    plan.add_argument("--prune", action="store_true", help="also delete flows of the sandbox not in the file")
    plan.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    apply = sub.add_parser("apply", parents=[common], help="make the service match the file")
    apply.add_argument("file")
    apply.add_argument("--prune", action="store_true", help="also delete flows of the sandbox not in the file")
    apply.add_argument("--auto-approve", action="store_true", help="apply without asking")
    return parser


def _hook(conn_id: str) -> FlowServiceHook:
    from airflow_flowservice.hooks.flowservice import FlowServiceHook

    return FlowServiceHook(flowservice_conn_id=conn_id)


def _export(args: argparse.Namespace) -> int:
    from airflow_flowservice.as_code.snapshot import export_dataflows
    from airflow_flowservice.as_code.spec_file import dump_spec
    from airflow_flowservice.exceptions import FlowServiceConfigError

    conn_ids: dict[str, str] = {}
    for item in args.credentials_conn_id:
        base, sep, conn = item.partition("=")
        if not sep or not base or not conn:
            raise FlowServiceConfigError(f"--credentials-conn-id: {item!r} is not BASE=CONN_ID")
        conn_ids[base] = conn
    text = dump_spec(export_dataflows(_hook(args.conn_id), args.flow_id, conn_ids))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"Wrote {len(args.flow_id)} dataflow(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    from airflow_flowservice.as_code.plan import make_plan
    from airflow_flowservice.as_code.spec_file import load_spec_file

    spec = load_spec_file(args.file)
    plan = make_plan(_hook(args.conn_id), spec, prune=args.prune)
    print(json.dumps(plan.to_dict(), indent=2) if args.json else plan.render())
    return EXIT_CHANGES if plan.has_changes and args.detailed_exitcode else EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    from airflow_flowservice.as_code.apply import apply_plan
    from airflow_flowservice.as_code.plan import make_plan
    from airflow_flowservice.as_code.spec_file import load_spec_file

    spec = load_spec_file(args.file)
    hook = _hook(args.conn_id)
    plan = make_plan(hook, spec, prune=args.prune)
    print(plan.render())
    if not plan.has_changes:
        return EXIT_OK
    if not args.auto_approve:
        if not sys.stdin.isatty():
            print("Error: standard input is not a terminal; pass --auto-approve to apply", file=sys.stderr)
            return EXIT_ERROR
        if input("Apply these changes? Only 'yes' is accepted: ").strip() != "yes":
            print("Apply cancelled.", file=sys.stderr)
            return EXIT_ERROR
    result = apply_plan(hook, spec, plan)
    for line in result.done:
        print(f"  {line}")
    print(f"Apply complete: {len(result.done)} action(s).")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``flowservice`` command; returns its exit code."""
    args = _parser().parse_args(argv)
    from airflow_flowservice.exceptions import FlowServiceError

    commands = {"export": _export, "plan": _plan, "apply": _apply}
    try:
        return commands[args.command](args)
    except FlowServiceError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR
