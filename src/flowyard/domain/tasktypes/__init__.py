"""Task types: one module per type, each registering itself with :mod:`.registry`.

========================  ======  ========  =========================================
type (EnOS ``type``)      export  instance  runs
========================  ======  ========  =========================================
SHELL (alias COMMAND)     3       3         ``bash -c cmd``
PYTHON                    -       8         ``cmd`` as Python source (``task.py``)
VIRTUAL                   -       3         nothing; succeeds at once
DATA_INTEGRATION          0       7         ``bash -c cmd`` (no sync engine yet)
EXTERNAL_APP              -       9         ``bash -c cmd``
WORMHOLE, CALCULATE,      1, 2,   3         ``bash -c cmd`` (legacy EnOS types)
CANAAN, HIVE, MR          4-6
========================  ======  ========  =========================================

FlowSpec nodes Flowyard cannot run import as SHELL tasks that fail saying why
(:mod:`.unrunnable`).
"""

from __future__ import annotations

from flowyard.domain.tasktypes import (  # noqa: F401 - importing a type module registers it
    data_integration,
    external_app,
    legacy,
    python,
    shell,
    virtual,
)
from flowyard.domain.tasktypes.registry import (
    Program,
    TaskType,
    by_export_number,
    export_numbers,
    for_flowspec_command,
    known_names,
    lookup,
    of,
    of_name,
    register,
)
from flowyard.domain.tasktypes.unrunnable import unrunnable_command

__all__ = [
    "Program",
    "TaskType",
    "by_export_number",
    "export_numbers",
    "for_flowspec_command",
    "known_names",
    "lookup",
    "of",
    "of_name",
    "register",
    "unrunnable_command",
]
