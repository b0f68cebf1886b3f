"""Benchmark 3: DAG parse overhead of the provider's example DAGs vs EmptyOperator twins of the same shape.

Every DAG file in ``example_dags/`` is parsed as it is. Its twin is generated from the parsed DAG: the
same DAG arguments (timetable, start date, catch-up, default args, params, tags), task ids and
dependencies, with every provider operator or sensor replaced by an ``EmptyOperator`` (the example's own
``@task`` functions stay ``@task`` functions, with empty bodies). Each file is parsed with Airflow's
``DagBag(<file>)``, as the DAG processor does:

- cold: a fresh interpreter per parse, Airflow and DagBag already warmed up on a task-less DAG file,
  so the figure includes the first import of the provider (or of EmptyOperator's module); once as is,
  once after the DAG processor's own pre-import of the file's ``airflow.*`` imports;
- warm: one process, the modules already imported, many parses alternating between example and twin.

Run: ``python benchmarks/bench_3_parse_overhead.py [--quick]``.
"""

from __future__ import annotations

import ast
import datetime
import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

TARGET = 0.010  # seconds
EXAMPLES = c.ROOT / "example_dags"
PROVIDER_PREFIX = "airflow_flowservice."
OPERATOR_PACKAGES = ("airflow_flowservice.operators", "airflow_flowservice.sensors")
KINDS = ("example", "twin")
MODES = ("none", "preimport")

WARMUP_DAG = """
import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

with DAG(
    dag_id="bench_parse_warmup",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
):
    pass
"""

# One parse in a fresh interpreter: warm Airflow + DagBag on a task-less DAG, then time the file.
COLD_SCRIPT = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
warm = DagBag(dag_folder=sys.argv[2])
assert not warm.import_errors, warm.import_errors
if sys.argv[3] == "preimport":  # what Airflow 3's DAG processor does in its parent before forking a parse
    import structlog
    from airflow.dag_processing.processor import _pre_import_airflow_modules
    _pre_import_airflow_modules(sys.argv[1], structlog.get_logger())
before = set(sys.modules)
print("=== bench3 parse starts ===", file=sys.stderr, flush=True)
t0 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - t0
assert not bag.import_errors, bag.import_errors
assert len(bag.dags) == 1 and len(next(iter(bag.dags.values())).tasks) == int(sys.argv[4]), bag.dags
new = sorted(set(sys.modules) - before)
print(json.dumps({"seconds": seconds, "new_modules": new}))
"""


@dataclass
class Pair:
    """An example DAG file and its generated EmptyOperator twin."""

    name: str  # the example's file stem
    example: Path
    twin: Path
    tasks: int
    provider_tasks: int
    edges: int
    own_imports: list[str]  # provider modules the file imports at module level, besides operators and sensors

    def path(self, kind: str) -> Path:
        return self.example if kind == "example" else self.twin


def literal(value: Any) -> str:
    """Python source re-creating ``value`` (the plain values DAG arguments hold); raises on anything else."""
    if isinstance(value, datetime.datetime):
        return f"datetime.datetime.fromisoformat({value.isoformat()!r})"
    if isinstance(value, datetime.timedelta):
        return f"datetime.timedelta(seconds={value.total_seconds()!r})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return "[" + ", ".join(literal(v) for v in items) + "]"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"no literal for a {type(value).__name__} ({value!r})")


def shape(dag: Any) -> dict[str, list[str]]:
    """Task id -> sorted downstream task ids."""
    return {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}


def twin_source(dag: Any) -> str:
    """A DAG file with ``dag``'s arguments, task ids and edges; provider tasks become EmptyOperator."""
    imports = ["import datetime", "", "from airflow.providers.standard.operators.empty import EmptyOperator"]
    sdk = ["DAG"]
    timetable = dag.timetable
    if type(timetable).__name__ == "NullTimetable":
        schedule = "None"
    elif hasattr(timetable, "serialize"):  # Airflow's own timetables round-trip through serialize()
        cls = type(timetable)
        imports.append(f"from {cls.__module__} import {cls.__name__}")
        schedule = f"{cls.__name__}.deserialize({literal(timetable.serialize())})"
    elif type(timetable).__name__ == "AssetTriggeredTimetable":  # scheduled on assets: the same assets, no watcher
        sdk.append("Asset")
        assets = getattr(timetable.asset_condition, "objects", ())
        schedule = "[" + ", ".join(f"Asset(name={a.name!r}, uri={a.uri!r})" for a in assets) + "]"
    else:
        raise TypeError(f"{dag.dag_id}: no twin for a {type(timetable).__name__} schedule")
    args = {
        "dag_id": literal(f"{dag.dag_id}_twin"),
        "schedule": schedule,
        "start_date": literal(dag.start_date),
        "catchup": literal(dag.catchup),
        "max_active_runs": literal(dag.max_active_runs),
    }
    if dag.default_args:
        args["default_args"] = literal(dict(dag.default_args))
    if dag.params:
        args["params"] = literal(dag.params.dump())
    if dag.tags:
        args["tags"] = literal(dag.tags)
    body: list[str] = []
    names = {t.task_id: f"t{i}" for i, t in enumerate(dag.tasks)}
    for task in dag.tasks:
        name = names[task.task_id]
        decorator = getattr(task, "custom_operator_name", None)
        if type(task).__module__.startswith(PROVIDER_PREFIX) or not decorator:
            body.append(f"{name} = EmptyOperator(task_id={task.task_id!r})")
        else:  # the example's own @task function, kept a TaskFlow task (empty body)
            if "task" not in sdk:
                sdk.append("task")
            body += [
                f"@{decorator.lstrip('@')}(task_id={task.task_id!r})",
                f"def _{name}() -> None:",
                "    pass",
                "",
                f"{name} = _{name}()",
            ]
    body += [f"{names[up]} >> {names[down]}" for up, downs in shape(dag).items() for down in downs]
    imports.append(f"from airflow.sdk import {', '.join(sdk)}")
    call = ",\n".join(f"    {k}={v}" for k, v in args.items())
    return "\n".join([*imports, "", f"with DAG(\n{call},\n):", textwrap.indent("\n".join(body), "    "), ""])


