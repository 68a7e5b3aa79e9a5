"""Flowyard side by side with an anchor (Luigi), in one run, interleaved: the run benchmarks' three shapes.

Luigi 3.8.1 is installed into its own virtual environment the first time
(``--luigi-venv``, default ``/tmp/flowyard-bench-luigi``; needs the PyPI index),
and runs each shape with ``luigi_flows.py``: every task runs ``true`` in a
subprocess and parallelism is 8, as in ``bench_runs.py``. "50 one-task flows"
are 50 Luigi pipelines started at once (50 processes), as 50 Flowyard flows
are 50 triggers. Rounds alternate Flowyard, Luigi, Flowyard, ... so both see the
same machine; the floor (100 sequential ``bash -c true``) is measured in the
same run. Medians of ``--rounds`` (default 5).

Run: ``.venv/bin/python bench/bench_anchor.py [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_runs import chain, embedded_server, fan, measure

from flowyard.client import FlowyardClient

LUIGI = "luigi==3.8.1"
HERE = Path(__file__).resolve().parent
SHAPES = (
    ("chain of 100", "chain", 100),
    ("fan-out 1 -> 200 -> 1", "fan", 200),
    ("50 one-task flows", "flows", 50),
)


def luigi_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", LUIGI], check=True)
    return python


def luigi_run(python: Path, shape: str, n: int) -> float:
    out = Path(tempfile.mkdtemp(prefix="flowyard-bench-luigi-"))
    script = str(HERE / "luigi_flows.py")
    if shape != "flows":
        argv = [str(python), script, shape, str(n), str(out)]
        done = subprocess.run(argv, check=False, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        return float(done.stdout.split()[-1])
    began = time.perf_counter()  # 50 pipelines at once, each its own process, like 50 triggers
    procs = [
        subprocess.Popen([str(python), script, "flows", "1", str(out / f"p{i}")], stdout=subprocess.DEVNULL)
        for i in range(n)
    ]
    if any(p.wait() for p in procs):
        raise RuntimeError("a luigi pipeline failed")
    return time.perf_counter() - began


def floor() -> float:
    began = time.perf_counter()
    for _ in range(100):
        subprocess.run(["bash", "-c", "true"], check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--luigi-venv", type=Path, default=Path("/tmp/flowyard-bench-luigi"))
    args = parser.parse_args()
    python = luigi_python(args.luigi_venv)
    times: dict[tuple[str, str], list[float]] = {}
    floors: list[float] = []
    with embedded_server() as (client, _):
        root = client.list_directories()[0]["key"]
        serial = iter(range(10**6))

        def flows_of(definition: dict[str, Any], count: int) -> list[int]:
            return [
                client.import_flow(definition, flow_name=f"anchor-{next(serial)}", dir_id=root)
                for _ in range(count)
            ]

        makers: dict[str, Callable[[int], list[int]]] = {
            "chain": lambda n: flows_of(chain(n), 1),
            "fan": lambda n: flows_of(fan(n), 1),
            "flows": lambda n: flows_of(chain(1), n),
        }
        for _ in range(args.rounds):
            floors.append(floor())
            for label, shape, n in SHAPES:
                flow_ids = makers[shape](n)
                times.setdefault((label, "flowyard"), []).append(flowyard_time(client, flow_ids))
                times.setdefault((label, "luigi"), []).append(luigi_run(python, shape, n))
    print(f"floor: 100 sequential bash -c true  median {statistics.median(floors):.3f} s")
    print(f"{'scenario':<24}{'Flowyard':>12}{'Luigi 3.8.1':>14}{'ratio':>8}   (medians of {args.rounds})")
    for label, _, _ in SHAPES:
        ours, theirs = (
            statistics.median(times[(label, "flowyard")]),
            statistics.median(times[(label, "luigi")]),
        )
        print(f"{label:<24}{ours:>10.3f} s{theirs:>12.3f} s{theirs / ours:>7.2f}x")


def flowyard_time(client: FlowyardClient, flow_ids: list[int]) -> float:
    elapsed, _ = measure(client, flow_ids)
    return elapsed


if __name__ == "__main__":
    main()
