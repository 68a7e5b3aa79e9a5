"""The one error type of the FlowSpec layer.

``FlowSpecError`` is an :class:`~flowyard.errors.InvalidParameterError` (EnOS code 62102): a FlowSpec
document is caller input, so every problem with one is a parameter problem. The message always names
the JSON path of the offending value (``$`` is the document root, e.g. ``$.spec.workflows[0].nodes``),
so a caller can find it without a debugger.
"""

from __future__ import annotations

from flowyard.errors import InvalidParameterError

__all__ = ["FlowSpecError", "join_path"]


class FlowSpecError(InvalidParameterError):
    """A FlowSpec document is malformed, unsupported or inconsistent.

    ``path`` is the JSON path of the problem (``$`` for the whole document); ``problem`` is the message
    without the path. ``str(error)`` is ``"FlowSpec <path>: <problem>"``.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"FlowSpec {path}: {problem}")


def join_path(path: str, key: str | int) -> str:
    """The JSON path of ``key`` below ``path`` (``$.a`` + ``0`` → ``$.a[0]``; odd keys are quoted)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.replace("_", "").isalnum() and key[:1].isalpha():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"