def own_provider_imports(path: Path) -> list[str]:
    """Provider modules a DAG file imports at module level, other than the operator and sensor packages."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found |= {n for n in names if n.startswith(PROVIDER_PREFIX) and not n.startswith(OPERATOR_PACKAGES)}
    return sorted(found)


def make_pairs(folder: Path) -> list[Pair]:
    """Parse each example DAG file, write its twin to ``folder`` and check the twin has the same shape."""
    from airflow.dag_processing.dagbag import DagBag

    pairs = []
    for example in sorted(EXAMPLES.glob("*.py")):
        bag = DagBag(dag_folder=str(example))
        if bag.import_errors or len(bag.dags) != 1:
            raise RuntimeError(f"{example.name}: {bag.import_errors or list(bag.dags)}")
        dag = next(iter(bag.dags.values()))
        twin = folder / f"{example.stem}_twin.py"
        twin.write_text(twin_source(dag))
        twin_bag = DagBag(dag_folder=str(twin))
        if twin_bag.import_errors or len(twin_bag.dags) != 1:
            raise RuntimeError(f"{twin.name}: {twin_bag.import_errors or list(twin_bag.dags)}")
        if shape(next(iter(twin_bag.dags.values()))) != shape(dag):
            raise RuntimeError(f"{twin.name}: not the shape of {example.name}")
        provider = sum(1 for t in dag.tasks if type(t).__module__.startswith(PROVIDER_PREFIX))
        edges = sum(len(t.downstream_task_ids) for t in dag.tasks)
        pairs.append(Pair(example.stem, example, twin, len(dag.tasks), provider, edges, own_provider_imports(example)))
    if not pairs:
        raise RuntimeError(f"no DAG file in {EXAMPLES}")
    return pairs


def cold_parse(
    path: Path, warmup: Path, tasks: int, mode: str = "none", importtime: bool = False
) -> tuple[dict[str, Any], str]:
    """One parse in a fresh interpreter; ``mode="preimport"`` first runs the DAG processor's pre-import."""
    flags = ["-X", "importtime"] if importtime else []
    cmd = [sys.executable, *flags, "-c", COLD_SCRIPT, str(path), str(warmup), mode, str(tasks)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        c.log(result.stderr[-3000:])
        raise RuntimeError(f"cold parse of {path.name} failed (exit code {result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def top_imports(stderr: str, limit: int = 4) -> list[tuple[str, float]]:
    """Modules with the largest self import time (``-X importtime``, seconds) logged after the marker."""
    lines = stderr.split("=== bench3 parse starts ===", 1)[-1].splitlines()
    found: list[tuple[str, float]] = []
    for line in lines:
        if line.startswith("import time:") and line.count("|") == 2:
            own, _, name = line[len("import time:") :].split("|")
            if own.strip().isdigit():
                found.append((name.strip(), int(own) / 1e6))
    return sorted(found, key=lambda item: -item[1])[:limit]


def warm_parses(pairs: list[Pair], reps: int) -> dict[tuple[str, str], list[float]]:
    from airflow.dag_processing.dagbag import DagBag

    times: dict[tuple[str, str], list[float]] = {(p.name, k): [] for p in pairs for k in KINDS}
    paths = {(p.name, k): p.path(k) for p in pairs for k in KINDS}
    for key in times:  # first parse of each: imports, not measured here
        DagBag(dag_folder=str(paths[key]))
    for _ in range(reps):
        for key in times:
            with c.Stopwatch() as sw:
                bag = DagBag(dag_folder=str(paths[key]))
            if bag.import_errors:
                raise RuntimeError(f"{paths[key].name}: {bag.import_errors}")
            times[key].append(sw.seconds)
    return times


@dataclass
class Figures:
    """Medians of one example and its twin."""

    pair: Pair
    cold: dict[tuple[str, str], float]  # (kind, mode) -> seconds
    warm: dict[str, float]  # kind -> seconds
    new_modules: dict[str, list[str]]  # kind -> modules first imported by a cold parse (mode "none")
    heavy: list[tuple[str, float]]

    def diff(self, mode: str) -> float:
        if mode == "warm":
            return self.warm["example"] - self.warm["twin"]
        return self.cold["example", mode] - self.cold["twin", mode]

    def ratio(self, mode: str) -> str:
        if mode == "warm":
            return c.fmt_ratio(self.warm["example"], self.warm["twin"])
        return c.fmt_ratio(self.cold["example", mode], self.cold["twin", mode])


def main() -> int:
    args = c.parse_args(__doc__ or "")
    cold_reps, warm_reps = (1, 20) if args.quick else (8, 200)
    folder = c.setup_airflow_home() / "bench3"  # removed with the temporary AIRFLOW_HOME at exit
    folder.mkdir()
    warmup = folder / "bench_parse_warmup.py"
    warmup.write_text(WARMUP_DAG.lstrip())
    pairs = make_pairs(folder)
    c.log("bench 3: " + ", ".join(f"{p.name} ({p.tasks} tasks, {p.provider_tasks} provider)" for p in pairs))
    cold: dict[tuple[str, str, str], list[float]] = {(p.name, k, m): [] for p in pairs for k in KINDS for m in MODES}
    new_modules: dict[tuple[str, str], list[str]] = {}
    for i in range(cold_reps):
        for p in pairs:
            for mode in MODES:
                for kind in KINDS:
                    out, _ = cold_parse(p.path(kind), warmup, p.tasks, mode)
                    cold[p.name, kind, mode].append(out["seconds"])
                    if mode == "none":
                        new_modules[p.name, kind] = out["new_modules"]
        last = {key: values[-1] * 1000 for key, values in cold.items()}
        c.log(
            f"bench 3: cold parses {i + 1}/{cold_reps} (example/twin): "
            + ", ".join(
                f"{p.name} {last[p.name, 'example', 'none']:.1f}/{last[p.name, 'twin', 'none']:.1f} ms" for p in pairs
            )
        )
    heavy = {p.name: top_imports(cold_parse(p.example, warmup, p.tasks, importtime=True)[1]) for p in pairs}
    warm = warm_parses(pairs, warm_reps)
    figures = [
        Figures(
            pair=p,
            cold={(k, m): c.median(cold[p.name, k, m]) for k in KINDS for m in MODES},
            warm={k: c.median(warm[p.name, k]) for k in KINDS},
            new_modules={k: new_modules[p.name, k] for k in KINDS},
            heavy=heavy[p.name],
        )
        for p in pairs
    ]
    print(report(figures, cold_reps, warm_reps))
    return 0


MODE_LABELS = {
    "none": "cold (first import of the provider)",
    "preimport": "cold, as the DAG processor parses",
    "warm": "warm (provider already imported)",
}
MARKER_TARGETS = {
    "warm": "warm parse difference <= 10 ms",
    "preimport": "cold parse difference, as the DAG processor parses, <= 10 ms",
    "none": "cold parse difference (first provider import) <= 10 ms",
}


def packages(modules: list[str]) -> str:
    counts: dict[str, int] = {}
    for module in modules:
        if not module.startswith("unusual_prefix_"):  # the DAG file itself
            top = ".".join(module.split(".")[:2]) if module.startswith("airflow") else module.split(".")[0]
            counts[top] = counts.get(top, 0) + 1
    return ", ".join(f"`{k}` ({v})" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:8]) or "none"


def report(figures: list[Figures], cold_reps: int, warm_reps: int) -> str:
    rows = []
    for f in figures:
        p = f.pair
        for mode in ("none", "preimport", "warm"):
            digits = 2 if mode == "warm" else 1
            example = f.warm["example"] if mode == "warm" else f.cold["example", mode]
            twin = f.warm["twin"] if mode == "warm" else f.cold["twin", mode]
            ok = f.diff(mode) <= TARGET
            rows.append(
                [
                    f"`{p.name}.py` ({p.tasks} tasks, {p.provider_tasks} provider; {p.edges} edges)",
                    MODE_LABELS[mode],
                    c.fmt_ms(example, digits),
                    c.fmt_ms(twin, digits),
                    c.fmt_ms(f.diff(mode), digits),
                    f.ratio(mode),
                    f"{c.verdict(ok)} ({c.fmt_ms(f.diff(mode), digits)})",
                ]
            )
    lines = [
        "## 3. DAG parse overhead",
        "",
        f"Each of the {len(figures)} DAG files of `example_dags/`, parsed as it is, against a twin generated from"
        " the parsed DAG: same DAG arguments (timetable, start date, catch-up, default args, params, tags), same"
        " task ids and dependencies (checked after parsing the twin), every provider operator or sensor replaced"
        " by `EmptyOperator`; the example's own `@task` functions stay `@task` functions with empty bodies, so"
        " the difference is what the provider costs (plus whatever the example file imports itself). Each parse"
        " is Airflow's `DagBag(dag_folder=<file>)` (import, DAG validation, bagging), timed with `perf_counter`."
        f" **Cold**: a fresh interpreter per parse ({cold_reps} per file and mode, example and twin alternating),"
        " in which Airflow and DagBag were warmed up on a task-less DAG file first, so the figure is the file's"
        " own cost including the first import of the provider (or of EmptyOperator's module); measured as is,"
        " and after the DAG processor's pre-import of the file's `airflow.*` imports. **Warm**: one process,"
        f" modules already imported, {warm_reps} parses per file alternating. Medians. Target: difference <= 10 ms.",
        "",
        c.md_table(
            ["DAG file", "parse", "example DAG", "EmptyOperator twin (baseline)", "difference", "ratio", "result"],
            rows,
        ),
        "",
        "Modules first imported by a cold parse of the example (of its twin), those of the example's that the"
        " twin does not import, the provider modules the example file imports itself besides operators and"
        " sensors, and the example parse's largest imports (`python -X importtime`, self time):",
        "",
    ]
    for f in figures:
        extra = sorted(set(f.new_modules["example"]) - set(f.new_modules["twin"]))
        lines.append(
            f"- `{f.pair.name}.py`: {len(f.new_modules['example'])} ({len(f.new_modules['twin'])}); not in the twin:"
            f" {packages(extra)}; the file's own: "
            + (", ".join(f"`{m}`" for m in f.pair.own_imports) or "none")
            + "; largest: "
            + (", ".join(f"`{name}` {c.fmt_ms(s)}" for name, s in f.heavy) or "none")
            + "."
        )
    lines.append("")
    for mode in ("warm", "preimport", "none"):
        worst = max(figures, key=lambda f: f.diff(mode))
        lines.append(
            c.summary_marker(
                "3. parse overhead",
                MARKER_TARGETS[mode],
                f"worst {c.fmt_ms(worst.diff(mode), 2 if mode == 'warm' else 1)} ({worst.pair.name},"
                f" {worst.ratio(mode)})",
                all(f.diff(mode) <= TARGET for f in figures),
            )
        )
    missed = [f for f in figures if max(f.diff("none"), f.diff("preimport")) > TARGET]
    if missed:
        own = [f for f in figures if f.pair.own_imports]
        plain = [f for f in figures if not f.pair.own_imports]
        text = "**Cold target missed** for " + ", ".join(
            f"`{f.pair.name}.py` ({c.fmt_ms(f.diff('none'))} / {c.fmt_ms(f.diff('preimport'))})" for f in missed
        )
        if own:
            text += (
                ". Files that import provider modules besides the operators and sensors at module level: "
                + "; ".join(f"`{f.pair.name}.py` ({', '.join(f'`{m}`' for m in f.pair.own_imports)})" for f in own)
                + ": they pay for them at every parse (the largest imports above)"
            )
        if plain:
            worst = max(plain, key=lambda f: max(f.diff("none"), f.diff("preimport")))
            text += (
                f". Files importing only operators and sensors ({', '.join(f'`{f.pair.name}.py`' for f in plain)}):"
                f" worst cold difference {c.fmt_ms(max(worst.diff('none'), worst.diff('preimport')))}"
                f" (`{worst.pair.name}.py`, {worst.pair.provider_tasks} provider tasks)"
            )
        lines += ["", text + "."]
    lines += [
        "",
        "**Why cold parses matter, and what the provider does.** Airflow 3's DAG processor parses every file in a"
        " freshly forked child and, before forking, pre-imports only the modules the file imports whose names start"
        " with `airflow.` (`airflow/dag_processing/processor.py` `_pre_import_airflow_modules`): EmptyOperator's"
        " module is warm in every child, `airflow_flowservice` is imported afresh at every parse of every DAG file"
        " that uses it. So the operator and sensor modules are meant to import at module level only `airflow.sdk`"
        " and the provider's light modules; the hook, the HTTP client, the pydantic models (built lazily,"
        " `defer_build=True`) and the logic modules are imported when a task runs (`tests/unit/test_import_cost.py`"
        " checks it). A DAG file that imports one of those itself (at module level rather than inside its `@task`"
        " function) pays for it at every parse: the module list above shows it.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
