"""How fast ``xai`` starts: ``--version``, ``--help`` and ``xai methods MODEL`` against yardsticks.

Each command runs in a fresh process, from start to exit (interpreter start-up, imports, work),
``--runs`` times after a warm-up run, the commands taking turns (A B C ... A B C ...) so that a
machine that speeds up or slows down touches them all alike. Per command: wall seconds (min and
median), CPU seconds (user + system, median) and peak resident memory, read from ``wait4`` for
that one child. The yardsticks are ``python -c "import typer"`` (what any Typer CLI pays before
it does anything), a one-command Typer app's ``--help`` (what Typer's help rendering costs) and
loading the model alone, with xai's own loader and with ``joblib.load``.
Prints a Markdown table and writes it to ``benchmarks/results/startup.md``.

    python -m benchmarks.startup                    # 10 runs each
    python -m benchmarks.startup --runs 3 --out /tmp/startup.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.md"
DEFAULT_MODEL = ROOT / "sample_models" / "adult_xgboost.joblib"
ENV = {
    **os.environ,
    "NO_COLOR": "1",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}
"""The console script imports the package of this checkout, even where ``xai`` was installed
(editable) from another."""
TINY_APP = """
import typer
from pathlib import Path
app = typer.Typer(add_completion=False)
@app.command()
def main(path: Path = typer.Argument(..., help="A file."), flag: bool = typer.Option(False)):
    \"\"\"Do nothing.\"\"\"
app()
"""
"""A one-command Typer app: its ``--help`` is what Typer's help rendering (rich, pydantic) costs."""
HELP_GOAL = 2.0
"""``--version`` and ``--help`` should take at most this many times ``import typer``."""


@dataclass
class Timing:
    """The runs of one command."""

    label: str
    argv: list[str]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)


def run_once(argv: list[str]) -> tuple[float, float, float]:
    """Run ``argv`` to completion with its output thrown away: wall seconds, CPU seconds of the
    child (user + system) and its peak resident memory in MiB."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=ROOT, env=ENV,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def xai_command() -> list[str]:
    """The installed ``xai`` console script beside this interpreter, else ``python -m xai_cli``."""
    script = Path(sys.executable).parent / "xai"
    return [str(script)] if script.exists() else [sys.executable, "-m", "xai_cli"]


def commands(model: Path) -> list[Timing]:
    """The commands to time, yardsticks first."""
    py, xai = sys.executable, xai_command()
    load = f"from xai_cli.load.models import load_model; load_model({str(model)!r})"
    return [
        Timing('python -c "import typer"', [py, "-c", "import typer"]),
        Timing("one-command Typer app --help (python -c)", [py, "-c", TINY_APP, "--help"]),
        Timing("xai --version", [*xai, "--version"]),
        Timing("xai --help", [*xai, "--help"]),
        Timing("xai explain --help", [*xai, "explain", "--help"]),
        Timing("load MODEL with xai's loader (python -c)", [py, "-c", load]),
        Timing("load MODEL with joblib.load (python -c)",
               [py, "-c", f"import joblib; joblib.load({str(model)!r})"]),  # fmt: skip
        Timing("xai methods MODEL", [*xai, "methods", str(model)]),
    ]


def measure(timings: list[Timing], runs: int, warmup: int) -> None:
    """Fill in every timing: ``warmup`` uncounted rounds, then ``runs`` rounds, commands in turn."""
    for round_ in range(warmup + runs):
        for t in timings:
            wall, cpu, peak = run_once(t.argv)
            if round_ >= warmup:
                t.wall.append(wall)
                t.cpu.append(cpu)
                t.peak_mib.append(peak)


def render(timings: list[Timing], model: Path, runs: int) -> str:
    """The Markdown table, with the two goals checked in words below it."""
    by = {t.label: t for t in timings}
    typer_s = by['python -c "import typer"'].median_wall
    lines = [
        "# xai start-up",
        "",
        f"- {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; Python {platform.python_version()}.",
        f"- Each command in a fresh process, {runs} runs after a warm-up, commands in turn; "
        f"MODEL = `{model.relative_to(ROOT) if model.is_relative_to(ROOT) else model}`.",
        "",
        "| command | wall min (s) | wall median (s) | CPU median (s) | peak RSS (MiB) "
        "| × import typer |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        lines.append(
            f"| `{t.label}` | {min(t.wall):.3f} | {t.median_wall:.3f} | "
            f"{statistics.median(t.cpu):.3f} | {max(t.peak_mib):.0f} | "
            f"{t.median_wall / typer_s:.2f} |"
        )
    worst = max(by[k].median_wall for k in ("xai --version", "xai --help", "xai explain --help"))
    tiny = by["one-command Typer app --help (python -c)"].median_wall
    methods = by["xai methods MODEL"].median_wall
    loading = by["load MODEL with xai's loader (python -c)"].median_wall
    lines += [
        "",
        f"- `--version` / `--help`: the slowest median is {worst / typer_s:.2f}× `import typer` "
        f"(goal: at most {HELP_GOAL:g}×): {'met' if worst <= HELP_GOAL * typer_s else 'NOT met'}; "
        f"a one-command Typer app's `--help` alone is {tiny / typer_s:.2f}× (Typer renders help "
        "with rich and builds parameter types with pydantic), and the slowest is "
        f"{worst / tiny:.2f}× that.",
        f"- `xai methods MODEL`: {methods:.2f} s, of which loading the model with xai's loader in "
        f"a process of its own takes {loading:.2f} s ({100 * loading / methods:.0f}%); the rest "
        "is importing the method registry and checking each method against the model.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="counted runs per command")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not args.model.exists():
        parser.error(f"{args.model} not found: train the sample models first (make demo)")
    timings = commands(args.model.resolve())
    measure(timings, max(1, args.runs), max(0, args.warmup))
    text = render(timings, args.model.resolve(), max(1, args.runs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
