"""The legacy types of the EnOS export table (1 WORMHOLE, 2 CALCULATE, 4 CANAAN, 5 HIVE, 6 MR).

They are accepted and round-tripped as EnOS stores them, and run their ``cmd`` with bash.
"""

from __future__ import annotations

from flowyard.domain.tasktypes.registry import TaskType, register

LEGACY = tuple(
    TaskType(name=name, instance_number=3, export_number=number)
    for number, name in ((1, "WORMHOLE"), (2, "CALCULATE"), (4, "CANAAN"), (5, "HIVE"), (6, "MR"))
)
for legacy_type in LEGACY:
    register(legacy_type)
