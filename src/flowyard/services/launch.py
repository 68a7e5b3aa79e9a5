"""Turning a READY task instance into an executor :class:`AttemptSpec`: command, parameters, log header.

Parameters are substituted into the task's ``cmd``; what then runs is the task
type's business (:mod:`flowyard.domain.tasktypes`): bash for SHELL and most
types, the Python interpreter for PYTHON, nothing for VIRTUAL.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

from flowyard.domain import tasktypes
from flowyard.domain.attempts import AttemptSpec, TaskKind
from flowyard.domain.dwparams import evaluate_expression, is_expression
from flowyard.domain.flows import TaskDefinition
from flowyard.domain.instances import InstanceRecord, TaskInstanceRecord
from flowyard.domain.parameters import RunContext, environment, resolve_parameters, substitute
from flowyard.services.fanout import distribution_keys, parallelism, runner_code
from flowyard.timezones import log_time

RULE = "=" * 72


def log_header(
    run_num: int, task_instance_id: str, cmdline: str, submitter: str, at: datetime, zone: tzinfo
) -> str:
    """The header of spec 3.12, written before each attempt's output."""
    return (
        f"{RULE}\nrun  num:\t{run_num}\ninstance:\t{task_instance_id}\ncmdline:\t{cmdline}\n"
        f"submitter:\t{submitter}\ncurrent time:\t{log_time(at, zone)}\n{RULE}\n"
    )


def success_codes(text: str) -> frozenset[int]:
    codes = frozenset(int(part) for part in text.split(",") if part.strip())
    return codes or frozenset({0})


def build_attempt(
    instance: InstanceRecord,
    task: TaskInstanceRecord,
    definition: TaskDefinition,
    *,
    run_num: int,
    zone: tzinfo,
    now: datetime,
    log_path: Path,
    work_root: Path,
) -> tuple[AttemptSpec, str]:
    """The attempt to run, and the command as the user wrote it after substitution (for display).

    Raises InvalidParameterError (an unknown ``${...}``, say) when the command cannot be built.
    """
    ctx = RunContext(
        trigger_at=instance.trigger_at,
        zone=zone,
        task_id=task.task_id,
        instance_id=instance.id,
        task_instance_id=task.id,
    )
    # A value that is a DataWorks scheduling-parameter expression ($bizdate, $[yyyymmdd-1], ...) is
    # evaluated first, from the same trigger time, so FlowSpec workflows and EnOS flows share one path.
    params = [
        (p.key, evaluate_expression(p.value, ctx) if is_expression(p.value) else p.value)
        for p in instance.parameters
    ]
    values = resolve_parameters(params, ctx)
    command = substitute(definition.cmd, values, ctx)
    attempt_id = f"{task.id}#{run_num}"
    env = environment(values, ctx)
    env["FLOWYARD_ATTEMPT_ID"] = attempt_id
    mode = definition.run_mode
    program = tasktypes.of(definition).program(definition, command)
    kind, source, scale = program.kind, program.source, 1
    codes = success_codes(definition.success_code)
    if mode.task_mode == 2 and kind is not TaskKind.NOOP:  # one sub-task per key, run by a runner
        keys = distribution_keys(mode)
        scale = parallelism(mode, keys)
        source = runner_code(source, python=kind == TaskKind.PYTHON, keys=keys, parallel=scale, success=codes)
        kind, codes = TaskKind.PYTHON, frozenset({0})
    spec = AttemptSpec(
        attempt_id=attempt_id,
        task_instance_id=task.id,
        run_num=run_num,
        kind=kind,
        command=source,
        env=env,
        workdir=work_root / instance.id / f"{task.id}-{run_num}",
        log_path=log_path,
        log_header=log_header(run_num, task.id, command, definition.submitter, now, zone),
        timeout_seconds=definition.timeout,
        memory_limit_mb=int(mode.memory * 1024 * scale),
        cpu=mode.cpu * scale,
        success_codes=codes,
        queue=definition.resource or "default",
    )
    return spec, command
