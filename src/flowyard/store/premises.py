"""Cross-flow premises (``flowLinks``/``taskLinks``): which of a scheduled instance's premises are unmet?

How cycles line up (README, "Dependencies between flows"): an instance waits
until the upstream flow has a SUCCESS instance with the **same business date**
(``calDt``), or, for a task premise, until that task succeeded in such an
instance. A daily flow after an hourly one therefore waits for any hourly run
of the same business day to succeed. Only scheduled instances wait; a manual
trigger runs at once (the person triggering it decides).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowyard.domain.instances import InstanceRecord
from flowyard.domain.states import Status
from flowyard.store import models as m

__all__ = ["unmet_premises"]


def unmet_premises(session: Session, record: InstanceRecord) -> tuple[str, ...]:
    """Descriptions of the premises of ``record`` not met yet; empty when it may run."""
    flow = record.flow()
    unmet: list[str] = []
    for link in flow.links:
        query = select(m.FlowInstance.id).where(
            m.FlowInstance.flow_id == link.upstream_flow_id,
            m.FlowInstance.cal_dt == record.cal_dt,
        )
        if link.upstream_task_id is None:
            query = query.where(m.FlowInstance.status == int(Status.SUCCESS))
            what = f"flow {link.upstream_flow_name} ({link.upstream_flow_id})"
        else:
            query = query.join(m.TaskInstance, m.TaskInstance.flow_instance_id == m.FlowInstance.id).where(
                m.TaskInstance.task_id == link.upstream_task_id,
                m.TaskInstance.status == int(Status.SUCCESS),
            )
            what = (
                f"task {link.upstream_task_name} ({link.upstream_task_id}) of flow {link.upstream_flow_name}"
            )
        if session.execute(query.limit(1)).first() is None:
            unmet.append(f"{what} for business date {record.cal_dt.isoformat()}")
    return tuple(unmet)
