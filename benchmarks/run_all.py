"""Run every ``benchmarks/bench_*.py`` and write ``BENCHMARKS.md`` at the repository root.

    python3 dev.py bench            # what produced BENCHMARKS.md (full sizes)
    python3 dev.py bench --quick    # smoke run (smaller sizes)

Each benchmark runs in its own subprocess with this interpreter (``--quick`` passed through) and
prints one Markdown section on stdout; its stderr is echoed here. The summary table is built from
the ``<!-- bench-summary: {...} -->`` markers in each section (``common.summary_marker``); a section
without markers gets a row saying so. A benchmark that exits non-zero or prints no section is
reported as failed, with the tail of its stderr, and this script exits 1 after writing the file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as c

STDERR_TAIL = 40  # lines of a failed benchmark's stderr put in BENCHMARKS.md


@dataclass
class Result:
    script: Path
    returncode: int
    seconds: float
    section: str
    stderr: str

    @property
    def failed(self) -> bool:
        return self.returncode != 0 or not self.section.lstrip().startswith("## ")


def run_one(script: Path, quick: bool) -> Result:
    cmd = [sys.executable, str(script), *(["--quick"] if quick else [])]
    c.log(f"=== {script.name} ({' '.join(cmd[1:])})")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=c.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines: list[str] = []

    def echo_stderr() -> None:  # stream the benchmark's diagnostics live, keep them for the report
        assert proc.stderr is not None
        for line in proc.stderr:
            sys.stderr.write(line)
            err_lines.append(line)

    reader = threading.Thread(target=echo_stderr, daemon=True)
    reader.start()
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    returncode = proc.wait()
    reader.join()
    seconds = time.perf_counter() - t0
    c.log(f"=== {script.name}: exit code {returncode} in {seconds:.0f} s")
    # The section starts at its "## " heading; anything a library printed before it is dropped.
    lines = stdout.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith("## ")), None)
    section = "\n".join(lines[first:]).strip() if first is not None else ""
    return Result(script, returncode, seconds, section, "".join(err_lines))


def title(result: Result) -> str:
    if result.section.startswith("## "):
        return result.section.splitlines()[0][3:].strip()
    return result.script.stem


def summary_rows(results: list[Result]) -> list[list[str]]:
    rows: list[list[str]] = []
    for r in results:
        markers = c.parse_summary_markers(r.section)
        if r.failed:
            rows.append([title(r), "-", f"benchmark failed (exit code {r.returncode})", "**failed**"])
        for m in markers:
            result = m.get("result", "n/a")
            rows.append([m.get("benchmark") or title(r), m.get("target", "-"), m.get("figure", "-"), f"**{result}**"])
        if not markers and not r.failed:
            rows.append([title(r), "see section", "-", "no summary marker"])
    return rows


def render(results: list[Result], quick: bool, total: float) -> str:
    info = c.machine_info()
    command = "python3 dev.py bench" + (" --quick" if quick else "")
    met = sum(1 for row in summary_rows(results) if row[3] == "**met**")
    missed = sum(1 for row in summary_rows(results) if row[3] == "**missed**")
    failed = [r for r in results if r.failed]
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
        f" ({total:.0f} s{', quick sizes: smoke run only' if quick else ''}).",
        "",
        f"Machine: {info['cpus']} CPUs, {info['ram_gib']} GiB RAM, Python {info['python']},"
        f" Airflow {info['airflow']}, httpx {info['httpx']}, {info['platform']}.",
        "The machine is shared with other work, so absolute figures are noisy; each figure is shown next to a"
        " baseline measured in the same run, and the ratios are what to compare across runs. Each benchmark runs"
        " in a fresh process with its own temporary AIRFLOW_HOME and talks only to the bundled emulator.",
        "",
        "## Summary",
        "",
        f"{met} targets met, {missed} missed" + (f", {len(failed)} benchmark(s) failed" if failed else "") + ".",
        "",
        c.md_table(["benchmark", "target", "figure", "result"], summary_rows(results)),
        "",
    ]
    for r in results:
        if r.failed:
            tail = "\n".join(r.stderr.rstrip().splitlines()[-STDERR_TAIL:])
            lines += [
                f"## {title(r)}: FAILED" if r.section else f"## {r.script.stem}: FAILED",
                "",
                f"`{r.script.relative_to(c.ROOT)}` exited with code {r.returncode} after {r.seconds:.0f} s."
                f" Last {STDERR_TAIL} lines of its stderr:",
                "",
                "```text",
                tail.replace("```", "'''"),
                "```",
                "",
            ]
            if r.section:
                lines += ["Its output before it failed:", "", ("\n" + r.section).replace("\n## ", "\n### ").strip(), ""]
        else:
            lines += [r.section, "", f"_{r.script.name}: {r.seconds:.0f} s._", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument("--output", type=Path, default=c.ROOT / "BENCHMARKS.md", help="default: <repo>/BENCHMARKS.md")
    parser.add_argument("--only", nargs="*", default=None, help="run only these scripts (names or numbers)")
    args = parser.parse_args()
    scripts = sorted(c.BENCH_DIR.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(s.name == o or s.stem.startswith(f"bench_{o}_") for o in args.only)]
    if not scripts:
        c.log("no benchmark scripts found")
        return 1
    t0 = time.perf_counter()
    results = [run_one(script, args.quick) for script in scripts]
    text = render(results, args.quick, time.perf_counter() - t0)
    args.output.write_text(text)
    c.log(f"wrote {args.output}")
    print(text)
    failed = [r.script.name for r in results if r.failed]
    if failed:
        c.log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
