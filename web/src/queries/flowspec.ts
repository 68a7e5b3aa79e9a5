// FlowSpec (DataWorks) import and export through the DataWorks face, with the session.
import { dataWorks, type Session } from "../api/client";

export interface JobStatus {
  JobId: string;
  Status: string;
  Progress: number;
  Completed: string;
  Error: string;
  Response: string;
}

/** Is this file's text a FlowSpec document (YAML, or JSON with kind and spec) rather than an EnOS one? */
export function isFlowSpec(fileName: string, text: string): boolean {
  if (/\.ya?ml$/i.test(fileName)) return true;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return "kind" in parsed && "spec" in parsed;
  } catch {
    return /^\s*(version|kind|spec)\s*:/m.test(text);
  }
}

export async function submitFlowSpec(session: Session, spec: string): Promise<string> {
  const answer = await dataWorks<{ AsyncJob: { Id: string } }>(session, "ImportWorkflowDefinition", { Spec: spec });
  return answer.AsyncJob.Id;
}

export async function jobStatus(session: Session, jobId: string): Promise<JobStatus> {
  const answer = await dataWorks<{ JobStatus: JobStatus }>(session, "GetJobStatus", { JobId: jobId });
  return answer.JobStatus;
}

export async function exportFlowSpec(session: Session, flowId: number): Promise<string> {
  const answer = await dataWorks<{ WorkflowDefinition: { Spec: string } }>(session, "GetWorkflowDefinition", {
    Id: String(flowId),
  });
  return answer.WorkflowDefinition.Spec;
}
