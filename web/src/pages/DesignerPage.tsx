import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  addEdge,
  useEdgesState,
  useNodesState,
  useReactFlow,
  type Connection,
  type Edge,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError, type Session } from "../api/client";
import type { FlowDefinition, FlowDetail, TaskDefinition } from "../api/types";
import { FlowPanel } from "../components/FlowDesigner/FlowPanel";
import { autoLayout, needsLayout } from "../components/FlowDesigner/layout";
import {
  errorTarget,
  flowFields,
  freshName,
  freshNodeId,
  newTask,
  saveBody,
  toCanvas,
  wouldCycle,
  type DesignNode,
  type FlowFields,
} from "../components/FlowDesigner/model";
import { NODE_TYPES } from "../components/FlowDesigner/nodes";
import { PremiseDialog } from "../components/FlowDesigner/PremiseDialog";
import { TaskPanel } from "../components/FlowDesigner/TaskPanel";
import { TriggerDialog } from "../components/Trigger/TriggerDialog";
import { useI18n } from "../i18n";
import { exportFlow, getFlow, parseGraph, saveFlow } from "../queries/flows";
import { useQuery } from "../queries/useQuery";
import { navigate, setNavigationGuard } from "../router";

interface Props {
  session: Session;
  flowId: number;
  zone: string;
}

interface Loaded {
  detail: FlowDetail;
  definition: FlowDefinition;
  nodes: DesignNode[];
  edges: Edge[];
}

async function load(session: Session, flowId: number): Promise<Loaded> {
  const [detail, definition] = await Promise.all([getFlow(session, flowId), exportFlow(session, flowId)]);
  const { nodes, edges } = toCanvas(parseGraph(detail), definition);
  return { detail, definition, nodes: needsLayout(nodes) ? autoLayout(nodes, edges) : nodes, edges };
}

export function DesignerPage(props: Props) {
  const { t } = useI18n();
  const loaded = useQuery(() => load(props.session, props.flowId), `${props.session.orgId}/${props.flowId}`);
  // Kept here, not in the designer: "Saved" must outlive the remount that follows a save.
  const [status, setStatus] = useState<string | null>(null);
  if (loaded.error) {
    const missing = loaded.error instanceof ApiError && [62101, 62102, 62103].includes(loaded.error.code);
    return (
      <p role="alert" className="error">
        {missing ? t("designer.notFound") : t("common.error", { message: loaded.error.message })}
      </p>
    );
  }
  if (!loaded.data) return <p>{t("common.loading")}</p>;
  return (
    <ReactFlowProvider>
      {/* Remounted on every load, so saved tasks take their new ids from the server. */}
      <Designer
        key={loaded.loads}
        {...props}
        loaded={loaded.data}
        reload={loaded.reload}
        status={status}
        setStatus={setStatus}
      />
    </ReactFlowProvider>
  );
}

interface DesignerProps extends Props {
  loaded: Loaded;
  reload: () => void;
  status: string | null;
  setStatus: (status: string | null) => void;
}

