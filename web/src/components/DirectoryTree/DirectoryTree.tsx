import type { DirNode } from "../../api/types";

interface Props {
  tree: DirNode[];
  selected: string | null;
  onSelect: (key: string) => void;
}

function Branch({ node, selected, onSelect }: { node: DirNode } & Omit<Props, "tree">) {
  const dirs = (node.children ?? []).filter((child) => child.isDirectory);
  const flows = (node.children ?? []).length - dirs.length;
  return (
    <li role="treeitem" aria-selected={node.key === selected} aria-expanded={dirs.length > 0 || undefined}>
      <button
        type="button"
        className={node.key === selected ? "dir selected" : "dir"}
        onClick={() => onSelect(node.key)}
      >
        {node.title} <span className="count">({flows})</span>
      </button>
      {dirs.length > 0 && (
        <ul role="group">
          {dirs.map((child) => (
            <Branch key={child.key} node={child} selected={selected} onSelect={onSelect} />
          ))}
        </ul>
      )}
    </li>
  );
}

/** The workflow directory tree of List Workflow Directories; flows are counted, not listed. */
export function DirectoryTree({ tree, selected, onSelect }: Props) {
  return (
    <ul role="tree" className="tree" aria-label="directories">
      {tree
        .filter((node) => node.isDirectory)
        .map((node) => (
          <Branch key={node.key} node={node} selected={selected} onSelect={onSelect} />
        ))}
    </ul>
  );
}
