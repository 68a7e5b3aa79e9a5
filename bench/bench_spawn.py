"""How much does LocalExecutor add to the cost of starting a process?

Measures, over N runs each, the median and 95th percentile in milliseconds of:

* the spawn floor: ``sh -c true`` and ``bash -c true`` through ``subprocess.run``
  (shell attempts run under bash, so bash is the fair floor);
* one ``true`` attempt through ``LocalExecutor``, from ``submit`` until its
  result comes out of ``results`` (workdir creation, log header and reaping
  included);
* a burst of B concurrent ``true`` attempts: the time of each ``submit`` call and
  the wall time until all B results are in, next to the same burst of bare
  ``Popen(["bash", "-c", "true"])`` followed by waiting for all of them.

Run: ``.venv/bin/python bench/bench_spawn.py [-n 300] [--burst 200]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flowyard.clock import SystemClock
from flowyard.executor import AttemptSpec, LocalExecutor, TaskKind


def summary(label: str, samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = statistics.quantiles(ordered, n=20)[18]
    return f"{label:<44} median {statistics.median(ordered):7.3f} ms   p95 {p95:7.3f} ms   (n={len(ordered)})"


def timed(runs: int, action: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def true_spec(root: Path, number: int) -> AttemptSpec:
    return AttemptSpec(
        attempt_id=f"bench-{number}",
        task_instance_id=f"bench-{number}",
        run_num=1,
        kind=TaskKind.SHELL,
        command="true",
        env={},
        workdir=root / "work" / str(number),
        log_path=root / "logs" / f"{number}.log",
        log_header=f"run num:\t1\ninstance:\tbench-{number}\n",
        cpu=0.001,
    )


def bench_executor_sequential(root: Path, runs: int) -> list[float]:
    samples = []
    with LocalExecutor(SystemClock(), total_cpu=1.0) as executor:
        for number in range(runs):
            start = time.perf_counter()
            executor.submit(true_spec(root, number))
            while not executor.results(timeout=10):
                pass
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def bench_executor_burst(root: Path, size: int) -> tuple[list[float], float]:
    submit_ms = []
    with LocalExecutor(SystemClock(), total_cpu=float(size)) as executor:
        start = time.perf_counter()
        for number in range(size):
            before = time.perf_counter()
            executor.submit(true_spec(root, 1_000_000 + number))
            submit_ms.append((time.perf_counter() - before) * 1000)
        received = 0
        while received < size:
            results = executor.results(timeout=30)
            if not all(r.outcome == "success" for r in results):
                raise SystemExit(f"an attempt failed: {results}")
            received += len(results)
        wall_ms = (time.perf_counter() - start) * 1000
    return submit_ms, wall_ms


def bench_popen_burst(size: int) -> float:
    start = time.perf_counter()
    children = [subprocess.Popen(["bash", "-c", "true"]) for _ in range(size)]
    for child in children:
        child.wait()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--runs", type=int, default=300, help="runs per sequential measurement")
    parser.add_argument("--burst", type=int, default=200, help="concurrent attempts in the burst")
    args = parser.parse_args()

    def run_sh() -> None:
        subprocess.run(["sh", "-c", "true"], check=True)

    def run_bash() -> None:
        subprocess.run(["bash", "-c", "true"], check=True)

    timed(20, run_bash)  # warm the page cache and the interpreter
    print(summary("subprocess.run sh -c true (floor)", timed(args.runs, run_sh)))
    print(summary("subprocess.run bash -c true", timed(args.runs, run_bash)))
    with tempfile.TemporaryDirectory(prefix="flowyard-bench-") as tmp:
        root = Path(tmp)
        print(summary("LocalExecutor true: submit -> result", bench_executor_sequential(root, args.runs)))
        popen_ms = bench_popen_burst(args.burst)
        submit_ms, wall_ms = bench_executor_burst(root, args.burst)
        print(summary(f"LocalExecutor burst of {args.burst}: submit() call", submit_ms))
        for label, total_ms in (
            (f"Popen burst of {args.burst} bash -c true", popen_ms),
            (f"LocalExecutor burst of {args.burst}: all results", wall_ms),
        ):
            print(f"{label:<44} {total_ms:7.1f} ms wall, {total_ms / args.burst:.3f} ms per process")


if __name__ == "__main__":
    main()
