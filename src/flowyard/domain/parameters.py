"""``${name}`` substitution in task commands and parameter values (EnOS spec 1.6).

Syntax
------
* ``${name}`` is a reference. ``name`` is everything up to the next ``}`` on
  the same line, taken literally: ``${ cal_dt }`` (with spaces) is the unknown
  name `` cal_dt ``, and shell forms such as ``${VAR:-x}`` are references too.
* ``$${`` is an escape and stands for a literal ``${``: ``echo $${HOME}``
  becomes ``echo ${HOME}``, for the shell to expand. It is the only escape;
  a ``$$`` not followed by ``{`` (the shell's PID) is left alone, and ``$$${x}``
  reads as ``$`` + escape, i.e. the literal ``$${x}``.
* A ``${`` with no ``}`` before the end of its line is a syntax error
  (:class:`~flowyard.errors.InvalidParameterError`). Nesting (``${a${b}}``) is
  not supported: that is the unknown name ``a${b``.
* Substitution is one pass: inserted values are never scanned again.

Lookup order
------------
1. user parameters (so a parameter named ``task_id`` hides the system variable),
2. the fixed system variables of :func:`system_variables`,
3. the offset forms ``${cal_dt±n}``, ``${cal_dt8±n}``, ``${ncal_dt±n}`` and
   ``${ncal_dt8±n}``; EnOS documents only ``cal_dt-n`` / ``cal_dt8-n``, the
   rest is our extension (rules in :mod:`flowyard.domain.sysvars`).

Every name not found is collected; the call then fails with one
:class:`UnknownVariableError` listing all of them. Shell scripts must therefore
escape their own ``${...}`` as ``$${...}``; plain ``$VAR`` is untouched.

Errors (all under ``InvalidParameterError``, EnOS 62102)::

    InvalidParameterError        unterminated ${, empty key, NUL in an exported value
    ├── UnknownVariableError     names: every unknown ${name}
    └── ParameterCycleError      cycles: every reference cycle found
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from flowyard.domain.sysvars import RunContext, offset_variable, system_variables
from flowyard.errors import InvalidParameterError

__all__ = [
    "ENV_PREFIX",
    "ParameterCycleError",
    "RunContext",
    "UnknownVariableError",
    "environment",
    "resolve_parameters",
    "substitute",
    "system_variables",
]

#: Prefix of every environment variable Flowyard itself exports.
ENV_PREFIX = "FLOWYARD_"

# Alternatives, tried at each position in this order: the escape, a closed
# reference, an unterminated reference.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}\n]*)\}|\$\{")
_ESCAPE = "$${"
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_SHOWN_NAME_LENGTH = 40


def _show(name: str) -> str:
    if len(name) > _SHOWN_NAME_LENGTH:
        name = name[: _SHOWN_NAME_LENGTH - 3] + "..."
    return "${" + name + "}"


class UnknownVariableError(InvalidParameterError):
    """One or more ``${name}`` that are neither a parameter nor a system variable.

    ``names`` lists each unknown name once, in order of first appearance;
    ``where`` maps a name to the parameters whose values use it (empty for
    :func:`substitute`).
    """

    def __init__(self, names: Sequence[str], where: Mapping[str, Sequence[str]] | None = None) -> None:
        self.names = tuple(names)
        self.where = {name: tuple(keys) for name, keys in (where or {}).items()}
        shown = ", ".join(
            _show(name) + (f" (in parameter {', '.join(self.where[name])})" if name in self.where else "")
            for name in self.names
        )
        super().__init__(f"Unknown variable(s): {shown}; write $${{ for a literal ${{")


class ParameterCycleError(InvalidParameterError):
    """Parameters whose values reference each other in a loop.

    ``cycles`` holds each cycle found as a closed path ``(a, b, ..., a)``.
    """

    def __init__(self, cycles: Sequence[Sequence[str]]) -> None:
        self.cycles = tuple(tuple(cycle) for cycle in cycles)
        shown = "; ".join(" -> ".join(cycle) for cycle in self.cycles)
        super().__init__(f"Parameter reference cycle: {shown}")


class _SystemLookup:
    """System variables of one context, computed on first use."""

    __slots__ = ("_ctx", "_fixed")

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._fixed: dict[str, str] | None = None

    def get(self, name: str) -> str | None:
        if self._fixed is None:
            self._fixed = system_variables(self._ctx)
        value = self._fixed.get(name)
        return value if value is not None else offset_variable(name, self._ctx)


def _unterminated(where: str, offset: int) -> InvalidParameterError:
    return InvalidParameterError(f"Unterminated '${{' at character {offset} of {where} (no '}}' on its line)")


def _expand(text: str, values: Mapping[str, str], system: _SystemLookup, where: str) -> str:
    if "${" not in text:
        return text
    unknown: list[str] = []
    unterminated: list[int] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == _ESCAPE:
            return "${"
        name = match.group(1)
        if name is None:
            unterminated.append(match.start())
            return token
        value = values.get(name)
        if value is None:
            value = system.get(name)
        if value is None:
            if name not in unknown:
                unknown.append(name)
            return token
        return value

    result = _TOKEN.sub(replace, text)
    if unterminated:
        raise _unterminated(where, unterminated[0])
    if unknown:
        raise UnknownVariableError(unknown)
    return result


def substitute(text: str, values: Mapping[str, str], ctx: RunContext) -> str:
    """``text`` with every ``${name}`` replaced and every ``$${`` turned into ``${``.

    ``values`` are normally the output of :func:`resolve_parameters`; they are
    inserted verbatim. Raises :class:`UnknownVariableError` listing every
    unknown name, or ``InvalidParameterError`` for an unterminated ``${``. Text
    without ``${`` is returned as is, without regex work or date arithmetic.
    """
    return _expand(text, values, _SystemLookup(ctx), "the text")


def resolve_parameters(params: Sequence[tuple[str, str]], ctx: RunContext) -> dict[str, str]:
    """The parameters with the ``${...}`` in their values expanded, keyed in first-appearance order.

    * A value may reference system variables and other parameters, which are
      resolved first, to any depth. Names resolve as in :func:`substitute`, so
      ``a=${a}`` is a cycle rather than a reference to a system variable ``a``.
    * A repeated key takes its last value (pass flow parameters, then task
      parameters, to let the task override the flow).
    * Every value is resolved, used or not: an empty key or an unterminated
      ``${`` raises ``InvalidParameterError``; then all unknown names are
      reported in one :class:`UnknownVariableError`; then all cycles in one
      :class:`ParameterCycleError`.
    """
    final: dict[str, str] = {}
    for key, value in params:
        if not key:
            raise InvalidParameterError("Parameter key cannot be empty")
        final[key] = value
    system = _SystemLookup(ctx)
    depends: dict[str, list[str]] = {}
    unknown: dict[str, list[str]] = {}
    for key, value in final.items():
        refs: dict[str, None] = {}
        if "${" in value:
            for match in _TOKEN.finditer(value):
                if match.group(0) == _ESCAPE:
                    continue
                name = match.group(1)
                if name is None:
                    raise _unterminated(f"parameter {key!r}", match.start())
                if name in final:
                    refs[name] = None
                elif system.get(name) is None:
                    users = unknown.setdefault(name, [])
                    if key not in users:
                        users.append(key)
        depends[key] = list(refs)
    if unknown:
        raise UnknownVariableError(list(unknown), unknown)
    resolved: dict[str, str] = {}
    for key in _dependencies_first(depends):
        resolved[key] = _expand(final[key], resolved, system, f"parameter {key!r}")
    return {key: resolved[key] for key in final}


def _dependencies_first(depends: Mapping[str, Sequence[str]]) -> list[str]:
    """Keys ordered so each comes after everything it depends on; raises on cycles.

    Iterative depth-first search (a long chain of parameters cannot exhaust the
    stack); each back edge found is reported as one cycle.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(depends, white)
    order: list[str] = []
    cycles: list[list[str]] = []
    for root in depends:
        if colour[root] != white:
            continue
        colour[root] = grey
        path = [root]
        stack = [iter(depends[root])]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                done = path.pop()
                colour[done] = black
                order.append(done)
                stack.pop()
            elif colour[child] == grey:
                cycles.append([*path[path.index(child) :], child])
            elif colour[child] == white:
                colour[child] = grey
                path.append(child)
                stack.append(iter(depends[child]))
    if cycles:
        raise ParameterCycleError(cycles)
    return order


def _env_name(variable: str) -> str:
    return ENV_PREFIX + _NOT_ALNUM.sub("_", variable).upper()


def environment(values: Mapping[str, str], ctx: RunContext) -> dict[str, str]:
    """The environment variables a task process gets for these parameters.

    The exact rule:

    * every system variable ``v`` as ``FLOWYARD_`` + ``v`` upper-cased with each
      character outside ``[A-Za-z0-9]`` replaced by ``_``: ``FLOWYARD_CAL_DT``,
      ``FLOWYARD_30DAYS_CAL_DT``, ``FLOWYARD_ENV_APP_ID``. These are always the
      system values, even when a user parameter of the same name hides the
      variable in ``${...}``;
    * ``FLOWYARD_TRIGGER_TIME``: the trigger time in the server zone as ISO 8601
      with offset and whole seconds, e.g. ``2017-05-27T13:50:00+08:00``;
    * ``FLOWYARD_TASK_INSTANCE_ID``: ``ctx.task_instance_id``;
    * every user parameter whose key is an ASCII shell identifier
      (``[A-Za-z_][A-Za-z0-9_]*``) and does not start with the reserved
      ``FLOWYARD_``, under its own key with its value as is. Other keys
      (``env.X``, ``my-key``, ``30days``) are not exported but stay usable
      as ``${...}``. Keys such as ``PATH`` are exported like any other; merging
      with the process environment is the caller's choice.

    ``values`` should be resolved (see :func:`resolve_parameters`). A value
    holding a NUL character cannot be passed to a process and raises
    ``InvalidParameterError``.
    """
    env = {_env_name(name): value for name, value in system_variables(ctx).items()}
    env[ENV_PREFIX + "TRIGGER_TIME"] = ctx.trigger_at.astimezone(ctx.zone).isoformat(timespec="seconds")
    env[ENV_PREFIX + "TASK_INSTANCE_ID"] = ctx.task_instance_id
    for key, value in values.items():
        if _SHELL_NAME.fullmatch(key) and not key.startswith(ENV_PREFIX):
            env[key] = value
    for key, value in env.items():
        if "\0" in value:
            raise InvalidParameterError(f"Environment variable {key!r} would contain a NUL character")
    return env
