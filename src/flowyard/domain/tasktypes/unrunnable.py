"""FlowSpec nodes Flowyard cannot run (``ODPS_SQL``, controllers, ...): what they import as.

The node stays intact in the stored FlowSpec document; its task is a shell task
that fails at once, saying why, so a run never pretends to have done the work.
"""

from __future__ import annotations

from flowyard.domain.tasktypes.shell import SHELL


def unrunnable_command(label: str) -> str:
    """The command of a task made from a node whose command Flowyard cannot run."""
    return f'echo "Flowyard cannot run DataWorks command {label}" >&2; exit 1'


IMPORTS_AS = SHELL  # the task type such a node becomes