function Designer({ session, flowId, zone, loaded, reload, status, setStatus }: DesignerProps) {
  const { t } = useI18n();
  const { fitView } = useReactFlow();
  const [nodes, setNodes, onNodesChange] = useNodesState<DesignNode>(loaded.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>(loaded.edges);
  const [fields, setFields] = useState<FlowFields>(() => flowFields(loaded.detail, loaded.definition));
  const [selected, setSelected] = useState<string | null>(null);
  const [dirty, setDirty] = useState(false);
  const [flowErrors, setFlowErrors] = useState<Record<string, string>>({});
  const [taskErrors, setTaskErrors] = useState<Record<string, Record<string, string>>>({});
  const [triggering, setTriggering] = useState(false);
  const [addingPremise, setAddingPremise] = useState(false);
  const detail = loaded.detail;
  const readOnly = !detail.hasEditPri || detail.isUserLocked || detail.locked;

  useEffect(() => {
    if (!dirty) {
      setNavigationGuard(null);
      return;
    }
    const guard = () => window.confirm(t("designer.leave"));
    setNavigationGuard(guard);
    const beforeUnload = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", beforeUnload);
    return () => {
      setNavigationGuard(null);
      window.removeEventListener("beforeunload", beforeUnload);
    };
  }, [dirty, t]);

  const changed = useCallback(() => {
    setDirty(true);
    setStatus(null);
  }, [setStatus]);

  const onConnect = useCallback(
    (connection: Connection) => {
      if (!connection.source || !connection.target) return;
      if (connection.target.startsWith("f_")) return; // premises only feed tasks
      if (wouldCycle(edges, connection.source, connection.target)) return;
      setEdges((current) =>
        addEdge(
          { ...connection, id: `${connection.source}->${connection.target}`, data: { rerun: true, cycleGap: "" } },
          current,
        ),
      );
      changed();
    },
    [edges, setEdges, changed],
  );

  const addTask = () => {
    const id = freshNodeId(nodes);
    const name = freshName(nodes);
    const right = nodes.reduce((max, n) => Math.max(max, n.position.x), 0);
    setNodes((current) => [
      ...current.map((n) => ({ ...n, selected: false })),
      {
        id,
        type: "task",
        position: { x: current.length ? right + 220 : 40, y: 40 },
        selected: true,
        data: { kind: "task", taskId: null, task: newTask(name), error: false },
      },
    ]);
    setSelected(id);
    changed();
  };

  const updateTask = (id: string, task: TaskDefinition) => {
    setNodes((current) =>
      current.map((n) => (n.id === id && n.data.kind === "task" ? { ...n, data: { ...n.data, task } } : n)),
    );
    changed();
  };

  const deleteNode = (id: string) => {
    setNodes((current) => current.filter((n) => n.id !== id));
    setEdges((current) => current.filter((e) => e.source !== id && e.target !== id));
    setSelected(null);
    changed();
  };

  const layout = () => {
    setNodes((current) => autoLayout(current, edges));
    changed();
    window.requestAnimationFrame(() => void fitView({ maxZoom: 1 }));
  };

  const save = async () => {
    setFlowErrors({});
    setTaskErrors({});
    setStatus(null);
    try {
      await saveFlow(session, saveBody(flowId, fields, nodes, edges));
      setDirty(false);
      setNavigationGuard(null);
      setStatus(t("designer.saved"));
      reload();
    } catch (caught) {
      const message = caught instanceof Error ? caught.message : String(caught);
      // Flow rules name no field for the cron ("Workflow validation failed: invalid cron: ...").
      const target =
        errorTarget(caught instanceof ApiError ? caught.field : null) ??
        (/invalid cron/i.test(message) ? { scope: "flow" as const, name: "freq" } : null);
      const taskNodes = nodes.filter((n) => n.data.kind === "task");
      if (target?.scope === "task") {
        const node = taskNodes[target.index];
        if (node) {
          setTaskErrors({ [node.id]: { [target.name]: message } });
          setSelected(node.id);
        }
      } else if (target?.scope === "flow") {
        setFlowErrors({ [target.name === "cron" ? "freq" : target.name]: message });
        setSelected(null);
      }
      setStatus(message);
    }
  };

  const selectedNode = nodes.find((n) => n.id === selected);
  const tasks = useMemo(
    () =>
      loaded.nodes.flatMap((n) =>
        n.data.kind === "task" && n.data.taskId ? [{ taskId: n.data.taskId, name: n.data.task.name }] : [],
      ),
    [loaded.nodes],
  );

  return (
    <div className="designer">
      <div className="toolbar">
        <button type="button" onClick={() => navigate({ page: "flows", dir: null })}>
          ← {t("designer.back")}
        </button>
        <h1>{fields.name}</h1>
        {readOnly && <span className="badge off">{t("designer.readOnly")}</span>}
        {!readOnly && (
          <>
            <button type="button" onClick={addTask}>
              {t("designer.addTask")}
            </button>
            <button type="button" onClick={() => setAddingPremise(true)}>
              {t("designer.addPremise")}
            </button>
            <button type="button" onClick={layout}>
              {t("designer.layout")}
            </button>
            <button type="button" className="primary" onClick={save} disabled={!dirty}>
              {t("designer.save")}
            </button>
            <button type="button" onClick={() => setTriggering(true)} disabled={dirty}>
              {t("designer.trigger")}
            </button>
          </>
        )}
        {dirty && <span className="badge warn">{t("designer.unsaved")}</span>}
        {status && (
          <span role="status" className="status" data-testid="save-status">
            {status}
          </span>
        )}
      </div>
      <div className="designer-body">
        <div className="canvas" data-testid="canvas">
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            onNodesChange={onNodesChange}
            onEdgesChange={(changes) => {
              onEdgesChange(changes);
              if (changes.some((c) => c.type === "remove")) changed();
            }}
            onNodesDelete={(deleted) => {
              if (deleted.length) changed();
              setSelected(null);
            }}
            onConnect={onConnect}
            onNodeDragStop={() => changed()}
            onNodeClick={(_, node) => setSelected(node.id)}
            onPaneClick={() => setSelected(null)}
            nodesDraggable={!readOnly}
            nodesConnectable={!readOnly}
            elementsSelectable
            deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
            onlyRenderVisibleElements={nodes.length > 200}
            fitView
            fitViewOptions={{ maxZoom: 1 }}
            minZoom={0.05}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls showInteractive={false} />
            <MiniMap pannable zoomable ariaLabel="minimap" />
          </ReactFlow>
        </div>
        <aside className="side-panel" aria-label="properties">
          {selectedNode?.data.kind === "task" ? (
            <TaskPanel
              key={selectedNode.id}
              task={selectedNode.data.task}
              readOnly={readOnly}
              errors={taskErrors[selectedNode.id] ?? {}}
              onChange={(task) => updateTask(selectedNode.id, task)}
              onDelete={() => deleteNode(selectedNode.id)}
            />
          ) : selectedNode?.data.kind === "premise" ? (
            <div className="panel-fields">
              <h2>{t("designer.premise")}</h2>
              <p>{selectedNode.data.premise.flowName}</p>
              {!readOnly && (
                <button type="button" className="danger" onClick={() => deleteNode(selectedNode.id)}>
                  {t("designer.deletePremise")}
                </button>
              )}
            </div>
          ) : (
            <FlowPanel
              session={session}
              fields={fields}
              readOnly={readOnly}
              zone={zone}
              errors={flowErrors}
              onChange={(next) => {
                setFields(next);
                changed();
              }}
            />
          )}
        </aside>
      </div>
      {addingPremise && (
        <PremiseDialog
          session={session}
          flowId={flowId}
          onClose={() => setAddingPremise(false)}
          onAdd={(premise) => {
            setAddingPremise(false);
            if (nodes.some((n) => n.id === premise.nodeId)) return;
            setNodes((current) => [
              ...current,
              { id: premise.nodeId, type: "premise", position: { x: 0, y: 0 }, data: { kind: "premise", premise } },
            ]);
            changed();
          }}
        />
      )}
      {triggering && (
        <TriggerDialog
          session={session}
          flowId={flowId}
          flowName={fields.name}
          parameters={fields.parameters}
          tasks={tasks}
          zone={zone}
          onClose={() => setTriggering(false)}
          onStarted={(instanceId) => navigate({ page: "instance", instanceId })}
        />
      )}
    </div>
  );
}
