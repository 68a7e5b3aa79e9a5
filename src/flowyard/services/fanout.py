"""runMode taskMode 2: one sub-task per distribution key, at most ``maxParallel`` at once.

The keys come from ``content`` (keyType 2: separated by newlines or commas) or
from the file at ``path`` (keyType 1: one key per line; ``path`` is a file on
the scheduler's machine, ``datasourceId`` is not used). The attempt runs a
small Python runner that starts one process per key with the key in
``FLOWYARD_DISTRIBUTION_KEY``, keeps at most ``maxParallel`` running, writes
each sub-task's output to the log in key order under a ``--- key`` line, and
succeeds only if every sub-task does. A retry runs every key again. Limits
scale with the parallelism: the attempt's memory limit is
``memory x min(maxParallel, keys)`` and it is admitted with
``cpu x min(maxParallel, keys)``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from flowyard.domain.flows import RunMode
from flowyard.errors import InvalidParameterError

KEY_ENV = "FLOWYARD_DISTRIBUTION_KEY"

RUNNER = """\
import json, os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
spec = json.loads({spec!r})
def run(key):
    argv = [sys.executable, "-c", spec["command"]] if spec["python"] else ["bash", "-c", spec["command"]]
    env = dict(os.environ, {key_env}=key)
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return key, done.returncode, done.stdout.decode("utf-8", "replace")
failed = []
with ThreadPoolExecutor(max_workers=spec["parallel"]) as pool:
    for key, code, output in pool.map(run, spec["keys"]):
        ok = code in spec["success"]
        print(f"--- key {{key}}: exit {{code}}{{'' if ok else ' (failed)'}}")
        print(output, end="" if output.endswith("\\n") or not output else "\\n")
        if not ok:
            failed.append(key)
print(f"--- {{len(spec['keys']) - len(failed)}} of {{len(spec['keys'])}} sub-tasks succeeded")
sys.exit(1 if failed else 0)
"""


def distribution_keys(mode: RunMode) -> list[str]:
    """The keys of a multiple-task run.

    Raises InvalidParameterError when there are none or the key file cannot be read.
    """
    if mode.key_type == 1:
        try:
            text = Path(mode.path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidParameterError(
                f"cannot read the distribution keys at {mode.path}: {exc.strerror}"
            ) from None
        parts = text.splitlines()
    else:
        parts = re.split(r"[\n,]", mode.content)
    keys = [part.strip() for part in parts if part.strip()]
    if not keys:
        raise InvalidParameterError("multiple-task mode found no distribution keys")
    return keys


def parallelism(mode: RunMode, keys: list[str]) -> int:
    return max(1, min(mode.max_parallel, len(keys)))


def runner_code(
    command: str, *, python: bool, keys: list[str], parallel: int, success: frozenset[int]
) -> str:
    """The Python program an attempt of a multiple-task run executes."""
    spec = json.dumps(
        {"command": command, "python": python, "keys": keys, "parallel": parallel, "success": sorted(success)}
    )
    return RUNNER.format(spec=spec, key_env=KEY_ENV)
