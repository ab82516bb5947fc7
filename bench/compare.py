"""Side-by-side benchmark of two revisions: ``python -m bench.compare [--base REF]``.

Extracts ``localinflux/`` of the base revision (default: the commit this branch started from)
into a temporary directory with ``git archive`` and runs the same cases of
``bench/localinflux.py`` (this checkout's copy) against the base code and the current code, in
alternating subprocesses on the same machine in the same run. Prints each figure for both, the
best of the repetitions, and the ratio current/base (for times, above 1 is slower; for rates,
below 1 is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_FILE = REPO / "bench" / "localinflux.py"
DEFAULT_BASE = "6ec68c8"
DEFAULT_CASES = ("last", "aggregate", "ingest", "memory")

# Runs one case of BENCH_FILE with the ``localinflux`` package of the working directory.
RUNNER = """
import importlib.util, json, sys
bench_file, case, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
spec = importlib.util.spec_from_file_location("bench_cases", bench_file)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("BENCH-JSON " + json.dumps(module.run_case(case, repeat)))
"""

HIGHER_IS_BETTER = ("_per_s",)


def extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "localinflux"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    tar_path = into / "base.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into


def run_case(tree: Path, case: str, repeat: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(BENCH_FILE), case, str(repeat)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH-JSON "))
    return json.loads(line.removeprefix("BENCH-JSON "))


def best(metric: str, values: list[float]) -> float:
    return max(values) if metric.endswith(HIGHER_IS_BETTER) else min(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="git revision to compare against")
    parser.add_argument("--reps", type=int, default=3, help="subprocess runs per case and tree")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query in a process")
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), help="comma-separated")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-base-") as tmp:
        base_tree = extract(args.base, Path(tmp))
        trees = {"base": base_tree, "current": REPO}
        figures: dict[str, dict[str, list[float]]] = {"base": {}, "current": {}}
        for rep in range(args.reps):
            for case in cases:
                # Alternate which tree goes first, so drift in machine load hits both alike.
                order = ("base", "current") if rep % 2 == 0 else ("current", "base")
                for which in order:
                    for metric, value in run_case(trees[which], case, args.repeat).items():
                        figures[which].setdefault(metric, []).append(value)
    print(f"best of {args.reps} runs each; base = {args.base}, current = working tree")
    print(f"{'figure':<28}{'base':>14}{'current':>14}{'current/base':>14}")
    for metric in figures["current"]:
        if metric not in figures["base"]:
            continue
        b = best(metric, figures["base"][metric])
        c = best(metric, figures["current"][metric])
        print(f"{metric:<28}{b:>14.4f}{c:>14.4f}{c / b:>14.2f}")


if __name__ == "__main__":
    main()
