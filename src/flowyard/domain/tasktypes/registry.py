"""The task-type registry: the one place that knows what a task type is and does.

A :class:`TaskType` declares its wire names (the EnOS ``type`` string and
aliases), its numbers (the 0-6 of the EnOS export table, the ``type`` of a
task instance), how its definition is validated, how it becomes a process,
and how it maps to and from FlowSpec node commands. Validation, the attempt
builder, the API codecs and the FlowSpec converters ask the registry; adding
a type is one new module that calls :func:`register`, plus its tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flowyard.domain.attempts import TaskKind
from flowyard.domain.flows import TaskDefinition


@dataclass(frozen=True, slots=True)
class Program:
    """How one attempt of a task runs: the executor's kind of process and what it runs."""

    kind: TaskKind
    source: str  # the bash command (SHELL), the Python source (PYTHON), "" (NOOP)


def _no_checks(task: TaskDefinition, where: str) -> None:
    return None


def _shell(task: TaskDefinition, command: str) -> Program:
    return Program(TaskKind.SHELL, command)


@dataclass(frozen=True, slots=True)
class TaskType:
    """One task type. ``name`` is the canonical EnOS ``type`` string; lookups ignore case.

    ``validate(task, where)`` raises InvalidParameterError (62102) naming ``where``; ``program``
    turns a definition and its command after parameter substitution into what runs.
    ``flowspec_commands`` are the node commands that import as this type, ``flowspec_command``
    the one it exports as (None: it has none and exports as a shell node).
    """

    name: str
    instance_number: int  # TaskInstance.type (spec section 6 item 1)
    aliases: tuple[str, ...] = ()
    export_number: int | None = None  # the number of the export table, accepted on import
    flowspec_commands: frozenset[str] = frozenset()
    flowspec_command: str | None = None
    empty_command: str = ""  # the ``cmd`` of a task imported from a node without script content
    validate: Callable[[TaskDefinition, str], None] = field(default=_no_checks)
    program: Callable[[TaskDefinition, str], Program] = field(default=_shell)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


_BY_NAME: dict[str, TaskType] = {}
_BY_NUMBER: dict[int, TaskType] = {}
_BY_COMMAND: dict[str, TaskType] = {}


def register(task_type: TaskType) -> Callable[[], None]:
    """Add ``task_type``; returns the function that removes it again (for tests)."""
    for name in task_type.names:
        if name.upper() in _BY_NAME:
            raise ValueError(f"task type name {name} is registered twice")
    if task_type.export_number is not None and task_type.export_number in _BY_NUMBER:
        raise ValueError(f"task type number {task_type.export_number} is registered twice")
    for name in task_type.names:
        _BY_NAME[name.upper()] = task_type
    if task_type.export_number is not None:
        _BY_NUMBER[task_type.export_number] = task_type
    for command in task_type.flowspec_commands:
        _BY_COMMAND[command.upper()] = task_type

    def unregister() -> None:
        for name in task_type.names:
            _BY_NAME.pop(name.upper(), None)
        if task_type.export_number is not None:
            _BY_NUMBER.pop(task_type.export_number, None)
        for command in task_type.flowspec_commands:
            _BY_COMMAND.pop(command.upper(), None)

    return unregister


def lookup(name: str) -> TaskType | None:
    """The type a task's ``type`` string names (any case, aliases included), or None."""
    return _BY_NAME.get(name.strip().upper())


def of(task: TaskDefinition) -> TaskType:
    """The type of a stored (validated) task; an unknown one runs as a shell command."""
    return of_name(task.type)


def of_name(name: str) -> TaskType:
    """The type ``name`` names, or SHELL when it names none (a type since unregistered)."""
    return lookup(name) or _BY_NAME["SHELL"]


def by_export_number(number: int) -> TaskType | None:
    return _BY_NUMBER.get(number)


def export_numbers() -> dict[int, str]:
    return {number: t.name for number, t in sorted(_BY_NUMBER.items())}


def known_names() -> list[str]:
    return sorted(_BY_NAME)


def for_flowspec_command(command: str) -> TaskType | None:
    """The type a FlowSpec node command imports as, or None when Flowyard cannot run it."""
    return _BY_COMMAND.get(command.strip().upper())
