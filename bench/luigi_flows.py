"""The run benchmarks' three shapes as Luigi pipelines (run by bench_anchor.py in Luigi's own venv).

Usage: ``python luigi_flows.py chain|fan|flows N OUTDIR``. Every task runs ``true``
in a subprocess, as a Flowyard task does, and writes its marker file; the
wall time from the start of ``luigi.build`` to its end is printed in seconds.
Parallelism is 8 workers, like Flowyard's default admission on 2 cores.
This file imports only Luigi and the standard library: it runs outside Flowyard's venv.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import luigi

OUT = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(".")


class Step(luigi.Task):  # type: ignore[misc]
    """One ``true``; subclasses say what must run first."""

    tag = luigi.Parameter(default="")

    def output(self) -> Any:
        return luigi.LocalTarget(str(OUT / f"{self.task_id}.done"))

    def run(self) -> None:
        subprocess.run(["true"], check=True)
        Path(self.output().path).write_text("ok")


class ChainLink(Step):
    i = luigi.IntParameter()

    def requires(self) -> list[Any]:
        return [ChainLink(i=self.i - 1, tag=self.tag)] if self.i > 0 else []


class FanStart(Step):
    pass


class FanMiddle(Step):
    i = luigi.IntParameter()

    def requires(self) -> list[Any]:
        return [FanStart(tag=self.tag)]


class FanJoin(Step):
    n = luigi.IntParameter()

    def requires(self) -> list[Any]:
        return [FanMiddle(i=i, tag=self.tag) for i in range(self.n)]


class Single(Step):
    i = luigi.IntParameter()


def chain(n: int, tag: str) -> list[Any]:
    return [ChainLink(i=n - 1, tag=tag)]


def fan(n: int, tag: str) -> list[Any]:
    return [FanJoin(n=n, tag=tag)]


def flows(n: int, tag: str) -> list[Any]:
    return [Single(i=i, tag=tag) for i in range(n)]


def main() -> None:
    shape, n = sys.argv[1], int(sys.argv[2])
    OUT.mkdir(parents=True, exist_ok=True)
    tasks = {"chain": chain, "fan": fan, "flows": flows}[shape](n, OUT.name)
    began = time.perf_counter()
    ok = luigi.build(tasks, local_scheduler=True, workers=8, log_level="ERROR")
    elapsed = time.perf_counter() - began
    if not ok:
        raise SystemExit("luigi run failed")
    print(f"{elapsed:.4f}")


if __name__ == "__main__":
    main()
